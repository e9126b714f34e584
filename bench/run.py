"""`make bench`: the connector suite's throughput and latency, measured end to end.

Started by scripts/bench.sh (which provides the virtual environment, PostgreSQL and the
Odoo configuration). Creates its own databases, drives the suite through its real paths
and prints one table (also written to ``$BENCH_RUN_DIR/results.txt``):

1. ingest: N approved time entries from the demo PSA through the scheduled pull
   (``psa.backend.action_pull_now`` over JSON-RPC) -> psa.event -> queue_job jobs run by
   the job runner of an Odoo with 2 workers -> account.analytic.line, timed until the
   last binding is committed; beside it the batched-ORM floor (one ``create(vals_list)``
   in an ``odoo-bin shell``) and per-record JSON-RPC ``create`` calls;
2. webhook accept path: signed ``POST /psa/webhook/bench``, saturated (closed loop) and
   paced (open loop at the target rate) -> p50/p95/p99 and requests/second, beside the
   baseline of ``GET /web/health`` with the same workers and client; how fast a burst is
   applied, beside the pull path's rate;
2b. latency: one change at a time, signed webhook -> committed timesheet line, while a
   background stream of webhooks arrives at 20/s;
3. reconciliation of 100k/1M PSA entries in an ``odoo-bin shell`` of its own: time and
   peak RSS growth, beside the time of merely fetching the same PSA pages;
4. exceptions (issue 27): signed but unreadable bodies from one sender through the real
   webhook endpoint (each kept as an exception, all in one group), then the lists a
   person opens: the open exception groups and the exceptions to do, and one group's
   form, timed over the web client's JSON-RPC;
5. identity: who the jobs ran as (the integration user, never root or admin).

Environment: BENCH_SIZES (default 10000,50000), BENCH_RECON_SIZES (100000,1000000),
BENCH_RPC_SAMPLE (1000), BENCH_WEBHOOK_REQUESTS (2000), BENCH_WEBHOOK_CONCURRENCY (16),
BENCH_WEBHOOK_RATE (200), BENCH_EXCEPTION_BODIES (10000), BENCH_PAGE_SIZE (500),
BENCH_LATENCY_PROBES (60), BENCH_LATENCY_STREAM_RATE (20),
BENCH_PHASES (ingest,rpc,recon,webhook,latency,exceptions; the first ingest size always runs: it
sets the environment up), BENCH_KEEP=1 keeps the database.
"""

import asyncio
import json
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg2

from devtools import ToolError, interrupt_on_sigterm, make_log
from devtools.odoo_process import Odoo, OdooServer
from devtools.pg import Postgres
from devtools.rpc import JsonRpc, WebSession
from psa_simulator import PsaSimulator
from psa_simulator.seed import generate_time_entries

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "odoo"

DB = os.environ.get("BENCH_DB", "psa_bench")
TEMPLATE_DB = f"{DB}_template"
HTTP_PORT = int(os.environ.get("BENCH_HTTP_PORT", "8369"))
SIM_PORT = int(os.environ.get("BENCH_SIM_PORT", "8370"))
CONF = os.environ.get("BENCH_CONF", "")
RUN_DIR = Path(os.environ.get("BENCH_RUN_DIR", ROOT / ".run-bench"))
ODOO_SRC = os.environ.get("ODOO_SRC", "")
VENV = os.environ.get("VENV", "")
SUITE_ADDONS = os.environ.get("SUITE_ADDONS", "")
PYTHON = f"{VENV}/bin/python" if VENV else sys.executable
ODOO_URL = f"http://127.0.0.1:{HTTP_PORT}"
SIM_TOKEN = "bench-token"
WEBHOOK_SECRET = "whsec-bench-" + secrets.token_hex(12)


def _ints(name, default):
    raw = os.environ.get(name, default)
    try:
        return sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError:
        raise SystemExit(f"{name} must be comma-separated integers, got {raw!r}") from None


SIZES = _ints("BENCH_SIZES", "10000,50000")
RECON_SIZES = _ints("BENCH_RECON_SIZES", "100000,1000000")
RPC_SAMPLE = int(os.environ.get("BENCH_RPC_SAMPLE", "1000"))
WEBHOOK_REQUESTS = int(os.environ.get("BENCH_WEBHOOK_REQUESTS", "2000"))
WEBHOOK_CONCURRENCY = int(os.environ.get("BENCH_WEBHOOK_CONCURRENCY", "16"))
WEBHOOK_RATE = float(os.environ.get("BENCH_WEBHOOK_RATE", "200"))
EXCEPTION_BODIES = int(os.environ.get("BENCH_EXCEPTION_BODIES", "10000"))
# Each list is read this many times after one warm-up read; the median and max count.
LIST_READS = 5
PAGE_SIZE = int(os.environ.get("BENCH_PAGE_SIZE", "500"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
PHASES = set(
    os.environ.get("BENCH_PHASES", "ingest,rpc,recon,webhook,latency,exceptions").split(",")
)
# Period of every generated entry (40 working days from 2026-11-02) and of the reconciliation.
ENTRY_START, ENTRY_DAYS = "2026-11-02", 40
RECON_FROM, RECON_TO = "2026-11-01", "2027-01-31"
# Every 50th entry of those added for the reconciliation is left out of Odoo: 2 % missing.
RECON_MISSING_EVERY = 50

# Targets (issues 8 and 28). Never lowered here; a miss is reported with its cause.
# Issue 28: each a ratio to a baseline measured in the same run.
TARGET_FLOOR_SHARE = 0.80  # ingest end to end / batched-ORM floor (issue 8: 0.50)
TARGET_RPC_FACTOR = 30.0  # ingest end to end / per-record JSON-RPC (issue 8: 20x)
TARGET_LINEAR = 1.10  # time per entry, largest vs smallest size
TARGET_WEBHOOK_P99_MS = 50.0  # paced (issue 8)
TARGET_WEBHOOK_RPS = 200.0  # paced rate reached (issue 8)
TARGET_WEBHOOK_VS_TRIVIAL = 0.80  # saturated req/s / the trivial route's req/s
TARGET_WEBHOOK_P99_VS_TRIVIAL = 2.0  # saturated p99 / the trivial route's p99
TARGET_BURST_VS_PULL = 0.80  # burst applied/s / the pull path's ingest rate
TARGET_SINGLE_P50_S, TARGET_SINGLE_P99_S = 1.0, 2.0  # one change under a 20/s stream
TARGET_RECON_VS_FETCH = 1.5  # reconciliation time / fetching the same PSA pages
TARGET_RECON_GROWTH_MB = 300.0
# Issue 8's absolute bound, kept for the 100,000-entry reconciliation.
TARGET_RECON_SECONDS, TARGET_RECON_SECONDS_AT = 120.0, 100_000
# The trivial route of the baseline: Odoo's own health check (web, auth='none', answers
# 200 with a constant body), served by the same workers through the same client.
TRIVIAL_ROUTE = "/web/health"
# The single-change latency: probes, one at a time, while a background stream runs.
LATENCY_PROBES = int(os.environ.get("BENCH_LATENCY_PROBES", "60"))
LATENCY_STREAM_RATE = float(os.environ.get("BENCH_LATENCY_STREAM_RATE", "20"))
# Issue 27: the queue stays usable after 10,000 bad inputs.
TARGET_LIST_SECONDS = 1.0
# "Flat": the larger reconciliation grows the peak by at most 25 % + 8 MB more (2x the
# entries must not mean ~2x the memory).
FLAT_FACTOR, FLAT_SLACK_MB = 1.25, 8.0


class BenchError(ToolError):
    pass


log = make_log("bench")


def loadavg():
    try:
        return "/".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


POSTGRES = Postgres(DB)
ODOO = Odoo(odoo_src=ODOO_SRC, python=PYTHON, conf=CONF, db=DB, run_dir=RUN_DIR)


pg_query = POSTGRES.query


def odoo_shell(script, what, timeout, **env_extra):
    """A script of bench/odoo in an `odoo-bin shell`; the JSON it printed (BENCH_RESULT)."""
    env_extra = {"BENCH_SCRIPTS": SCRIPTS, **env_extra}
    return ODOO.shell(SCRIPTS / script, what, timeout, "BENCH_RESULT", env_extra)


class Profiler:
    """py-spy on the Odoo server and its workers while a phase runs (BENCH_PYSPY=path)."""

    def __init__(self, server, name):
        self.server, self.name, self.process = server, name, None

    def __enter__(self):
        py_spy = os.environ.get("BENCH_PYSPY")
        if py_spy and self.server.process:
            self.output = RUN_DIR / f"profile-{self.name}.txt"
            self.process = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--subprocesses",
                    "--idle",
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "-p",
                    str(self.server.process.pid),
                    "-o",
                    str(self.output),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
        return self

    def __exit__(self, *exc_info):
        if self.process:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
            log(f"py-spy profile of {self.name}: {self.output}")


class CpuSampler(threading.Thread):
    """The machine's busy CPU time (all processes: Odoo, PostgreSQL, the client) every
    50 ms, from /proc/stat, to tell how much of a window the cores were busy."""

    FIELDS_BUSY = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal

    GROUPS = ("Odoo", "PostgreSQL", "sender", "other")

    def __init__(self):
        super().__init__(daemon=True)
        self.samples, self.stopped = [], threading.Event()
        self.tick = os.sysconf("SC_CLK_TCK")
        self.group_of_pid = {}
        self.group_samples = []

    def busy_now(self):
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        return sum(fields[i] for i in self.FIELDS_BUSY) / self.tick

    def group(self, pid):
        """Whose a process is: Odoo's (workers, runner, cron), PostgreSQL's, the sender's
        (this bench process: its client sends the webhooks) or another's."""
        if pid not in self.group_of_pid:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
                with open(f"/proc/{pid}/comm") as comm:
                    name = comm.read().strip()
            except OSError:
                return "other"
            if pid == os.getpid():
                group = "sender"
            elif name == "postgres" or command.startswith("postgres"):
                group = "PostgreSQL"
            elif "odoo" in command:
                group = "Odoo"
            else:
                group = "other"
            self.group_of_pid[pid] = group
        return self.group_of_pid[pid]

    def busy_by_group_now(self):
        """CPU seconds used so far by the live processes of each group (a process that
        exits takes its count along: PostgreSQL's short-lived backends are undercounted,
        the remainder shows as unattributed)."""
        busy = dict.fromkeys(self.GROUPS, 0.0)
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the name.
            busy[self.group(int(entry.name))] += (int(fields[11]) + int(fields[12])) / self.tick
        return busy

    def run(self):
        count = 0
        while not self.stopped.is_set():
            now = time.time()
            self.samples.append((now, self.busy_now()))
            # Every process's stat costs more than the machine's: every 0.25 s.
            if count % 5 == 0:
                self.group_samples.append((now, self.busy_by_group_now()))
            count += 1
            self.stopped.wait(0.05)
        self.group_samples.append((time.time(), self.busy_by_group_now()))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stopped.set()
        self.join()

    def busy_between(self, start, end):
        """Busy core-seconds between two UNIX times (interpolated between samples)."""

        def at(moment):
            before = max((s for s in self.samples if s[0] <= moment), default=self.samples[0])
            after = min((s for s in self.samples if s[0] >= moment), default=self.samples[-1])
            if after[0] == before[0]:
                return before[1]
            share = (moment - before[0]) / (after[0] - before[0])
            return before[1] + share * (after[1] - before[1])

        return at(end) - at(start)

    def busy_by_group_between(self, start, end):
        """{group: core-seconds} between two UNIX times, from the samples nearest them."""

        def nearest(moment):
            return min(self.group_samples, key=lambda sample: abs(sample[0] - moment))[1]

        first, last = nearest(start), nearest(end)
        return {group: max(0.0, last[group] - first[group]) for group in self.GROUPS}


# -- Jobs and progress -----------------------------------------------------------------------


def job_states():
    return dict(pg_query("SELECT state, count(*) FROM queue_job GROUP BY state") or [])


def wait_for_jobs(what, timeout, stall=180):
    """Until no job is pending/enqueued/started; raise on timeout or when nothing moves."""
    deadline = time.monotonic() + timeout
    last_change, last = time.monotonic(), None
    while True:
        states = job_states()
        busy = sum(
            states.get(s, 0) for s in ("pending", "enqueued", "started", "wait_dependencies")
        )
        # Accepted webhook events get their jobs from a drain a moment later.
        undrained = pg_query(
            "SELECT count(*) FROM psa_event WHERE state = 'pending' AND job_uuid IS NULL"
            " AND source = 'webhook'"
        )[0][0]
        if undrained:
            states = {**states, "undrained events": undrained}
        if not busy and not undrained:
            return states
        if states != last:
            last, last_change = states, time.monotonic()
        now = time.monotonic()
        if now > deadline or now - last_change > stall:
            raise BenchError(f"{what}: jobs still busy ({states}); {job_diagnostics()}")
        time.sleep(0.5)


def job_diagnostics():
    rows = pg_query(
        "SELECT method_name, state, count(*), max(coalesce(exc_info, '')) FROM queue_job "
        "WHERE state NOT IN ('done') GROUP BY 1, 2 ORDER BY 1, 2"
    )
    parts = []
    for method, state, count, exc in rows or []:
        last_line = exc.strip().splitlines()[-1] if exc and exc.strip() else ""
        parts.append(f"{method}/{state}: {count}" + (f" ({last_line[:200]})" if last_line else ""))
    return "; ".join(parts) or "no unfinished job"


def bound_time_entries(backend_id):
    return pg_query(
        "SELECT count(*) FROM psa_binding WHERE backend_id = %s AND external_type = 'time_entry'",
        (backend_id,),
    )[0][0]


def failed_events(backend_id):
    return dict(
        pg_query(
            "SELECT state, count(*) FROM psa_event WHERE backend_id = %s "
            "AND state NOT IN ('done', 'pending', 'skipped') GROUP BY state",
            (backend_id,),
        )
        or []
    )


# -- The run -----------------------------------------------------------------------------------


class Bench:
    def __init__(self):
        self.server = OdooServer(ODOO, ODOO_URL)
        self.simulator = None
        self.backend_id = None
        self.results = {"ingest": {}, "webhook": {}, "recon": {}, "exceptions": {}, "notes": []}
        self.load = [loadavg()]
        self.started = time.monotonic()

    # Set-up

    def install_template(self):
        if os.environ.get("BENCH_REUSE_TEMPLATE") == "1" and POSTGRES.exists(TEMPLATE_DB):
            log(f"reusing the template database {TEMPLATE_DB} (BENCH_REUSE_TEMPLATE=1)")
            return
        log(f"installing the suite into a template database {TEMPLATE_DB} (about a minute)")
        POSTGRES.drop_database(TEMPLATE_DB, RUN_DIR / "data")
        started = time.monotonic()
        ODOO.install(SUITE_ADDONS, 900, dbname=TEMPLATE_DB)
        log(f"installed in {time.monotonic() - started:.0f}s")

    def fresh_environment(self, size):
        """A clean database from the template, a fresh simulator, Odoo with its runner."""
        self.server.stop()
        if self.simulator:
            self.simulator.stop()
        POSTGRES.clone_database(TEMPLATE_DB, DB, RUN_DIR / "data")
        self.simulator = PsaSimulator(port=SIM_PORT, token=SIM_TOKEN).start()
        employees_file = RUN_DIR / "employees.json"
        employees_file.write_text(json.dumps(self.simulator.records("employee")))
        setup = odoo_shell(
            "setup_backend.py",
            "setup",
            300,
            BENCH_SIM_URL=self.simulator.url,
            BENCH_SIM_TOKEN=SIM_TOKEN,
            BENCH_PAGE_SIZE=PAGE_SIZE,
            BENCH_WEBHOOK_SECRET=WEBHOOK_SECRET,
            BENCH_EMPLOYEES=employees_file,
        )
        self.backend_id = setup["backend_id"]
        log(f"[{size}] starting Odoo (workers = 2, queue_job runner) on :{HTTP_PORT}")
        self.server.start(timeout=120)
        self.rpc = JsonRpc(ODOO_URL, DB)
        # Master data first (not timed): customers, contacts, projects, tasks, seed time.
        started = time.monotonic()
        self.rpc.execute_kw("psa.backend", "action_pull_now", [[self.backend_id]])
        wait_for_jobs("master data pull", timeout=600)
        self.settle_waiting_events(size)
        projects = pg_query(
            "SELECT count(*) FROM psa_binding WHERE backend_id = %s AND external_type = 'project'",
            (self.backend_id,),
        )[0][0]
        if not projects:
            raise BenchError(f"the master data pull bound no project; {job_diagnostics()}")
        log(
            f"[{size}] master data pulled in {time.monotonic() - started:.1f}s "
            f"({projects} projects, {bound_time_entries(self.backend_id)} seed time entries)"
        )

    def settle_waiting_events(self, size, timeout=180):
        """Pull jobs of different types run side by side (channel root:2), so a contact or a
        task may be applied before its customer or project and wait. The connector's retry
        sweep (cron, triggered when bindings arrive, and every minute) resolves that; wait
        for it, and trigger the cron ourselves when it does not come by."""
        cron_id = self.rpc.execute_kw(
            "ir.model.data",
            "search_read",
            [
                [
                    ("module", "=", "psa_connector_base"),
                    ("name", "=", "ir_cron_psa_retry_arrived_references"),
                ]
            ],
            {"fields": ["res_id"]},
        )[0]["res_id"]
        deadline = time.monotonic() + timeout
        next_trigger = time.monotonic() + 10
        while True:
            waiting = dict(
                pg_query(
                    "SELECT state, count(*) FROM psa_event WHERE backend_id = %s "
                    "AND state IN ('waiting', 'pending') GROUP BY state",
                    (self.backend_id,),
                )
                or []
            )
            if not waiting:
                wait_for_jobs("retry of waiting master data", timeout=300)
                return
            if time.monotonic() > deadline:
                raise BenchError(
                    f"master data did not settle: events {waiting}; {job_diagnostics()}"
                )
            if time.monotonic() > next_trigger:
                log(f"[{size}] master data: events {waiting} -> running the retry cron")
                try:
                    self.rpc.execute_kw("ir.cron", "method_direct_trigger", [[cron_id]])
                except ToolError as err:  # the cron thread is running it right now
                    log(f"[{size}]   {str(err)[:120]}")
                next_trigger = time.monotonic() + 15
            time.sleep(0.5)

    # 1. Ingest

    def ingest(self, size, timeout):
        before = bound_time_entries(self.backend_id)
        entries = self.simulator.add_time_entries(size, start_date=ENTRY_START, days=ENTRY_DAYS)
        entries_file = RUN_DIR / f"entries-{size}.json"
        entries_file.write_text(json.dumps(entries))
        target = before + size
        max_job_id = pg_query("SELECT coalesce(max(id), 0) FROM queue_job")[0][0]
        log(f"[{size}] timing the pull of {size} approved entries -> timesheet lines")
        profiler = Profiler(self.server, f"ingest-{size}").__enter__()
        started = time.monotonic()
        self.rpc.execute_kw("psa.backend", "action_pull_now", [[self.backend_id]])
        last_count, last_change = before, time.monotonic()
        next_report = started + 15
        while True:
            count = bound_time_entries(self.backend_id)
            now = time.monotonic()
            if count >= target:
                elapsed = now - started
                break
            if count != last_count:
                last_count, last_change = count, now
            if now - last_change > 180 or now - started > timeout:
                raise BenchError(
                    f"ingest of {size}: {count - before}/{size} lines after {now - started:.0f}s, "
                    f"no progress for {now - last_change:.0f}s; events {failed_events(self.backend_id)}; "
                    f"jobs: {job_diagnostics()}"
                )
            if now >= next_report:
                log(f"[{size}]   {count - before}/{size} lines after {now - started:.0f}s")
                next_report = now + 15
            time.sleep(0.2)
        wait_for_jobs(f"ingest of {size}", timeout=300)
        profiler.__exit__(None, None, None)
        breakdown = pg_query(
            """SELECT method_name, count(*), sum(exec_time), min(date_started), max(date_done)
                 FROM queue_job WHERE id > %s GROUP BY method_name""",
            (max_job_id,),
        )
        jobs = {row[0]: {"count": row[1], "exec": float(row[2] or 0)} for row in breakdown}
        bad = failed_events(self.backend_id)
        log(f"[{size}] {size} lines in {elapsed:.1f}s ({size / elapsed:.0f}/s); jobs {jobs}")
        if bad:
            self.results["notes"].append(f"ingest {size}: events not applied: {bad}")
        pull = jobs.get("_pull_job", {}).get("exec", 0.0)
        process = jobs.get("_process_job", {})
        result = {
            "seconds": elapsed,
            "rate": size / elapsed,
            "pull_job_seconds": pull,
            "process_jobs": process.get("count", 0),
            "process_exec_seconds": process.get("exec", 0.0),
        }
        # (a) The floor: the same lines by one batched ORM create() (rolled back).
        log(f"[{size}] floor: the same {size} lines by one ORM create(vals_list)")
        floor = odoo_shell(
            "floor.py",
            f"floor {size}",
            max(300, size / 20),
            BENCH_BACKEND_ID=self.backend_id,
            BENCH_ENTRIES=entries_file,
        )
        result["floor_seconds"] = floor["seconds"]
        result["floor_rate"] = floor["count"] / floor["seconds"]
        log(
            f"[{size}] floor: {floor['count']} lines in {floor['seconds']:.1f}s "
            f"({result['floor_rate']:.0f}/s)"
        )
        self.results["ingest"][size] = result
        return entries

    def per_record_rpc(self, entries):
        """(b) One execute_kw create per entry over /jsonrpc, sequential, as a script would."""
        sample = entries[:RPC_SAMPLE]
        rpc = JsonRpc(ODOO_URL, DB)
        projects = {
            r["external_id"]: r["res_id"]
            for r in rpc.execute_kw(
                "psa.binding",
                "search_read",
                [
                    [
                        ("backend_id", "=", self.backend_id),
                        ("external_type", "in", ["project", "task"]),
                    ]
                ],
                {"fields": ["external_id", "external_type", "res_id"]},
            )
        }
        employees = {
            (r["work_email"] or "").lower(): r["id"]
            for r in rpc.execute_kw(
                "hr.employee",
                "search_read",
                [[("work_email", "!=", False)]],
                {"fields": ["work_email"]},
            )
        }
        vals_list = []
        for entry in sample:
            values = {
                "name": entry.get("description") or "/",
                "date": entry["date"],
                "unit_amount": entry["hours"],
                "employee_id": employees[entry["employee_email"].lower()],
                "project_id": projects[entry["project_id"]],
                "task_id": projects[entry["task_id"]] if entry.get("task_id") else False,
            }
            # The connector's own bookkeeping (psa_billable, ...) changes only through its
            # sync; a client creating lines over RPC says "not billable" Odoo's way.
            if not entry.get("billable", True):
                values.update(so_line=False, is_so_line_edited=True)
            vals_list.append(values)
        log(f"per-record JSON-RPC: {len(vals_list)} sequential execute_kw create calls")
        created = []
        started = time.monotonic()
        for values in vals_list:
            created.append(rpc.execute_kw("account.analytic.line", "create", [values]))
        elapsed = time.monotonic() - started
        rpc.execute_kw("account.analytic.line", "unlink", [created], timeout=300)
        self.results["rpc"] = {
            "count": len(created),
            "seconds": elapsed,
            "rate": len(created) / elapsed,
        }
        log(
            f"per-record JSON-RPC: {len(created)} in {elapsed:.1f}s ({len(created) / elapsed:.0f}/s)"
        )

    # 2. Webhooks

    def webhook_bodies(self, count, tag):
        projects = sorted(p["id"] for p in self.simulator.records("project"))
        tasks = {}
        for task in self.simulator.records("task"):
            if task.get("state") not in ("done", "cancelled"):
                tasks.setdefault(task["project_id"], []).append(task["id"])
        entries = generate_time_entries(
            count,
            projects,
            tasks,
            self.simulator.records("employee"),
            ENTRY_START,
            ENTRY_DAYS,
            seed=7 + len(tag),
            first_number=10_000_000 + 1_000_000 * len(tag),
        )
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        bodies = []
        for entry in entries:
            entry = {
                **entry,
                "id": f"{entry['id']}-{tag}",
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "external_refs": {},
            }
            envelope = {
                "id": f"evt_bench_{tag}_{uuid.uuid4().hex}",
                "type": "time_entry.created",
                "occurred_at": now,
                "data": entry,
            }
            bodies.append(json.dumps(envelope).encode())
        return bodies

    def post_webhooks(self, bodies, concurrency, rate=None):
        """Send every body once; closed loop, or open loop at ``rate`` requests/second.

        One asyncio loop, the requests signed before the clock starts: the client should
        cost the two shared cores as little as a PSA's sender would (16 Python threads
        fighting over the GIL did not). Paced latencies run from each request's scheduled
        send time (no coordinated omission).
        """
        from odoo_signature import sign

        timestamp = str(int(time.time()))
        raw_requests = [
            (
                "POST /psa/webhook/bench HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{HTTP_PORT}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                f"X-PSA-Timestamp: {timestamp}\r\n"
                f"X-PSA-Signature: {sign(WEBHOOK_SECRET, timestamp, body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            + body
            for body in bodies
        ]
        return self.post_raw(raw_requests, concurrency, rate)

    def trivial_requests(self, count):
        """GETs of the trivial route, shaped like the webhook posts (one connection each)."""
        raw = (
            f"GET {TRIVIAL_ROUTE} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{HTTP_PORT}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        return [raw] * count

    def post_raw(self, raw_requests, concurrency, rate=None):
        """Send every raw request once; closed loop, or open loop at ``rate`` requests/s."""
        latencies, statuses, errors = [], {}, []

        async def run():
            loop = asyncio.get_running_loop()
            index = iter(range(len(raw_requests)))
            start = loop.time() + 0.2
            done = []

            async def send(raw):
                reader, writer = await asyncio.open_connection("127.0.0.1", HTTP_PORT)
                try:
                    writer.write(raw)
                    await writer.drain()
                    status_line = await reader.readline()
                    await reader.read()  # the answer, until the server closes
                    return int(status_line.split()[1])
                finally:
                    writer.close()

            async def worker():
                for i in index:
                    scheduled = start + i / rate if rate else None
                    if scheduled:
                        await asyncio.sleep(max(0.0, scheduled - loop.time()))
                    sent = loop.time()
                    try:
                        status = await asyncio.wait_for(send(raw_requests[i]), 30)
                    except (OSError, TimeoutError, ValueError, IndexError) as err:
                        status = None
                        errors.append(repr(err))
                    statuses[status] = statuses.get(status, 0) + 1
                    latencies.append(loop.time() - (scheduled or sent))
                    done.append(loop.time())

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return max(done) - start

        elapsed = asyncio.run(run())
        latencies.sort()

        def pct(p):
            return (
                latencies[min(len(latencies) - 1, int(round(p / 100 * len(latencies))) - 1)] * 1000
            )

        return {
            "requests": len(raw_requests),
            "seconds": elapsed,
            "rps": len(raw_requests) / elapsed,
            "p50": pct(50),
            "p95": pct(95),
            "p99": pct(99),
            "max": latencies[-1] * 1000,
            "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
            "errors": errors[:3],
        }

    def webhooks(self):
        # Warm up both workers (first requests load caches), not measured.
        self.post_webhooks(self.webhook_bodies(50, "w"), 4)
        wait_for_jobs("webhook warm-up jobs", timeout=300)
        # The baseline: the same workers and client on a route that answers 200 at once.
        self.post_raw(self.trivial_requests(50), 4)
        log(
            f"trivial route {TRIVIAL_ROUTE}: {WEBHOOK_REQUESTS} GETs, {WEBHOOK_CONCURRENCY} concurrent"
        )
        trivial = self.post_raw(self.trivial_requests(WEBHOOK_REQUESTS), WEBHOOK_CONCURRENCY)
        log(f"trivial route: {trivial}")
        log(
            f"webhooks: {WEBHOOK_REQUESTS} signed posts, closed loop, {WEBHOOK_CONCURRENCY} concurrent"
        )
        bodies = self.webhook_bodies(WEBHOOK_REQUESTS, "s")
        started = time.perf_counter()
        with CpuSampler() as cpu:
            with Profiler(self.server, "webhook-saturated"):
                saturated = self.post_webhooks(bodies, WEBHOOK_CONCURRENCY)
            log(f"webhooks saturated: {saturated}")
            wait_for_jobs("jobs of the saturated webhook run", timeout=900)
        # Accepting is half the path: the changes count once they are applied, i.e. once
        # the job that applied the last of them committed (the database's clock, from
        # the first acceptance); the follow-up jobs (anomaly detection) are timed apart.
        saturated["jobs_seconds"] = time.perf_counter() - started
        applied, first_accepted, last_applied = pg_query(
            r"""SELECT count(*) FILTER (WHERE e.state = 'done'),
                       extract(epoch FROM min(e.create_date)),
                       extract(epoch FROM max(j.date_done))
                  FROM psa_event e LEFT JOIN queue_job j ON j.uuid = e.job_uuid
                 WHERE e.event_uid LIKE 'evt\_bench\_s\_%'"""
        )[0]
        if applied != len(bodies):
            raise BenchError(f"saturated webhooks: {applied} of {len(bodies)} applied")
        first_accepted, last_applied = float(first_accepted), float(last_applied)
        saturated["applied_seconds"] = last_applied - first_accepted
        # What the machine did meanwhile: the work of answering and applying the burst,
        # and how soon it could have been done had every core been busy throughout.
        saturated["busy_core_seconds"] = cpu.busy_between(first_accepted, last_applied)
        saturated["busy_by_group"] = cpu.busy_by_group_between(first_accepted, last_applied)
        saturated["applied_after_burst"] = saturated["applied_seconds"] - saturated["seconds"]
        log(f"webhooks: {WEBHOOK_REQUESTS} signed posts paced at {WEBHOOK_RATE:.0f}/s")
        paced = self.post_webhooks(
            self.webhook_bodies(WEBHOOK_REQUESTS, "pp"), WEBHOOK_CONCURRENCY, rate=WEBHOOK_RATE
        )
        log(f"webhooks paced: {paced}")
        wait_for_jobs("jobs of the paced webhook run", timeout=900)
        accepted = pg_query(
            "SELECT count(*) FROM psa_event WHERE backend_id = %s AND source = 'webhook'",
            (self.backend_id,),
        )[0][0]
        self.results["webhook"] = {
            "saturated": saturated,
            "paced": paced,
            "stored": accepted,
            "trivial": trivial,
        }
        for name, run in (("saturated", saturated), ("paced", paced)):
            if run["statuses"] != {"202": run["requests"]}:
                self.results["notes"].append(
                    f"webhook {name}: answers {run['statuses']} {run['errors']}"
                )

    # 2b. One change while a stream runs

    def single_change_latency(self):
        """PSA -> webhook -> committed Odoo record, for one change at a time, while a
        background stream of LATENCY_STREAM_RATE changes/s arrives: from the send of the
        probe's webhook until its timesheet line's binding is committed (polled every 10 ms
        on a connection of its own)."""
        probes = self.webhook_bodies(LATENCY_PROBES, "lat")
        stream_seconds = LATENCY_PROBES * 0.8 + 10
        stream = self.webhook_bodies(int(stream_seconds * LATENCY_STREAM_RATE), "bg")
        log(
            f"single change: {LATENCY_PROBES} probes while {len(stream)} webhooks stream at "
            f"{LATENCY_STREAM_RATE:.0f}/s"
        )
        stream_result = {}

        def run_stream():
            stream_result.update(self.post_webhooks(stream, 4, rate=LATENCY_STREAM_RATE))

        streamer = threading.Thread(target=run_stream, daemon=True)
        streamer.start()
        time.sleep(3)
        connection = POSTGRES.connect()
        latencies, statuses = [], {}
        rng = random.Random(28)
        try:
            with connection.cursor() as cr:
                for body in probes:
                    external_id = json.loads(body)["data"]["id"]
                    started = time.monotonic()
                    answer = self.post_webhooks([body], 1)
                    for status, count in answer["statuses"].items():
                        statuses[status] = statuses.get(status, 0) + count
                    while True:
                        cr.execute(
                            "SELECT 1 FROM psa_binding WHERE backend_id = %s"
                            " AND external_type = 'time_entry' AND external_id = %s",
                            (self.backend_id, external_id),
                        )
                        if cr.fetchone():
                            latencies.append(time.monotonic() - started)
                            break
                        if time.monotonic() - started > 60:
                            latencies.append(time.monotonic() - started)
                            self.results["notes"].append(
                                f"single change: {external_id} not applied after 60 s"
                            )
                            break
                        time.sleep(0.01)
                    time.sleep(rng.uniform(0.2, 0.7))
        finally:
            connection.close()
        streamer.join(timeout=stream_seconds + 120)
        wait_for_jobs("jobs of the latency stream", timeout=600)
        latencies.sort()

        def pct(p):
            return latencies[min(len(latencies) - 1, int(round(p / 100 * len(latencies))) - 1)]

        result = {
            "probes": len(latencies),
            "p50": pct(50),
            "p99": pct(99),
            "max": latencies[-1],
            "statuses": statuses,
            "stream": stream_result,
        }
        log(f"single change: {result}")
        self.results["latency"] = result

    # 4. Exceptions

    def timed_reads(self, call):
        """One warm-up call, then LIST_READS timed ones: (median, max) seconds, last answer."""
        answer = call()
        seconds = []
        for _read in range(LIST_READS):
            started = time.perf_counter()
            answer = call()
            seconds.append(time.perf_counter() - started)
        seconds.sort()
        return seconds[len(seconds) // 2], seconds[-1], answer

    def exceptions(self):
        before = pg_query(
            "SELECT coalesce(max(id), 0) FROM psa_exception WHERE backend_id = %s",
            (self.backend_id,),
        )[0][0]
        # Cut off where a value should start: not JSON, each body different.
        bodies = [
            f'{{"id": "evt_bad_{number}", "type": "time_entry.created", "data": '.encode()
            for number in range(EXCEPTION_BODIES)
        ]
        log(
            f"exceptions: {EXCEPTION_BODIES} signed unreadable bodies, {WEBHOOK_CONCURRENCY} concurrent"
        )
        with Profiler(self.server, "exceptions-posts"):
            posted = self.post_webhooks(bodies, WEBHOOK_CONCURRENCY)
        log(f"exceptions posted: {posted}")
        stored, groups = pg_query(
            "SELECT count(*), count(DISTINCT group_key) FROM psa_exception"
            " WHERE backend_id = %s AND id > %s",
            (self.backend_id, before),
        )[0]
        total = pg_query("SELECT count(*) FROM psa_exception")[0][0]
        session = WebSession(ODOO_URL, DB)
        # What the list views ask for (views/psa_exception_group_views.xml and
        # psa_exception_views.xml), with their default filters and orders.
        group_list = self.timed_reads(
            lambda: session.call_kw(
                "psa.exception.group",
                "web_search_read",
                [("state", "=", "open")],
                {
                    name: {}
                    for name in (
                        "last_seen",
                        "category",
                        "reason_pattern",
                        "object_type",
                        "open_count",
                        "exception_count",
                        "state",
                    )
                }
                | {"backend_id": {"fields": {"display_name": {}}}},
                limit=80,
                order="last_seen desc, id desc",
                count_limit=10001,
            )
        )
        group_id = next(
            (
                row["id"]
                for row in group_list[2]["records"]
                if row["category"] == "invalid_payload" and row["exception_count"] >= stored
            ),
            None,
        )
        exception_list = self.timed_reads(
            lambda: session.call_kw(
                "psa.exception",
                "web_search_read",
                [("state", "in", ["open", "retrying"])],
                {
                    name: {}
                    for name in (
                        "create_date",
                        "category",
                        "name",
                        "object_type",
                        "external_id",
                        "age_days",
                        "approval_state",
                        "state",
                    )
                }
                | {"backend_id": {"fields": {"display_name": {}}}},
                limit=80,
                order="id desc",
                count_limit=10001,
            )
        )
        group_form = None
        if group_id:
            group_form = self.timed_reads(
                lambda: session.call_kw(
                    "psa.exception.group",
                    "web_read",
                    [group_id],
                    {
                        name: {}
                        for name in (
                            "state",
                            "open_count",
                            "exception_count",
                            "category",
                            "reason_pattern",
                            "explanation",
                            "object_type",
                            "first_seen",
                            "last_seen",
                            "sample_payloads",
                        )
                    }
                    | {"backend_id": {"fields": {"display_name": {}}}},
                )
            )
        else:
            self.results["notes"].append(
                f"exceptions: no open group holds the {stored} bad bodies ({groups} group keys)"
            )
        result = {
            "posted": posted,
            "stored": stored,
            "groups": groups,
            "total_exceptions": total,
            "group_list": group_list[:2],
            "group_list_length": group_list[2]["length"],
            "exception_list": exception_list[:2],
            "exception_list_length": exception_list[2]["length"],
            "group_form": group_form[:2] if group_form else None,
        }
        log(f"exceptions: {({k: v for k, v in result.items() if k != 'posted'})}")
        self.results["exceptions"] = result
        if posted["statuses"] != {"400": posted["requests"]}:
            self.results["notes"].append(
                f"exceptions: answers {posted['statuses']} {posted['errors']}"
            )

    # 3. Reconciliation

    def reconciliation(self, ingested):
        """Grow the PSA to each size; Odoo holds all but 2 % of the added entries."""
        in_psa = ingested
        for size in RECON_SIZES:
            if size > in_psa:
                added = self.simulator.add_time_entries(
                    size - in_psa, start_date=ENTRY_START, days=ENTRY_DAYS, seed=1000 + size
                )
                to_bind = [e for i, e in enumerate(added) if i % RECON_MISSING_EVERY]
                entries_file = RUN_DIR / f"recon-entries-{size}.json"
                entries_file.write_text(json.dumps(to_bind))
                log(
                    f"reconciliation {size}: binding {len(to_bind)} of {len(added)} added entries "
                    "in Odoo (batched ORM, not timed)"
                )
                odoo_shell(
                    "recon_seed.py",
                    f"recon seed {size}",
                    max(600, size / 20),
                    BENCH_BACKEND_ID=self.backend_id,
                    BENCH_ENTRIES=entries_file,
                )
                in_psa = size
            log(f"reconciliation {size}: fetching the same PSA pages only (the baseline)")
            fetch = odoo_shell(
                "recon_run.py",
                f"recon fetch {size}",
                1800,
                BENCH_BACKEND_ID=self.backend_id,
                BENCH_DATE_FROM=RECON_FROM,
                BENCH_DATE_TO=RECON_TO,
                BENCH_FETCH_ONLY="1",
            )
            log(f"reconciliation {size}: fetched {fetch['fetched']} in {fetch['seconds']:.1f}s")
            log(f"reconciliation {size}: action_run() in an odoo-bin shell of its own")
            run = odoo_shell(
                "recon_run.py",
                f"recon run {size}",
                1800,
                BENCH_BACKEND_ID=self.backend_id,
                BENCH_DATE_FROM=RECON_FROM,
                BENCH_DATE_TO=RECON_TO,
            )
            run["growth_mb"] = run["peak_after_mb"] - run["peak_before_mb"]
            run["fetch"] = {"seconds": fetch["seconds"], "fetched": fetch["fetched"]}
            run["generated_entries"] = in_psa
            log(f"reconciliation {size}: {run}")
            if run["state"] != "done":
                self.results["notes"].append(
                    f"reconciliation {size}: {run['state']} {run['error']}"
                )
            self.results["recon"][size] = run

    # Orchestration

    def run(self):
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        self.install_template()
        last_entries = None
        for size in SIZES:
            self.fresh_environment(size)
            last_entries = self.ingest(size, timeout=120 + size / 20)
            self.load.append(loadavg())
            if "ingest" not in PHASES:
                break
        if "rpc" in PHASES:
            self.per_record_rpc(last_entries)
        # Webhooks and latency before the reconciliation: its seeding adds up to a million
        # lines to the same three projects' tasks, and every line applied afterwards pays
        # Odoo's recomputation of those tasks' hours over all of them (the first issue-28
        # run measured its burst and latency rows after the million). The webhooks' lines
        # are then in Odoo but not in the PSA: the reconciliation lists them as extra.
        if "webhook" in PHASES:
            self.webhooks()
            self.load.append(loadavg())
        if "latency" in PHASES:
            self.single_change_latency()
            self.load.append(loadavg())
        if "recon" in PHASES:
            self.reconciliation(SIZES[-1])
            self.load.append(loadavg())
        if "exceptions" in PHASES:
            self.exceptions()
            self.load.append(loadavg())
        self.job_users()

    def job_users(self):
        """Who the jobs of this environment ran as: the integration user, never root/admin."""
        rows = pg_query(
            """SELECT u.login, u.id IN (1, 2) OR u.login IN ('__system__', 'admin'),
                      count(*)
                 FROM queue_job j JOIN res_users u ON u.id = j.user_id
                GROUP BY u.login, u.id"""
        )
        self.results["job_users"] = {
            "by_login": {login: count for login, _root, count in rows},
            "privileged": sum(count for _login, root, count in rows if root),
        }

    def cleanup(self):
        self.server.stop()
        if self.simulator:
            self.simulator.stop()
            self.simulator = None
        if not KEEP:
            for name in (DB, TEMPLATE_DB):
                try:
                    POSTGRES.drop_database(name, RUN_DIR / "data")
                except psycopg2.Error as err:
                    log(f"could not drop {name}: {err}")


# -- The table -----------------------------------------------------------------------------------


def verdict(ok):
    return "met" if ok else "MISSED"


def render(bench):
    r = bench.results
    rows = []  # (section, measure, value, target, status)
    sizes = sorted(r["ingest"])
    rpc = r.get("rpc")
    for size in sizes:
        i = r["ingest"][size]
        share = i["rate"] / i["floor_rate"]
        rows.append(
            (
                "ingest",
                f"{size:,} entries: pull -> jobs -> lines",
                f"{i['seconds']:.1f} s  {i['rate']:.0f}/s",
                "",
                "",
            )
        )
        rows.append(
            (
                "",
                "  of which pull job (fetch + store events)",
                f"{i['pull_job_seconds']:.1f} s",
                "",
                "",
            )
        )
        rows.append(
            (
                "",
                "  apply jobs: count, summed exec time",
                f"{i['process_jobs']}  {i['process_exec_seconds']:.1f} s",
                "",
                "",
            )
        )
        rows.append(
            (
                "",
                "  floor: one ORM create(vals_list)",
                f"{i['floor_seconds']:.1f} s  {i['floor_rate']:.0f}/s",
                "",
                "",
            )
        )
        rows.append(
            (
                "",
                "  end-to-end / floor",
                f"{share:.2f}",
                f">= {TARGET_FLOOR_SHARE:.2f}",
                verdict(share >= TARGET_FLOOR_SHARE),
            )
        )
        if rpc:
            factor = i["rate"] / rpc["rate"]
            rows.append(
                (
                    "",
                    "  end-to-end / per-record JSON-RPC",
                    f"{factor:.1f}x",
                    f">= {TARGET_RPC_FACTOR:.0f}x",
                    verdict(factor >= TARGET_RPC_FACTOR),
                )
            )
    if rpc:
        rows.append(
            (
                "ingest",
                f"per-record JSON-RPC create ({rpc['count']:,} calls, 1 client)",
                f"{rpc['seconds']:.1f} s  {rpc['rate']:.0f}/s",
                "",
                "",
            )
        )
    if len(sizes) >= 2:
        small, large = r["ingest"][sizes[0]], r["ingest"][sizes[-1]]
        per_small, per_large = small["seconds"] / sizes[0], large["seconds"] / sizes[-1]
        growth = per_large / per_small
        rows.append(
            (
                "growth",
                f"time/entry {sizes[-1]:,} vs {sizes[0]:,}: {per_large * 1e3:.2f} vs {per_small * 1e3:.2f} ms",
                f"{growth:.2f}",
                f"<= {TARGET_LINEAR:.2f} (linear)",
                verdict(growth <= TARGET_LINEAR),
            )
        )
        fs, fl = small["floor_seconds"] / sizes[0], large["floor_seconds"] / sizes[-1]
        rows.append(("", "  floor time/entry ratio", f"{fl / fs:.2f}", "", ""))
    w = r.get("webhook") or {}
    if w:
        s, p, t = w["saturated"], w["paced"], w["trivial"]
        rows.append(
            (
                "webhook",
                f"baseline: GET {TRIVIAL_ROUTE}, {t['requests']} requests, {WEBHOOK_CONCURRENCY} concurrent",
                f"{t['rps']:.0f} req/s",
                "",
                "",
            )
        )
        rows.append(
            (
                "",
                "  p50 / p95 / p99 / max",
                f"{t['p50']:.0f} / {t['p95']:.0f} / {t['p99']:.0f} / {t['max']:.0f} ms",
                "",
                "" if t["statuses"] == {"200": t["requests"]} else f"answers {t['statuses']}",
            )
        )
        rows.append(
            (
                "",
                f"saturated: {s['requests']} posts, {WEBHOOK_CONCURRENCY} concurrent",
                f"{s['rps']:.0f} req/s",
                "",
                "",
            )
        )
        rows.append(
            (
                "",
                "  p50 / p95 / p99 / max",
                f"{s['p50']:.0f} / {s['p95']:.0f} / {s['p99']:.0f} / {s['max']:.0f} ms",
                "",
                "",
            )
        )
        ratio = s["rps"] / t["rps"]
        rows.append(
            (
                "",
                "  saturated req/s / baseline req/s",
                f"{ratio:.2f}",
                f">= {TARGET_WEBHOOK_VS_TRIVIAL:.2f}",
                verdict(ratio >= TARGET_WEBHOOK_VS_TRIVIAL),
            )
        )
        ratio = s["p99"] / max(t["p99"], 1e-9)
        rows.append(
            (
                "",
                "  saturated p99 / baseline p99",
                f"{ratio:.2f}",
                f"<= {TARGET_WEBHOOK_P99_VS_TRIVIAL:.1f}",
                verdict(ratio <= TARGET_WEBHOOK_P99_VS_TRIVIAL),
            )
        )
        applied_rate = s["requests"] / s["applied_seconds"]
        rows.append(
            (
                "",
                "  all applied (timesheet lines) after",
                f"{s['applied_seconds']:.1f} s: {applied_rate:.0f}/s,"
                f" {s['applied_after_burst']:.1f} s after the last answer",
                "",
                "",
            )
        )
        if "jobs_seconds" in s:
            rows.append(
                (
                    "",
                    "  all jobs done (anomaly detection too) after",
                    f"{s['jobs_seconds']:.1f} s (polled every 0.5 s)",
                    "",
                    "",
                )
            )
        if sizes:
            pull_rate = r["ingest"][sizes[0]]["rate"]
            ratio = applied_rate / pull_rate
            rows.append(
                (
                    "",
                    f"  burst applied/s / pull ingest/s ({pull_rate:.0f}/s at {sizes[0]:,})",
                    f"{ratio:.2f}",
                    f">= {TARGET_BURST_VS_PULL:.2f}",
                    verdict(ratio >= TARGET_BURST_VS_PULL),
                )
            )
            if "busy_core_seconds" in s:
                # The ceiling of this code on this machine: the CPU work the burst took
                # (answers, client, PostgreSQL, jobs) spread over every core, no idle.
                cores = os.cpu_count()
                busy = s["busy_core_seconds"]
                idle = 1 - busy / (cores * s["applied_seconds"])
                ceiling = s["requests"] / (busy / cores)
                rows.append(
                    (
                        "",
                        f"  CPU busy meanwhile: core-s on {cores} cores, idle share",
                        f"{busy:.1f} core-s, {idle:.0%} idle",
                        "",
                        "",
                    )
                )
                rows.append(
                    (
                        "",
                        "  ceiling: the same work, every core busy throughout",
                        f"{busy / cores:.1f} s: {ceiling:.0f}/s = {ceiling / pull_rate:.2f}"
                        " of the pull",
                        "",
                        "",
                    )
                )
                groups = s.get("busy_by_group")
                if groups:
                    # Whose work it was: the sender (this bench's client) stands for the
                    # PSA, whose servers send its webhooks from elsewhere.
                    rows.append(
                        (
                            "",
                            "  of which Odoo / PostgreSQL / the sender / other",
                            " / ".join(f"{groups[g]:.1f}" for g in CpuSampler.GROUPS)
                            + f" core-s, {max(0.0, busy - sum(groups.values())):.1f} unattributed",
                            "",
                            "",
                        )
                    )
                    without_sender = s["requests"] / (max(busy - groups["sender"], 1e-9) / cores)
                    rows.append(
                        (
                            "",
                            "  ceiling without the sender's share",
                            f"{without_sender:.0f}/s = {without_sender / pull_rate:.2f} of the pull",
                            "",
                            "",
                        )
                    )
        rows.append(
            (
                "",
                f"paced at {WEBHOOK_RATE:.0f}/s: {p['requests']} posts, achieved",
                f"{p['rps']:.0f} req/s",
                "",
                "",
            )
        )
        rows.append(
            (
                "",
                "  p50 / p95 / p99 / max",
                f"{p['p50']:.0f} / {p['p95']:.0f} / {p['p99']:.0f} / {p['max']:.0f} ms",
                f"p99 < {TARGET_WEBHOOK_P99_MS:.0f} ms",
                verdict(p["p99"] < TARGET_WEBHOOK_P99_MS and p["rps"] >= TARGET_WEBHOOK_RPS * 0.98),
            )
        )
        rows.append(
            (
                "",
                "  answers (saturated | paced)",
                f"{s['statuses']} | {p['statuses']}",
                "all 202",
                verdict(
                    s["statuses"] == {"202": s["requests"]}
                    and p["statuses"] == {"202": p["requests"]}
                ),
            )
        )
    lat = r.get("latency") or {}
    if lat:
        stream = lat["stream"]
        rows.append(
            (
                "latency",
                f"one change PSA -> webhook -> committed line ({lat['probes']} probes)",
                f"p50 {lat['p50']:.2f} s",
                f"< {TARGET_SINGLE_P50_S:.0f} s",
                verdict(lat["p50"] < TARGET_SINGLE_P50_S),
            )
        )
        rows.append(
            (
                "",
                f"  while {stream.get('requests', 0)} webhooks stream at "
                f"{LATENCY_STREAM_RATE:.0f}/s (achieved {stream.get('rps', 0):.0f}/s)",
                f"p99 {lat['p99']:.2f} s  max {lat['max']:.2f} s",
                f"< {TARGET_SINGLE_P99_S:.0f} s",
                verdict(lat["p99"] < TARGET_SINGLE_P99_S),
            )
        )
    recon = r.get("recon") or {}
    for size in sorted(recon):
        c = recon[size]
        rows.append(
            (
                "reconcile",
                f"{c['psa_entry_count']:,} PSA entries ({c['missing_entry_count']:,} missing in Odoo)",
                f"{c['seconds']:.1f} s",
                f"< {TARGET_RECON_SECONDS:.0f} s" if size == TARGET_RECON_SECONDS_AT else "",
                verdict(c["seconds"] < TARGET_RECON_SECONDS)
                if size == TARGET_RECON_SECONDS_AT
                else "",
            )
        )
        fetch = c.get("fetch")
        if fetch:
            ratio = c["seconds"] / fetch["seconds"]
            rows.append(
                (
                    "",
                    f"  baseline: fetching the same {fetch['fetched']:,} entries' pages",
                    f"{fetch['seconds']:.1f} s",
                    "",
                    "",
                )
            )
            rows.append(
                (
                    "",
                    "  reconciliation / fetch",
                    f"{ratio:.2f}",
                    f"<= {TARGET_RECON_VS_FETCH:.1f}",
                    verdict(ratio <= TARGET_RECON_VS_FETCH),
                )
            )
        rows.append(
            (
                "",
                f"  RSS {c['peak_before_mb']:.0f} MB before, peak {c['peak_after_mb']:.0f} MB, growth",
                f"{c['growth_mb']:.0f} MB",
                f"< {TARGET_RECON_GROWTH_MB:.0f} MB",
                verdict(c["growth_mb"] < TARGET_RECON_GROWTH_MB),
            )
        )
    if len(recon) >= 2:
        a, b = recon[min(recon)], recon[max(recon)]
        flat = b["growth_mb"] <= a["growth_mb"] * FLAT_FACTOR + FLAT_SLACK_MB
        rows.append(
            (
                "",
                f"  flat: growth {max(recon):,} vs {min(recon):,}",
                f"{b['growth_mb']:.0f} vs {a['growth_mb']:.0f} MB",
                f"<= {FLAT_FACTOR}x + {FLAT_SLACK_MB:.0f} MB",
                verdict(flat),
            )
        )
    e = r.get("exceptions") or {}
    if e:
        posted = e["posted"]
        rows.append(
            (
                "exceptions",
                f"{posted['requests']:,} signed unreadable bodies, {WEBHOOK_CONCURRENCY} concurrent",
                f"{posted['rps']:.0f} req/s  p99 {posted['p99']:.0f} ms",
                "all 400",
                verdict(posted["statuses"] == {"400": posted["requests"]}),
            )
        )
        rows.append(
            (
                "",
                "  kept as exceptions / in groups",
                f"{e['stored']:,} / {e['groups']}",
                f"{posted['requests']:,} / 1",
                verdict(e["stored"] == posted["requests"] and e["groups"] == 1),
            )
        )
        for label, key, length in (
            ("open groups list (80 rows)", "group_list", "group_list_length"),
            ("exceptions to do list (80 rows)", "exception_list", "exception_list_length"),
            ("one group's form (sample payloads)", "group_form", None),
        ):
            if not e.get(key):
                continue
            median, worst = e[key]
            of = f", of {e[length]:,}" if length else ""
            rows.append(
                (
                    "",
                    f"  {label}{of}: median / max of {LIST_READS}",
                    f"{median * 1000:.0f} / {worst * 1000:.0f} ms",
                    f"< {TARGET_LIST_SECONDS:.0f} s",
                    verdict(worst < TARGET_LIST_SECONDS),
                )
            )
        rows.append(("", "  exceptions in the database", f"{e['total_exceptions']:,}", "", ""))
    users = r.get("job_users")
    if users:
        rows.append(
            (
                "identity",
                "jobs run as (login: jobs)",
                ", ".join(f"{login}: {n}" for login, n in sorted(users["by_login"].items())),
                "integration user only",
                verdict(not users["privileged"]),
            )
        )
    headers = ("area", "measure", "value", "target", "status")
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(5)]
    line = "  ".join("-" * w for w in widths)
    out = [
        f"PSA connector benchmark  {datetime.now().strftime('%Y-%m-%d %H:%M')}  "
        f"{platform.node()}  {os.cpu_count()} CPUs  load avg (1/5/15 min) {' -> '.join(bench.load)}",
        f"Odoo workers=2, queue_job channels {os.environ.get('BENCH_CHANNELS', '?')}, "
        f"time entry lanes {os.environ.get('BENCH_LANES', '1')}, backend page_size {PAGE_SIZE}; "
        f"database {DB}; total {time.monotonic() - bench.started:.0f} s",
        f"webhook fast intake {'off' if os.environ.get('BENCH_FAST_INTAKE') == '0' else 'on'}, "
        f"direct accept {'off' if os.environ.get('BENCH_DIRECT_ACCEPT') == '0' else 'on'}; "
        "webhook drains hold bursts back above "
        f"{os.environ.get('BENCH_BURST_RATE') or 'the default (50)'} events/s"
        f"{' (0 = never)' if os.environ.get('BENCH_BURST_RATE') == '0' else ''}",
        line,
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
        line,
    ]
    for row in rows:
        out.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    out.append(line)
    for note in r["notes"]:
        out.append(f"note: {note}")
    return "\n".join(out)


def main():
    if not (CONF and ODOO_SRC and SUITE_ADDONS):
        raise SystemExit("run through scripts/bench.sh (make bench)")
    # The signature exactly as the connector verifies it (psa_connector_base/tools/signature.py).
    sys.path.insert(0, str(ROOT / "psa_connector_base" / "tools"))
    import signature as odoo_signature

    sys.modules["odoo_signature"] = odoo_signature
    bench = Bench()
    interrupt_on_sigterm()
    status = 0
    try:
        bench.run()
    except ToolError as err:
        log(f"FAILED: {err}")
        bench.results["notes"].append(f"FAILED: {str(err).splitlines()[0][:300]}")
        status = 1
    except KeyboardInterrupt:
        log("interrupted")
        status = 130
    finally:
        bench.cleanup()
    table = render(bench)
    (RUN_DIR / "results.txt").write_text(table + "\n")
    (RUN_DIR / "results.json").write_text(json.dumps(bench.results, indent=2, default=str))
    print(table)
    return status


if __name__ == "__main__":
    sys.exit(main())
