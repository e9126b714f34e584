# Run through `odoo-bin shell` by bench/run.py, not timed: timesheet lines for PSA entries
# the ingest did not bring (so that Odoo holds most of the reconciled entries), bound with
# psa.binding rows, as the connector would. Commits.
#
# The first chunk goes through batched ORM create() (the importer's own line values); every
# further entry is a copy, in SQL, of a line of that chunk on the same project with the
# entry's date, hours, description and task, and of that line's binding with the entry's
# id and version: a million entries are seeded in about a minute instead of a quarter of an
# hour. The reconciliation reads the lines' project, date, hours and bindings only.
import io
import os
from pathlib import Path

from odoo.addons.psa_connector_base.tools.versions import normalize_timestamp

from devtools.odoo_shell import print_result

# The shared prelude (backend, entries, line_values) runs in this shell's namespace.
exec((Path(os.environ["BENCH_SCRIPTS"]) / "timesheet_lines.py").read_text())
ORM_CHUNK = 1000
cr = env.cr


def orm_create(chunk):
    lines = Line.create([line_values(entry) for entry in chunk])
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
    env.flush_all()
    return {str(entry["project_id"]): line.id for entry, line in zip(chunk, lines, strict=True)}


template_by_project = orm_create(entries[:ORM_CHUNK])
rest = entries[ORM_CHUNK:]
without_template = [e for e in rest if str(e["project_id"]) not in template_by_project]
if without_template:
    template_by_project.update(orm_create(without_template))
    done = {entry["id"] for entry in without_template}
    rest = [entry for entry in rest if entry["id"] not in done]
env.cr.commit()


def columns(table, *skip):
    cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
        " AND table_schema = current_schema()",
        (table,),
    )
    return [name for (name,) in cr.fetchall() if name not in skip]


def tsv(value):
    if value is None or value is False:
        return r"\N"
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


cr.execute(
    """CREATE TEMPORARY TABLE bench_seed (
         external_id text, template_id int, date date, hours numeric, name text,
         task_id int, version int, updated_at text, line_id int)"""
)
buffer = io.StringIO()
for entry in rest:
    task = tasks.get(str(entry["task_id"])) if entry.get("task_id") else None
    buffer.write(
        "\t".join(
            tsv(v)
            for v in (
                entry["id"],
                template_by_project[str(entry["project_id"])],
                entry["date"],
                entry["hours"],
                entry.get("description") or "/",
                task.id if task else None,
                entry.get("version") or None,
                normalize_timestamp(entry.get("updated_at")),
            )
        )
        + "\n"
    )
buffer.seek(0)
cr.copy_from(
    buffer,
    "bench_seed",
    columns=(
        "external_id",
        "template_id",
        "date",
        "hours",
        "name",
        "task_id",
        "version",
        "updated_at",
    ),
)
cr.execute("UPDATE bench_seed SET line_id = nextval('account_analytic_line_id_seq')")
overrides = {
    "id": "s.line_id",
    "date": "s.date",
    "unit_amount": "s.hours",
    "name": "s.name",
    "task_id": "s.task_id",
    "amount": "t.amount * s.hours / NULLIF(t.unit_amount, 0)",
}
names = columns("account_analytic_line")
cr.execute(
    f"INSERT INTO account_analytic_line ({', '.join(names)})"  # column names: the catalogue
    f" SELECT {', '.join(overrides.get(n, f't.{n}') for n in names)}"
    " FROM bench_seed s JOIN account_analytic_line t ON t.id = s.template_id"
)
overrides = {
    "external_id": "s.external_id",
    "res_id": "s.line_id",
    "external_version": "s.version",
    "external_updated_at": "s.updated_at",
}
names = columns("psa_binding", "id")
cr.execute(
    f"INSERT INTO psa_binding ({', '.join(names)})"  # column names: the catalogue
    f" SELECT {', '.join(overrides.get(n, f'b.{n}') for n in names)}"
    " FROM bench_seed s JOIN psa_binding b ON b.res_model = 'account.analytic.line'"
    " AND b.res_id = s.template_id AND b.external_type = 'time_entry'"
    " AND b.backend_id = %s",
    (backend.id,),
)
cr.execute("DROP TABLE bench_seed")
cr.execute("ANALYZE account_analytic_line")
cr.execute("ANALYZE psa_binding")
env.cr.commit()
env.invalidate_all()
print_result("BENCH_RESULT", {"created": len(entries)})
