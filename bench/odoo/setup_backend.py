# Run through `odoo-bin shell` by bench/run.py: the 'bench' backend pointed at the
# benchmark's simulator, employees with the simulator employees' work e-mails, and the
# connector's own crons off (the benchmark triggers pulls itself). Commits.
import json
import os

for xmlid in (
    "psa_connector_base.ir_cron_psa_pull",
    "psa_connector_timesheet.ir_cron_psa_reconcile_time",
):
    cron = env.ref(xmlid, raise_if_not_found=False)
    if cron:
        cron.active = False
# The simulator listens on http://127.0.0.1: outbound calls may reach it (the connector
# refuses private addresses and http:// unless an administrator allows them).
for _param in (
    "psa_connector_base.allow_private_targets",
    "psa_connector_base.allow_insecure_http",
):
    env["ir.config_parameter"].set_param(_param, "True")
backend = env["psa.backend"].create(
    {
        "name": "Bench PSA",
        "code": "bench",
        "kind": "psa",
        "adapter": "canonical_v1",
        "base_url": os.environ["BENCH_SIM_URL"],
        "api_token": os.environ["BENCH_SIM_TOKEN"],
        "page_size": int(os.environ["BENCH_PAGE_SIZE"]),
    }
)
# The webhook secret as the brief says: set on the backend, encrypted with psa_connector_key.
backend.webhook_secret = os.environ["BENCH_WEBHOOK_SECRET"]
with open(os.environ["BENCH_EMPLOYEES"]) as handle:
    employees = json.load(handle)
env["hr.employee"].create(
    [{"name": e["name"], "work_email": e.get("work_email") or e.get("email")} for e in employees]
)
# BENCH_BURST_RATE=0 (scripts/bench.sh) lets the dispatcher queue a burst while it arrives.
if os.environ.get("BENCH_BURST_RATE"):
    env["ir.config_parameter"].set_param(
        "psa_connector_base.webhook_burst_rate", os.environ["BENCH_BURST_RATE"]
    )
env.cr.commit()
assert backend._get_secret("webhook_secret") == os.environ["BENCH_WEBHOOK_SECRET"]
print("BENCH_RESULT " + json.dumps({"backend_id": backend.id, "employees": len(employees)}))
