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

if [[ -n "${SHOT_REUSE:-}" && -s "$RUN_DIR/screenshot-ids.json" ]] \
    && psql -d postgres -Atqc "select 1 from pg_database where datname = '$DB'" | grep -q 1; then
  say "Reusing the scratch database $DB (SHOT_REUSE)"
else
  say "Creating the scratch database $DB with sample data"
  dropdb --if-exists "$DB" >/dev/null
  rm -rf "$RUN_DIR/data/filestore/$DB"
  "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$CONF" -d "$DB" \
    -i "$SUITE_ADDONS" --without-demo=all --stop-after-init
  (cd "$ROOT" && RUN_DIR=$RUN_DIR PYTHONPATH=$ROOT "$VENV/bin/python" "$ODOO_SRC/odoo-bin" shell \
    -c "$CONF" -d "$DB" --no-http --log-level=warn <"$ROOT/scripts/screenshot_data.py")
fi

say "Starting Odoo on port $PORT"
"$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$CONF" -d "$DB" &
ODOO_PID=$!
trap 'kill $ODOO_PID 2>/dev/null; wait $ODOO_PID 2>/dev/null' EXIT
for _ in $(seq 120); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/web/login" && break
  sleep 1
done

mkdir -p "$OUT"
"$VENV/bin/python" "$ROOT/scripts/screenshots.py" --url "http://127.0.0.1:$PORT" --db "$DB" \
  --chromium "$(chromium_binary)" --out "$OUT" --ids "$RUN_DIR/screenshot-ids.json"
say "Screenshots in $OUT"
