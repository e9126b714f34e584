# Run through `odoo-bin shell` by bench/run.py: the floor of the ingest, i.e. the same
# timesheet lines created by ONE batched ORM create(vals_list) in one transaction, with the
# same employees/projects/tasks the connector resolved. Timed: create() + flush. Rolled back.
import json
import os
import time

backend = env["psa.backend"].browse(int(os.environ["BENCH_BACKEND_ID"]))
with open(os.environ["BENCH_ENTRIES"]) as handle:
    entries = json.load(handle)
Binding = env["psa.binding"]
importer = env["psa.importer.time_entry"].with_company(backend.company_id)


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
vals_list = [
    importer._line_values(
        entry,
        employees[entry["employee_email"].strip().lower()],
        projects[str(entry["project_id"])],
        tasks[str(entry["task_id"])] if entry.get("task_id") else env["project.task"],
    )
    for entry in entries
]
Line = env["account.analytic.line"].with_company(backend.company_id)
env.flush_all()
started = time.perf_counter()
lines = Line.create(vals_list)
env.flush_all()
elapsed = time.perf_counter() - started
count = len(lines)
env.cr.rollback()
print("BENCH_RESULT " + json.dumps({"count": count, "seconds": elapsed}))
