"""`make bench`: end-to-end benchmark of the connector suite (see bench/run.py)."""
