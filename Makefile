.PHONY: run test bench harness screenshots

# Odoo 18 with the suite and the demo PSA on http://localhost:8069
run:
	@bash scripts/run.sh

# A fresh test database with the suite installed, then every test with pytest
test:
	@bash scripts/test.sh

# Throughput and latency of the real paths, printed as one table (not part of `make test`)
bench:
	@bash scripts/bench.sh

# Faults, duplicates, hostile input and access, checked against the invariants; one table
# (not part of `make test`; HARNESS_MODE=short for the quick run)
harness:
	@bash scripts/harness.sh

# The exception form, the connector dashboard and the backend set-up, as PNG files in
# docs/screenshots/ (scratch database, headless Chromium)
screenshots:
	@bash scripts/screenshots.sh
