# Run through `odoo-bin shell` by harness/run.py (stdin). Commits.
#
# One backend per scenario (own webhook URL /psa/webhook/<code>, own exception queue), the
# simulator's master data (customers, projects, tasks, contracts) applied to each, employees
# with the simulator employees' work e-mails, the users of the access scenario, and the
# connector's scheduled pull and reconciliation off (the harness triggers pulls itself).
import json
import os

from odoo import Command

from devtools.odoo_shell import prepare_for_simulator, print_result

# The drains apply webhooks while they still arrive (no burst hold-back, see
# psa.event._burst_goes_on): the faults must hit a stream that is being received
# and applied at the same time, not one that has been fully received before the first job.
env["ir.config_parameter"].set_param(
    "psa_connector_base.webhook_burst_rate", os.environ.get("HARNESS_BURST_RATE", "0")
)

# HARNESS_LANES (harness/run.py): the time entries' jobs in that many lanes by project.
env["ir.config_parameter"].set_param(
    "psa_connector_base.lanes.time_entry", os.environ.get("HARNESS_LANES", "3")
)

with open(os.environ["HARNESS_MASTER"]) as handle:
    master = json.load(handle)
prepare_for_simulator(env, master.pop("employee"))

backends = {}
for code in os.environ["HARNESS_BACKENDS"].split(","):
    backend = env["psa.backend"].create(
        {
            "name": f"Harness {code}",
            "code": code,
            "kind": "psa",
            "adapter": "canonical_v1",
            "base_url": os.environ["HARNESS_SIM_URL"],
            "api_token": os.environ["HARNESS_SIM_TOKEN"],
            "page_size": int(os.environ.get("HARNESS_PAGE_SIZE", "200")),
            "timeout": float(os.environ.get("HARNESS_REMOTE_TIMEOUT", "3")),
            "max_retry_wait": 2.0,
            "max_attempts": 3,
            "max_body_bytes": 256 * 1024,
        }
    )
    backend.webhook_secret = os.environ["HARNESS_WEBHOOK_SECRET"]
    Event = env["psa.event"]
    for object_type in ("customer", "contact", "project", "task", "contract"):
        events = Event._store_pulled(backend, object_type, master.get(object_type, []))
        for event in events:
            event._process_job()
    backends[code] = backend.id

# Callers of the access scenario (password = login).
company_b = env["res.company"].create({"name": "Harness Other Company"})
backend_b = env["psa.backend"].create(
    {"name": "Harness other company", "code": "h-other", "company_id": company_b.id}
)
env["psa.exception"].create(
    {"name": "B's problem", "category": "validation", "backend_id": backend_b.id, "payload": "{}"}
)
groups = {
    "portal": "base.group_portal",
    "internal": "base.group_user",
    "project_manager": "project.group_project_manager",
    "finance": "psa_connector_base.group_connector_user",
    "manager": "psa_connector_base.group_connector_manager",
    "other_co": "psa_connector_base.group_connector_manager",
}
users = {}
for who, group in groups.items():
    login = f"h_{who}"
    values = {
        "name": f"Harness {who}",
        "login": login,
        "password": login,
        "groups_id": [Command.set([env.ref(group).id])],
    }
    if who == "other_co":
        values.update(company_id=company_b.id, company_ids=[Command.set([company_b.id])])
    users[who] = env["res.users"].with_context(no_reset_password=True).create(values).id
env.cr.commit()
pending = env["psa.event"].search_count([("state", "not in", ("done", "skipped"))])
print_result(
    "HARNESS_RESULT",
    {"backends": backends, "users": users, "other_backend": backend_b.id, "pending": pending},
)
