# Run through `odoo-bin shell` by bench/run.py, not timed: timesheet lines for PSA entries
# the ingest did not bring (so that Odoo holds most of the reconciled entries), created with
# batched ORM create() and bound with psa.binding rows, as the connector would. Commits.
import json
import os

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
Line = env["account.analytic.line"].with_company(backend.company_id)
created = 0
for start in range(0, len(entries), 5000):
    chunk = entries[start : start + 5000]
    vals_list = [
        importer._line_values(
            entry,
            employees[entry["employee_email"].strip().lower()],
            projects[str(entry["project_id"])],
            tasks[str(entry["task_id"])] if entry.get("task_id") else env["project.task"],
        )
        for entry in chunk
    ]
    lines = Line.create(vals_list)
    Binding.create(
        [
            {
                "backend_id": backend.id,
                "external_type": "time_entry",
                "external_id": str(entry["id"]),
                "res_model": "account.analytic.line",
                "res_id": line.id,
                **importer._binding_version_values(entry),
            }
            for entry, line in zip(chunk, lines, strict=True)
        ]
    )
    env.cr.commit()
    env.invalidate_all()
    created += len(lines)
print("BENCH_RESULT " + json.dumps({"created": created}))
