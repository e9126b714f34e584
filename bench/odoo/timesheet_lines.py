# Shared by floor.py and recon_seed.py (executed at their top, in the same `odoo-bin shell`
# namespace): the backend and entries named by the environment, and line_values(entry),
# the timesheet line values the connector's importer builds for a PSA entry.
import json
import os

backend = env["psa.backend"].browse(int(os.environ["BENCH_BACKEND_ID"]))
with open(os.environ["BENCH_ENTRIES"]) as handle:
    entries = json.load(handle)
Binding = env["psa.binding"]
importer = env["psa.importer.time_entry"].with_company(backend.company_id)
Line = env["account.analytic.line"].with_company(backend.company_id)


def by_binding(object_type, model):
    rows = Binding.search_read(
        [("backend_id", "=", backend.id), ("external_type", "=", object_type)],
        ["external_id", "res_id"],
    )
    return {r["external_id"]: env[model].browse(r["res_id"]) for r in rows}


projects = by_binding("project", "project.project")
tasks = by_binding("task", "project.task")
employees = {
    (e.work_email or "").strip().lower(): e
    for e in env["hr.employee"].search([("work_email", "!=", False)])
}


def line_values(entry):
    return importer._line_values(
        entry,
        employees[entry["employee_email"].strip().lower()],
        projects[str(entry["project_id"])],
        tasks[str(entry["task_id"])] if entry.get("task_id") else env["project.task"],
    )
