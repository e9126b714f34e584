#!/usr/bin/env bash
# `make bench`: a fresh database (psa_bench) with the suite, Odoo with 2 workers and the
# queue_job runner on :8369, the demo PSA in-process on :8370, then ingest, webhook and
# reconciliation measurements printed as one table (also in $RUN_DIR/results.txt).
# Not part of `make test`. Sizes: BENCH_SIZES=10000,50000 BENCH_RECON_SIZES=50000,100000.
export RUN_DIR=${RUN_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.run-bench}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv
ensure_postgres

BENCH_DB=${BENCH_DB:-psa_bench}
BENCH_HTTP_PORT=${BENCH_HTTP_PORT:-8369}
BENCH_SIM_PORT=${BENCH_SIM_PORT:-8370}
# Odoo's gevent (longpolling) port; BENCH_SIM_PORT=0 lets the simulator take a free port.
BENCH_GEVENT_PORT=${BENCH_GEVENT_PORT:-$((BENCH_HTTP_PORT + 3))}
CONF=$RUN_DIR/odoo-bench.conf

for port in "$BENCH_HTTP_PORT" "$BENCH_GEVENT_PORT" "$BENCH_SIM_PORT"; do
  [[ "$port" == 0 ]] && continue
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use (another 'make bench'?). Stop it, or set BENCH_HTTP_PORT / BENCH_SIM_PORT."
  fi
done

# Time entry lanes (README "Production topology"): BENCH_LANES=1 applies every chunk in
# the one channel root.psa.time_entry of capacity 1, as before lanes. More lanes than the
# 2 workers: the parent channel runs 2 of them at a time, whichever have chunks waiting.
export BENCH_LANES="${BENCH_LANES:-3}"
lane_channels="root.psa.time_entry:1"
if (( BENCH_LANES > 1 )); then
  lane_channels="root.psa.time_entry:$(( BENCH_LANES < 2 ? BENCH_LANES : 2 ))"
  for (( lane = 0; lane < BENCH_LANES; lane++ )); do
    lane_channels+=",root.psa.time_entry.lane$lane:1"
  done
fi
export BENCH_CHANNELS="${BENCH_CHANNELS:-root:2,$lane_channels}"

# The same server set-up as `make run`: 2 workers, queue_job server-wide, channel root:2.
write_odoo_conf "$CONF" "$BENCH_DB" \
  "http_port = $BENCH_HTTP_PORT" "gevent_port = $BENCH_GEVENT_PORT" \
  "workers = 2" "max_cron_threads = 1" "server_wide_modules = base,web,queue_job,psa_connector_base" \
  "logfile = $RUN_DIR/odoo-bench.log" "log_level = warn" \
  "" "[queue_job]" "channels = $BENCH_CHANNELS"

# Experiment switch (see the report): BENCH_NO_DBFILTER=1 drops the dbfilter line, so that
# Odoo takes the database from db_name instead of listing PostgreSQL's databases per request.
if [[ -n "${BENCH_NO_DBFILTER:-}" ]]; then sed -i '/^dbfilter = /d' "$CONF"; fi
# BENCH_DIRECT_ACCEPT=0 turns the fast intake's direct accept off (the before/after of the README).
if [[ "${BENCH_DIRECT_ACCEPT:-1}" == 0 ]]; then
  sed -i '/^\[queue_job\]/i psa_connector_webhook_direct_accept = False' "$CONF"
fi
# BENCH_FAST_INTAKE=0 turns the webhook fast intake off (the before/after of the README).
if [[ "${BENCH_FAST_INTAKE:-1}" == 0 ]]; then
  sed -i '/^\[queue_job\]/i psa_connector_webhook_fast_intake = False' "$CONF"
fi

# BENCH_BURST_RATE=0: the webhook drains queue bursts while they arrive (no hold-back).
export BENCH_DB BENCH_HTTP_PORT BENCH_SIM_PORT BENCH_CONF=$CONF BENCH_RUN_DIR=$RUN_DIR \
  ODOO_SRC VENV SUITE_ADDONS
cd "$ROOT"
exec "$VENV/bin/python" -m bench.run "$@"
