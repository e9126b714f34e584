"""The harness scenarios, one module each with run(harness); harness/run.py lists them."""
