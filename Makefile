.PHONY: run test bench harness screenshots lint wheels lifecycle coexistence

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

# pre-commit on every file: ruff, pylint-odoo, prettier-xml, README.rst, openapi.json
lint:
	@bash scripts/precommit.sh

# One wheel per addon (odoo-addon-psa_connector_*) into dist/, built with whool
wheels:
	@bash scripts/wheels.sh

# Install, seed, upgrade and uninstall each addon; no error, no orphan, no broken view
lifecycle:
	@bash scripts/lifecycle_check.sh

# Odoo's own project/hr_timesheet/sale_timesheet/hr_expense tests without and with the suite
coexistence:
	@bash scripts/coexistence_check.sh
