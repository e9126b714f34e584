# Run through `odoo-bin shell` by bench/run.py: the floor of the ingest, i.e. the same
# timesheet lines created by ONE batched ORM create(vals_list) in one transaction, with the
# same employees/projects/tasks the connector resolved. Timed: create() + flush. Rolled back.
import os
import time
from pathlib import Path

from devtools.odoo_shell import print_result

# The shared prelude (backend, entries, line_values) runs in this shell's namespace.
exec((Path(os.environ["BENCH_SCRIPTS"]) / "timesheet_lines.py").read_text())
vals_list = [line_values(entry) for entry in entries]
env.flush_all()
started = time.perf_counter()
lines = Line.create(vals_list)
env.flush_all()
elapsed = time.perf_counter() - started
count = len(lines)
env.cr.rollback()
print_result("BENCH_RESULT", {"count": count, "seconds": elapsed})
