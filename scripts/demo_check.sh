#!/usr/bin/env bash
# The demo of `make run`, used as the README says, keeps a clean log.
#
# Starts `make run` (scripts/run.sh) on its own database and ports, waits for the first
# pulls, runs the README's walkthrough (every `python3 -m psa_simulator ...` line of
# "What `make run` shows", then *Create draft invoices* on the Demo PSA backend), waits
# until the jobs have applied it, opens pages through the proxy (with a websocket
# handshake on /websocket, and the web client in headless Chromium when one is
# installed), and fails on any ERROR/CRITICAL or Traceback line in Odoo's log, any
# Traceback in the demo PSA's log and any nginx error, and on any call of Odoo's IAP
# services (the demo runs offline). A wait that times out first prints what it saw
# (jobs, bindings, the exception queue, breakers, processes, log tails): CI keeps
# only the output. Stops everything it started.
#
# DEMO_CHECK_PORT (default 8169; the demo PSA on the next port), DEMO_CHECK_DB (default
# ${TEST_DB:-psa_test}_demo, dropped and created afresh) choose where it runs; its run
# directory is $RUN_DIR/demo-check. DEMO_CHECK_REUSE=1 checks the `make run` already
# running on HTTP_PORT (default 8069) instead, reading the lines its log gains.
# DEMO_CHECK_FIRST_PULL_TIMEOUT (seconds, default 300) bounds the wait for the first pulls.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv
ensure_postgres
start=$SECONDS

if [[ -n "${DEMO_CHECK_REUSE:-}" ]]; then
  PORT=${HTTP_PORT:-8069}
  SIM_PORT=${SIM_PORT:-8070}
  DB=${PSA_DB:-psa_demo}
  CHECK_DIR=$RUN_DIR
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || die "no 'make run' answers on port $PORT"
  LOG_OFFSET=$(stat -c %s "$CHECK_DIR/odoo.log" 2>/dev/null || echo 0)
  SIM_OFFSET=$(stat -c %s "$CHECK_DIR/simulator.log" 2>/dev/null || echo 0)
  NGINX_OFFSET=$(stat -c %s "$CHECK_DIR/nginx-error.log" 2>/dev/null || echo 0)
  say "Checking the running demo on http://127.0.0.1:$PORT (database $DB)"
else
  PORT=${DEMO_CHECK_PORT:-8169}
  SIM_PORT=$((PORT + 1))
  DB=${DEMO_CHECK_DB:-${TEST_DB:-psa_test}_demo}
  CHECK_DIR=$RUN_DIR/demo-check
  LOG_OFFSET=0 SIM_OFFSET=0 NGINX_OFFSET=0
  say "Starting 'make run' on port $PORT with a fresh database $DB (log: $CHECK_DIR/run.out)"
  dropdb --if-exists "$DB" >/dev/null
  rm -rf "$CHECK_DIR"
  mkdir -p "$CHECK_DIR"
  setsid env RUN_DIR="$CHECK_DIR" PSA_DB="$DB" HTTP_PORT="$PORT" SIM_PORT="$SIM_PORT" \
    PSA_CONNECTOR_KEY="${PSA_CONNECTOR_KEY:-}" bash "$ROOT/scripts/run.sh" >"$CHECK_DIR/run.out" 2>&1 &
  RUN_PID=$!
  stop_demo() {
    # run.sh's process group: bash, Odoo (and its workers), nginx, the demo PSA.
    kill -TERM -- "-$RUN_PID" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 -- "-$RUN_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$RUN_PID" 2>/dev/null || true
    if [[ -n "${KEEP_DB:-}" ]]; then return; fi
    dropdb --if-exists "$DB" >/dev/null 2>&1 || true
  }
  trap stop_demo EXIT
fi

CHROMIUM=$(chromium_binary || true)
status=0
(cd "$ROOT" && PYTHONPATH=$ROOT "$VENV/bin/python" "$ROOT/scripts/demo_check.py" "$ROOT" "$PORT" "$SIM_PORT" "$DB" \
    "$CHECK_DIR" "$LOG_OFFSET" "$SIM_OFFSET" "$NGINX_OFFSET" "$CHROMIUM" "${RUN_PID:-}") || status=$?
if [[ $status == 0 ]]; then
  say "demo check passed in $((SECONDS - start))s: the walkthrough ran and every log is clean"
else
  say "demo check FAILED after $((SECONDS - start))s (logs in $CHECK_DIR)"
fi
exit $status
