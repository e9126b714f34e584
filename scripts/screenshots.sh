#!/usr/bin/env bash
# `make screenshots`: the finance cockpit as a user sees it, saved as PNG files in
# docs/screenshots/ (exception form, connector dashboard, guided backend set-up, and the
# project financials pivot with the demo PSA's engagements).
# Builds a scratch database with sample data, starts Odoo on it and photographs the
# screens with headless Chromium. SHOT_DB and SHOT_PORT choose the database and port;
# SHOT_REUSE=1 photographs an existing scratch database again without rebuilding it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv
ensure_postgres
ensure_chromium

DB=${SHOT_DB:-psa_screenshots}
PORT=${SHOT_PORT:-8079}
OUT=${SHOT_DIR:-$ROOT/docs/screenshots}
CONF=$RUN_DIR/screenshots.conf
write_odoo_conf "$CONF" "$DB" "workers = 0" "max_cron_threads = 0" \
  "http_port = $PORT" "gevent_port = $((PORT + 1))" "log_level = warn" \
  "logfile = $RUN_DIR/screenshots-odoo.log"

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die "port $PORT is already in use; set SHOT_PORT to a free one."
fi

mkdir -p "$OUT"
# The scratch database, Odoo on it and the photographs: scripts/screenshots.py (devtools).
cd "$ROOT"
PYTHONPATH=$ROOT "$VENV/bin/python" "$ROOT/scripts/screenshots.py" --odoo-src "$ODOO_SRC" \
  --conf "$CONF" --run-dir "$RUN_DIR" --addons "$SUITE_ADDONS" --port "$PORT" --db "$DB" \
  ${SHOT_REUSE:+--reuse} --chromium "$(chromium_binary)" --out "$OUT" \
  --ids "$RUN_DIR/screenshot-ids.json"
say "Screenshots in $OUT"
