# Run through `odoo-bin shell` by bench/run.py, in a process of its own: one reconciliation
# (psa.timesheet.reconciliation.action_run) over the whole benchmark period. Measures wall
# time and the peak RSS of this process during the run, sampled every 5 ms by a thread.
# (ru_maxrss alone cannot be used: on Linux it survives fork + exec, so it starts at the
# RSS of the parent that spawned odoo-bin, here the benchmark driver.)
# BENCH_FETCH_ONLY=1: the baseline instead, the same PSA pages (same adapter, filters, page
# size) merely fetched and counted, nothing compared or written.
import os
import resource
import threading
import time

from devtools.odoo_shell import print_result


def rss_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


backend = env["psa.backend"].browse(int(os.environ["BENCH_BACKEND_ID"]))
report = env["psa.timesheet.reconciliation"].create(
    {
        "backend_id": backend.id,
        "date_from": os.environ["BENCH_DATE_FROM"],
        "date_to": os.environ["BENCH_DATE_TO"],
    }
)
env.flush_all()
env.cr.commit()
maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rss_before = rss_mb()
peak = [rss_before]
running = threading.Event()
running.set()


def sample():
    while running.is_set():
        peak[0] = max(peak[0], rss_mb())
        time.sleep(0.005)


sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
started = time.perf_counter()
fetched = 0
if os.environ.get("BENCH_FETCH_ONLY") == "1":
    for page in backend._get_adapter().iter_time_entries(
        report.date_from, report.date_to, backend._approved_time_states()
    ):
        fetched += len(page)
else:
    report.action_run()
    env.flush_all()
elapsed = time.perf_counter() - started
running.clear()
sampler.join()
peak[0] = max(peak[0], rss_mb())
result = {
    "seconds": elapsed,
    "peak_before_mb": rss_before,
    "peak_after_mb": peak[0],
    "maxrss_before_mb": maxrss_before,
    "maxrss_after_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rss_before_mb": rss_before,
    "rss_after_mb": rss_mb(),
    "state": report.state,
    "error": report.error_message or "",
    "fetched": fetched,
    "psa_entry_count": report.psa_entry_count,
    "missing_entry_count": report.missing_entry_count,
    "extra_line_count": report.extra_line_count,
    "difference_count": report.difference_count,
}
env.cr.commit()
print_result("BENCH_RESULT", result)
