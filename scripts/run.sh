#!/usr/bin/env bash
# `make run`: Odoo 18 with the whole suite on http://localhost:8069, queue_job's runner
# active, and the demo PSA on http://127.0.0.1:8070 sending signed webhooks to it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv
ensure_postgres

DB=${PSA_DB:-psa_demo}
HTTP_PORT=${HTTP_PORT:-8069}
SIM_PORT=${SIM_PORT:-8070}
SIM_TOKEN=${SIM_TOKEN:-demo-token}
CONF=$RUN_DIR/odoo.conf
SECRET_FILE=$RUN_DIR/demo-webhook.secret
[[ -s "$SECRET_FILE" ]] || "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$SECRET_FILE"
SECRET=$(cat "$SECRET_FILE")

for port in "$HTTP_PORT" "$SIM_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use (another 'make run'?). Stop it, or set HTTP_PORT / SIM_PORT."
  fi
done

write_odoo_conf "$CONF" "$DB" \
  "http_port = $HTTP_PORT" "gevent_port = $((HTTP_PORT + 3))" \
  "workers = 2" "max_cron_threads = 1" "server_wide_modules = base,web,queue_job,psa_connector_base" \
  "logfile = $RUN_DIR/odoo.log" "log_level = info" \
  "" "[queue_job]" "channels = root:2,root.psa.time_entry:1"

if ! psql -d postgres -Atqc "select 1 from pg_database where datname = '$DB'" | grep -q 1; then
  say "Creating database $DB with the suite installed (about a minute, once)"
  "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$CONF" -d "$DB" -i "$SUITE_ADDONS" \
    --without-demo=all --stop-after-init --logfile= --log-level=warn
elif [[ -n "${PSA_UPGRADE:-}" ]]; then
  say "Upgrading the suite in $DB"
  "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$CONF" -d "$DB" -u "$SUITE_ADDONS" \
    --stop-after-init --logfile= --log-level=warn
fi

say "Configuring the 'demo' backend for the demo PSA"
PSA_DEMO_URL="http://127.0.0.1:$SIM_PORT" PSA_DEMO_TOKEN=$SIM_TOKEN PSA_DEMO_SECRET=$SECRET \
  "$VENV/bin/python" "$ODOO_SRC/odoo-bin" shell -c "$CONF" -d "$DB" --no-http \
  --logfile= --log-level=warn <"$ROOT/scripts/setup_demo_backend.py"

say "Starting the demo PSA on http://127.0.0.1:$SIM_PORT (log: $RUN_DIR/simulator.log)"
(cd "$ROOT" && exec "$VENV/bin/python" -m psa_simulator serve --port "$SIM_PORT" --token "$SIM_TOKEN" \
  --webhook-url "http://127.0.0.1:$HTTP_PORT/psa/webhook/demo" --webhook-secret "$SECRET") \
  >"$RUN_DIR/simulator.log" 2>&1 &
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null' EXIT

cat <<MSG

  Odoo         http://localhost:$HTTP_PORT   (login admin / admin; database $DB)
  Demo PSA     http://127.0.0.1:$SIM_PORT/api/v1   (bearer token: $SIM_TOKEN)
  Logs         $RUN_DIR/odoo.log, $RUN_DIR/simulator.log

  Within a minute the PSA's customers, projects, tasks and approved time, and the
  HR system's departments, employees and leave, appear in Odoo:
  Project, Timesheets, Employees, Time Off, Contacts, and PSA Connector.
  Make a change in the PSA and watch it arrive (webhook, signed):
    python3 -m psa_simulator change project P-2001 name="ERP rollout, phase 2"
  Accept a milestone in the PSA and find a draft invoice in Odoo (Invoicing):
    python3 -m psa_simulator create billing_events contract_id=K-6503 kind=milestone.accepted milestone_id=M-6001
  Utilisation per employee and week: PSA Connector > Utilisation.
  Ctrl-C stops Odoo and the demo PSA.

MSG
"$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$CONF" -d "$DB"
