#!/usr/bin/env bash
# `make test`: install the whole suite into a fresh database and run every test with
# pytest (pytest-odoo), ending with pytest's summary line. Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv
ensure_postgres
ensure_chromium

TEST_DB=${TEST_DB:-psa_test}
CONF=$RUN_DIR/test.conf
LOG=$RUN_DIR/test-install.log
write_odoo_conf "$CONF" "$TEST_DB" "workers = 0" "log_level = warn" \
  "http_port = ${TEST_HTTP_PORT:-8069}" "gevent_port = ${TEST_GEVENT_PORT:-8072}"

say "Creating a fresh test database $TEST_DB with the suite installed"
dropdb --if-exists "$TEST_DB" >/dev/null
rm -rf "$RUN_DIR/data/filestore/$TEST_DB"
start=$(date +%s)
if ! "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$CONF" -d "$TEST_DB" -i "$SUITE_ADDONS" \
    --without-demo=all --stop-after-init --log-level=warn >"$LOG" 2>&1; then
  tail -n 60 "$LOG" >&2
  die "installing the suite failed (full log: $LOG)"
fi
if grep -qE ' (ERROR|CRITICAL) ' "$LOG"; then
  grep -E ' (ERROR|CRITICAL) ' -A 15 "$LOG" | head -n 80 >&2
  die "the suite installed with errors (full log: $LOG)"
fi
say "Installed in $(( $(date +%s) - start ))s; running the tests"

cd "$ROOT"
set +e
"$VENV/bin/python" -m pytest --odoo-config="$CONF" --odoo-database="$TEST_DB" --odoo-http \
  -p no:cacheprovider "$@"
status=$?
set -e
exit $status
