# Run through `odoo-bin shell` by bench/run.py: the 'bench' backend pointed at the
# benchmark's simulator, employees with the simulator employees' work e-mails, and the
# connector's own crons off (the benchmark triggers pulls itself). Commits.
import json
import os

from devtools.odoo_shell import prepare_for_simulator, print_result

with open(os.environ["BENCH_EMPLOYEES"]) as handle:
    employees = json.load(handle)
prepare_for_simulator(env, employees)
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
# BENCH_BURST_RATE=0 (scripts/bench.sh): the webhook drains queue a burst while it arrives.
if os.environ.get("BENCH_BURST_RATE"):
    env["ir.config_parameter"].set_param(
        "psa_connector_base.webhook_burst_rate", os.environ["BENCH_BURST_RATE"]
    )
# BENCH_LANES (scripts/bench.sh): the time entries' jobs in that many lanes by project.
env["ir.config_parameter"].set_param(
    "psa_connector_base.lanes.time_entry", os.environ.get("BENCH_LANES", "1")
)
env.cr.commit()
assert backend._get_secret("webhook_secret") == os.environ["BENCH_WEBHOOK_SECRET"]
print_result("BENCH_RESULT", {"backend_id": backend.id, "employees": len(employees)})
