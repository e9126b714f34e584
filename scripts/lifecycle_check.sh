#!/usr/bin/env bash
# Install → upgrade → uninstall check of the whole suite on a database with data:
#   1. install the suite's addons (-i) into a fresh database, no ERROR in the log;
#   2. seed it: pulls from the in-process demo PSA/HR/forecasting tool, utilisation;
#   3. upgrade them (-u), no ERROR; validate every active view;
#   4. uninstall each addon in reverse dependency order and check nothing it created
#      is left, then validate every remaining view (scripts/lifecycle_check.py).
# Honours RUN_DIR and TEST_DB (the database is ${TEST_DB}_life) like scripts/test.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv
ensure_postgres

DB=${TEST_DB:-psa_test}_life
CONF=$RUN_DIR/life.conf
# The version the upgrade starts from.
PREVIOUS_VERSION=${PREVIOUS_VERSION:-18.0.1.0.0}
write_odoo_conf "$CONF" "$DB" "workers = 0" "log_level = warn" "http_port = ${TEST_HTTP_PORT:-8069}"

odoo_step() {  # odoo_step NAME ARGS...: run odoo-bin, fail on a non-zero exit or an ERROR line
  local name=$1 log=$RUN_DIR/life-$1.log; shift
  local start; start=$(date +%s)
  if ! "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$CONF" -d "$DB" "$@" --stop-after-init \
      --log-level=warn >"$log" 2>&1; then
    tail -n 40 "$log" >&2; die "$name failed (log: $log)"
  fi
  if grep -qE ' (ERROR|CRITICAL) ' "$log"; then
    grep -E ' (ERROR|CRITICAL) ' -A 10 "$log" | head -n 60 >&2; die "$name logged errors (log: $log)"
  fi
  echo "ok   $name in $(( $(date +%s) - start ))s, no ERROR logged"
}

py_step() {
  (cd "$ROOT" && "$VENV/bin/python" scripts/lifecycle_check.py -c "$CONF" -d "$DB" "$1") \
    2>"$RUN_DIR/life-$1.log" || { tail -n 30 "$RUN_DIR/life-$1.log" >&2; die "lifecycle step $1 failed"; }
}

start=$(date +%s)
dropdb --if-exists "$DB" >/dev/null
rm -rf "$RUN_DIR/data/filestore/$DB"
say "Lifecycle check on $DB: install, seed, upgrade, uninstall"
odoo_step install -i "$SUITE_ADDONS" --without-demo=all
py_step seed
# Upgrade as from the previous release, so every migrations/<manifest version>/ script
# runs: Odoo runs one only from an older installed version.
psql -d "$DB" -qc "UPDATE ir_module_module SET latest_version = '$PREVIOUS_VERSION'
                   WHERE name = ANY(string_to_array('$SUITE_ADDONS', ','))"
odoo_step upgrade -u "$SUITE_ADDONS" --log-handler=odoo.modules.migration:INFO
for script in "$ROOT"/psa_connector_*/migrations/*/*-migration.py; do
  [[ -e "$script" ]] || continue
  addon=$(basename "$(dirname "$(dirname "$(dirname "$script")")")")
  phase=$(basename "$script" -migration.py)
  grep -qE "module $addon: Running migration \[[^]]*\] $phase-migration" "$RUN_DIR/life-upgrade.log" \
    || die "$addon: $(basename "$script") did not run on the upgrade from $PREVIOUS_VERSION"
done
echo "ok   every migration script ran on the upgrade from $PREVIOUS_VERSION"
py_step views
py_step uninstall
dropdb --if-exists "$DB" >/dev/null
rm -rf "$RUN_DIR/data/filestore/$DB"
say "Lifecycle check passed in $(( $(date +%s) - start ))s"
