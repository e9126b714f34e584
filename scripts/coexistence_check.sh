#!/usr/bin/env bash
# Coexistence: run Odoo's own test suites of the standard modules the connector
# extends, once in a database WITHOUT the connector (the same standard modules the
# suite depends on) and once WITH the whole suite installed, and print the counts
# side by side, so a failure we cause is told apart from one Odoo already has.
#
#   bash scripts/coexistence_check.sh            # both runs
#   COEX_ONLY=suite bash scripts/coexistence_check.sh   # only the run with the suite
#   COEX_REUSE=1 ...   # test again in the databases of an earlier run (-u instead of -i)
#
# Both databases get demo data (Odoo's tests are written against it). Tests run
# on the installed database (no -i/-u while testing), so at_install and
# post_install tests both run, the latter with the connector's overrides loaded.
# CPU heavy (tours run in headless Chromium when it is installed): not part of
# .ci/run; run it on a quiet machine (COEX_NICE, default 10).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv
ensure_postgres

COEX_DB=${COEX_DB:-${TEST_DB:-psa_test}_coex}
COEX_TAGS=${COEX_TAGS:-/project,/hr_timesheet,/sale_timesheet,/hr_expense}
COEX_NICE=${COEX_NICE:-10}
# What the suite depends on outside itself: the baseline installs exactly these.
STANDARD=project,hr_timesheet,sale_timesheet,hr_expense,sale_expense,hr_holidays,hr_hourly_cost,project_timesheet_holidays,account,queue_job

run_case() {
  local name=$1 modules=$2 db="${COEX_DB}_$1"
  local conf=$RUN_DIR/coex-$name.conf log=$RUN_DIR/coex-$name.log
  write_odoo_conf "$conf" "$db" "workers = 0" "log_level = info" \
    "http_port = ${TEST_HTTP_PORT:-8069}" "gevent_port = ${TEST_GEVENT_PORT:-8072}"
  if [[ -n "${COEX_REUSE:-}" ]]; then
    # Keep the database of an earlier run; bring the suite's code up to date in it.
    say "[$name] reusing $db (upgrading the suite's addons present)"
    nice -n "$COEX_NICE" "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$conf" -d "$db" -u "$modules" \
      --stop-after-init --log-level=warn >"$RUN_DIR/coex-$name-install.log" 2>&1 \
      || die "[$name] upgrade failed (see $RUN_DIR/coex-$name-install.log)"
  else
    dropdb --if-exists "$db" >/dev/null
    rm -rf "$RUN_DIR/data/filestore/$db"
    say "[$name] installing $modules (with demo data) into $db"
    nice -n "$COEX_NICE" "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$conf" -d "$db" -i "$modules" \
      --stop-after-init --log-level=warn >"$RUN_DIR/coex-$name-install.log" 2>&1 \
      || die "[$name] install failed (see $RUN_DIR/coex-$name-install.log)"
  fi
  say "[$name] running $COEX_TAGS"
  nice -n "$COEX_NICE" "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$conf" -d "$db" \
    --test-tags "$COEX_TAGS" --stop-after-init --log-level=info >"$log" 2>&1 || true
  summarize "$name" "$log"
}

# The figures Odoo logs at the end of a test run: "N failed, M error(s) of T tests".
summarize() {
  local name=$1 log=$2 line failing
  line=$(grep -E 'odoo\.tests\.result: .*(tests? when loading|of [0-9]+ tests)' "$log" | tail -1 \
         | sed -E 's/.*odoo\.tests\.result: //' || true)
  [[ -n "$line" ]] || line=$(grep -E '[0-9]+ post-tests in' "$log" | tail -1 | sed -E 's/.*INFO [^ ]+ [^ ]+: //' || true)
  # Under pipefail an empty grep fails the pipeline and `set -e` would end the script
  # after a run with no failing test, before the second run and the summary.
  failing=$(grep -E ' (ERROR|CRITICAL) .*(FAIL|ERROR): ' "$log" | sed -E 's/.*(FAIL|ERROR): /\1: /' | sort -u || true)
  printf '%-9s %s; %s skipped\n' "$name" "${line:-no summary line (see $log)}" \
    "$(grep -c ' skipped ' "$log" || true)" | tee -a "$RUN_DIR/coex-summary.txt"
  [[ -z "$failing" ]] || printf '%s\n' "$failing" | sed 's/^/          /' | tee -a "$RUN_DIR/coex-summary.txt"
}

: >"$RUN_DIR/coex-summary.txt"
[[ "${COEX_ONLY:-}" == suite ]] || run_case baseline "$STANDARD"
[[ "${COEX_ONLY:-}" == baseline ]] || run_case suite "$STANDARD,$SUITE_ADDONS"
say "Summary ($RUN_DIR/coex-summary.txt):"
cat "$RUN_DIR/coex-summary.txt"
