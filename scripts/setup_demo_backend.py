# Run by scripts/run.sh through `odoo-bin shell`: points the 'demo' backend at the demo
# PSA and queues a first pull, which the job runner executes as soon as Odoo starts.
import os

backend = env["psa.backend"].with_context(active_test=False).search([("code", "=", "demo")])
values = {
    "name": "Demo PSA",
    "kind": "psa",
    "adapter": "canonical_v1",
    "base_url": os.environ["PSA_DEMO_URL"],
    "api_token": os.environ["PSA_DEMO_TOKEN"],
    "webhook_secret": os.environ["PSA_DEMO_SECRET"],
    "active": True,
}
if backend:
    backend.write(values)
else:
    backend = env["psa.backend"].create({**values, "code": "demo"})
env.ref("psa_connector_base.ir_cron_psa_pull").write(
    {"interval_number": 1, "interval_type": "minutes"}
)
backend.action_pull_now()
env.cr.commit()
print(f"backend 'demo' (id {backend.id}) -> {backend.base_url}; first pull queued")
