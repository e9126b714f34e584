# Run through `odoo-bin shell` by bench/run.py, not timed: timesheet lines for PSA entries
# the ingest did not bring (so that Odoo holds most of the reconciled entries), created with
# batched ORM create() and bound with psa.binding rows, as the connector would. Commits.
import os
from pathlib import Path

from devtools.odoo_shell import print_result

# The shared prelude (backend, entries, line_values) runs in this shell's namespace.
exec((Path(os.environ["BENCH_SCRIPTS"]) / "timesheet_lines.py").read_text())
created = 0
for start in range(0, len(entries), 5000):
    chunk = entries[start : start + 5000]
    vals_list = [line_values(entry) for entry in chunk]
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
print_result("BENCH_RESULT", {"created": created})
