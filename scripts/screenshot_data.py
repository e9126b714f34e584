# Run by scripts/screenshots.sh through `odoo-bin shell`: a backend with a day of
# traffic, a few waiting exceptions and a set-up wizard that has just tested its
# connection against the PSA simulator. Ids of what to photograph go to a JSON file.
import json
import os
import uuid
from datetime import timedelta

from odoo import fields

from odoo.addons.psa_connector_base.tests.common import PsaTestMixin, allow_local_targets

from psa_simulator import PsaSimulator

env = env(context=dict(env.context, tracking_disable=True))  # noqa: F821 (odoo shell)
Event = env["psa.event"]
admin = env.ref("base.user_admin")
admin.write({"tz": "Europe/Berlin", "name": "Maria Manager"})
admin.partner_id.email = "maria@example.com"

backend = env["psa.backend"].create(
    {
        "name": "Company PSA",
        "code": "company-psa",
        "base_url": "https://psa.example.com/",
        "api_token": "demo-token",
        "webhook_secret": "demo-secret",
    }
)
env["psa.backend"].create(
    {"name": "HR system", "code": "company-hr", "kind": "hr", "base_url": "https://hr.example.com"}
)


def receive(event_type, data):
    envelope = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": event_type,
        "occurred_at": "2026-11-20T10:00:00Z",
        "data": data,
    }
    return Event._receive_webhook(backend, envelope, json.dumps(envelope).encode())[0]


def run_jobs(every=False):
    """Dispatch the accepted events and run their jobs as the job runner would; only the
    event jobs (the sample backend's write-backs have no PSA to reach), or ``every`` job."""
    Runner.run_jobs(max_rounds=40, methods=None if every else ("_process_job",))


class Runner(PsaTestMixin):
    """The suite's stand-in for queue_job's runner (the tests' own), on this shell's env."""

    env = env


# The demo's engagements for the project financials: the demo PSA (also playing the HR
# and forecast systems) set up exactly as `make run` does, pulled, its approved time and
# Fabrikam's accepted milestone invoiced and posted. First, while no journal entry exists
# (the demo company keeps its books in EUR), and with every job run while the demo PSA
# answers; then its backends are archived, so the other screens show the sample backend.
demo = PsaSimulator(token="demo-token").start()
try:
    os.environ.update(
        PSA_DEMO_URL=demo.url, PSA_DEMO_TOKEN="demo-token", PSA_DEMO_SECRET="demo-secret"
    )
    # Run from the checkout's root by screenshots.sh, like run.sh runs it.
    with open(os.path.join("scripts", "setup_demo_backend.py")) as f:
        exec(compile(f.read(), "setup_demo_backend.py", "exec"), {"env": env})
    run_jobs(every=True)
    demo.create(
        "billing_events",
        {"contract_id": "K-6503", "kind": "milestone.accepted", "milestone_id": "M-6001"},
    )
    demo_backends = env["psa.backend"].search(
        [("code", "in", ("demo", "demo-hr", "demo-forecast"))]
    )
    demo_backends.filtered(lambda b: b.code == "demo").action_pull_now()
    run_jobs(every=True)
    demo_backends.filtered(lambda b: b.code == "demo").action_create_draft_invoices()
    run_jobs(every=True)
    drafts = env["account.move"].search(
        [("move_type", "=", "out_invoice"), ("state", "=", "draft")]
    )
    for move in drafts:
        move.invoice_date = move.invoice_date or "2026-11-30"
    drafts.action_post()
    run_jobs(every=True)
finally:
    demo.stop()
print("project financials rows:", env["psa.project.financial"].search_count([]))
demo_backends.action_archive()
env.cr.commit()

stamp = "2026-11-01T09:00:00Z"
for n, name in enumerate(["Northwind Logistics GmbH", "Contoso Beratung AG", "Fabrikam SE"]):
    receive(
        "customer.created",
        {"id": f"C-{n + 1}", "name": name, "is_company": True, "updated_at": stamp, "version": 1},
    )
receive(
    "project.created",
    {
        "id": "P-1",
        "name": "ERP rollout",
        "customer_id": "C-1",
        "state": "active",
        "updated_at": stamp,
        "version": 1,
    },
)
waiting = receive(
    "project.created",
    {
        "id": "P-2",
        "code": "NW-BI-27",
        "name": "BI dashboards",
        "customer_id": "C-77",
        "state": "active",
        "date_start": "2026-12-01",
        "updated_at": stamp,
        "version": 1,
    },
)
receive("customer.created", {"id": "C-9", "is_company": True, "updated_at": stamp, "version": 1})
receive(
    "task.created",
    {"id": "T-5", "project_id": "P-1", "name": "Cut-over", "updated_at": stamp, "version": 1},
)
anna = env["hr.employee"].create({"name": "Anna Schmidt", "work_email": "anna@example.com"})
env["psa.binding"].create(
    {
        "backend_id": backend.id,
        "external_type": "employee",
        "external_id": "E-1",
        "res_model": "hr.employee",
        "res_id": anna.id,
    }
)
for entry_id, hours in (("TE-1", 6.5), ("TE-2", 1.25)):
    receive(
        "time_entry.created",
        {
            "id": entry_id,
            "project_id": "P-1",
            "task_id": "T-5",
            "employee_id": "E-1",
            "date": "2026-11-16",
            "hours": hours,
            "description": "Cut-over rehearsal",
            "billable": True,
            "state": "approved",
            "updated_at": stamp,
            "version": 1,
        },
    )
run_jobs()
receive("contact.created", {"id": "K-1", "name": "Jo Lee", "customer_id": "C-1", "version": 1})

# An older conflict and a remote error, for the queue's age buckets.
conflict = env["psa.exception"].create(
    {
        "name": "Customer C-2 was renamed in the PSA, but its name is owned by Odoo.",
        "category": "conflict",
        "backend_id": backend.id,
        "object_type": "customer",
        "external_id": "C-2",
        "incoming_values": json.dumps({"name": "Contoso Consulting AG", "vat": "CHE-1"}),
        "current_values": json.dumps({"name": "Contoso Beratung AG", "vat": "CHE-1"}),
    }
)
remote = env["psa.exception"].create(
    {
        "name": "The pull of time_entry failed: GET /api/v1/time_entries answered 503",
        "category": "remote_error",
        "backend_id": backend.id,
        "object_type": "time_entry",
    }
)
env.cr.execute(
    "UPDATE psa_exception SET create_date = %s WHERE id = %s",
    [fields.Datetime.now() - timedelta(days=2), conflict.id],
)
env.cr.execute(
    "UPDATE psa_exception SET create_date = %s WHERE id = %s",
    [fields.Datetime.now() - timedelta(days=9), remote.id],
)
env["psa.exception"].create(
    {
        "name": "The write-back of customer C-3 failed: PUT /api/v1/customers/C-3 answered 502",
        "category": "remote_error",
        "backend_id": backend.id,
        "object_type": "customer",
        "external_id": "C-3",
    }
)
env["psa.exception"]._cron_refresh_age_buckets()
waiting.exception_ids.user_id = admin
for object_type, ok in (("customer", True), ("project", True), ("task", True), ("contact", False)):
    env["psa.sync.watermark"]._for(backend, object_type).write(
        {
            "last_run": fields.Datetime.now() - timedelta(minutes=4),
            "last_success": fields.Datetime.now() - timedelta(minutes=4) if ok else False,
            "last_error": False if ok else "GET /api/v1/contacts answered 503",
        }
    )
for _i in range(12):
    env["psa.audit.log"]._log(backend, "out", "write_back", object_type="customer")

# The simulator listens on http://127.0.0.1: outbound calls may reach it.
allow_local_targets(env)
simulator = PsaSimulator(token="demo-token").start()
try:
    wizard = env["psa.backend.setup.wizard"].create(
        {
            "name": "Demo PSA",
            "code": "demo-psa",
            "base_url": simulator.url,
            "api_token": "demo-token",
        }
    )
    wizard.action_test_connection()
finally:
    simulator.stop()


ids = {
    "exception": waiting.exception_ids.id,
    "conflict": conflict.id,
    "wizard": wizard.id,
}
with open(os.path.join(os.environ.get("RUN_DIR", ".run"), "screenshot-ids.json"), "w") as f:
    json.dump(ids, f)
env.cr.commit()
print("sample data:", ids)
