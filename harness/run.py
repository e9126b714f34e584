"""`make harness`: reliability and security of the connector suite under faults and attack.

Started by scripts/harness.sh (virtual environment, addons path, connector key). Creates a
private PostgreSQL cluster (initdb into a temporary directory, on a port of its own, so it
can be restarted without touching any other database), installs the suite there, starts
Odoo with 2 workers and the queue_job runner, and the demo PSA (psa_simulator), then runs
the scenarios and checks the invariants after each:

- every valid approved entry exists exactly once in Odoo, with the right hours;
- no billing event produced two invoice lines;
- every rejected or failed input is in the exception queue with its raw payload;
- no HTTP 500 for bad input (5xx answered while PostgreSQL or Odoo is down are the
  outage itself; the sender retries them and they are reported apart);
- the audit log has an entry for each applied change;
- no access granted that should not be.

It prints one table (also in $HARNESS_RUN_DIR/harness.txt) and exits non-zero when an
invariant fails. See HARNESS_README.md (README section "Reliability harness") for the
environment variables; HARNESS_MODE=short is the quick run.
"""

import collections
import contextlib
import http.client
import importlib.util
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import psycopg2
import requests

from psa_simulator import PsaSimulator

from .streams import HOSTILE_STRINGS, billing_stream, time_entry_stream

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "odoo"
SHORT = os.environ.get("HARNESS_MODE", "full") == "short"


def setting(name, full, short):
    return type(full)(os.environ.get(name, short if SHORT else full))


DB = os.environ.get("HARNESS_DB", "psa_harness")
HTTP_PORT = int(os.environ.get("HARNESS_HTTP_PORT", "8469"))
GEVENT_PORT = int(os.environ.get("HARNESS_GEVENT_PORT", HTTP_PORT + 1))
SIM_PORT = int(os.environ.get("HARNESS_SIM_PORT", HTTP_PORT + 2))
PG_PORT = int(os.environ.get("HARNESS_PG_PORT", HTTP_PORT + 6))
RUN_DIR = Path(os.environ.get("HARNESS_RUN_DIR", ROOT / ".run-harness"))
ODOO_SRC = os.environ.get("ODOO_SRC", "")
VENV = os.environ.get("VENV", "")
ADDONS_PATH = os.environ.get("HARNESS_ADDONS_PATH", "")
CONNECTOR_KEY = os.environ.get("PSA_CONNECTOR_KEY", "")
SUITE_ADDONS = os.environ.get("SUITE_ADDONS", "")
PYTHON = f"{VENV}/bin/python" if VENV else sys.executable
ODOO_BIN = f"{ODOO_SRC}/odoo-bin"
ODOO_URL = f"http://127.0.0.1:{HTTP_PORT}"
PG_BIN = Path(os.environ.get("HARNESS_PG_BIN", "/usr/lib/postgresql/15/bin"))
SIM_TOKEN = "harness-token"
WEBHOOK_SECRET = "whsec-harness-" + os.urandom(8).hex()
SEED = int(os.environ.get("HARNESS_SEED", "20261120"))

# The long part's sizes and durations (full mode: about 10 minutes on 2 cores).
DISORDER_ENTRIES = setting("HARNESS_DISORDER_ENTRIES", 600, 150)
KILL_ENTRIES = setting("HARNESS_KILL_ENTRIES", 2000, 600)
KILLS = setting("HARNESS_KILLS", 3, 1)
PG_RESTART_ENTRIES = setting("HARNESS_PG_ENTRIES", 300, 120)
PG_DOWN_SECONDS = setting("HARNESS_PG_DOWN_SECONDS", 10.0, 3.0)
RESTART_ENTRIES = setting("HARNESS_RESTART_ENTRIES", 300, 120)
FAULT_SECONDS = setting("HARNESS_FAULT_SECONDS", 15.0, 4.0)
REMOTE_ENTRIES = setting("HARNESS_REMOTE_ENTRIES", 1000, 200)
FUZZ_BODIES = setting("HARNESS_FUZZ_BODIES", 400, 120)
CONCURRENCY = setting("HARNESS_CONCURRENCY", 8, 4)
SCENARIOS = [
    s.strip()
    for s in os.environ.get(
        "HARNESS_SCENARIOS", "disorder,kill,pg_restart,odoo_restart,remote,hostile,access"
    ).split(",")
    if s.strip()
]
CONVERGE_TIMEOUT = setting("HARNESS_CONVERGE_TIMEOUT", 900.0, 420.0)
BACKENDS = {
    "disorder": "h-disorder",
    "kill": "h-kill",
    "pg_restart": "h-pg",
    "odoo_restart": "h-restart",
    "remote": "h-remote",
    "hostile": "h-hostile",
    "billing": "h-billing",
}

_spec = importlib.util.spec_from_file_location(
    "psa_signature", ROOT / "psa_connector_base" / "tools" / "signature.py"
)
signature = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(signature)


class HarnessError(Exception):
    pass


def log(message):
    print(f"[harness {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- PostgreSQL: a private cluster -------------------------------------------------------------


class PrivateCluster:
    """initdb into a temporary directory; started, restarted and removed by us only."""

    def __init__(self, port):
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix=f"{DB}-pg-"))
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        self.as_user = []
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root.
            shutil.chown(self.dir, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _pg_ctl(self, *args, timeout=120):
        command = [*self.as_user, str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]
        completed = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        if completed.returncode != 0:
            raise HarnessError(
                f"pg_ctl {' '.join(args[:1])} failed: {completed.stderr.decode()[-500:]}"
            )

    def init(self):
        user = os.environ.get("PGUSER") or os.environ.get("USER") or "root"
        self.user = user if os.geteuid() != 0 else "root"
        command = [
            *self.as_user,
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]
        completed = subprocess.run(command, capture_output=True, timeout=300, check=False)
        if completed.returncode != 0:
            raise HarnessError(f"initdb failed: {completed.stderr.decode()[-500:]}")
        self.start()

    def options(self):
        return (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            # Commits stay durable (synchronous_commit on): the PostgreSQL-restart scenario
            # stops the server with -m immediate, which loses WAL not yet written at commit,
            # i.e. webhooks already answered 202 (seen once with synchronous_commit=off).
            # fsync stays off: an immediate stop kills processes, not the machine, so what
            # was written to the operating system survives.
            "-c fsync=off -c full_page_writes=off "
            "-c max_connections=80 -c shared_buffers=64MB"
        )

    def start(self):
        self._pg_ctl("-o", self.options(), "-l", str(self.logfile), "-w", "start")

    def stop(self, mode="fast"):
        self._pg_ctl("-m", mode, "-w", "stop")

    def remove(self):
        with contextlib.suppress(HarnessError, subprocess.TimeoutExpired):
            self.stop("fast")
        shutil.rmtree(self.dir, ignore_errors=True)


def pg(sql, params=None, dbname=DB, fetch=True):
    connection = psycopg2.connect(
        dbname=dbname, host="127.0.0.1", port=PG_PORT, user=CLUSTER.user, connect_timeout=5
    )
    connection.autocommit = True
    try:
        with connection.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchall() if fetch and cr.description else None
    finally:
        connection.close()


CLUSTER = None


# -- Odoo --------------------------------------------------------------------------------------

CONF = RUN_DIR / "odoo-harness.conf"


def write_conf():
    lines = [
        "[options]",
        f"addons_path = {ADDONS_PATH}",
        f"db_name = {DB}",
        "db_host = 127.0.0.1",
        f"db_port = {PG_PORT}",
        f"db_user = {CLUSTER.user}",
        "list_db = False",
        f"data_dir = {RUN_DIR / 'data'}",
        f"psa_connector_key = {CONNECTOR_KEY}",
        f"http_port = {HTTP_PORT}",
        f"gevent_port = {GEVENT_PORT}",
        "workers = 2",
        "max_cron_threads = 1",
        "server_wide_modules = base,web,queue_job,psa_connector_base",
        f"logfile = {RUN_DIR / 'odoo-harness.log'}",
        "log_level = warn",
        # Webhook refusals are logged at a bounded rate (the intake abuse counts the lines).
        "log_handler = odoo.addons.psa_connector_base.tools.webhook_guard:INFO",
        "limit_time_real = 600",
        "limit_time_cpu = 600",
        # Slow webhook bodies are refused (408) after this many seconds (default 10).
        "psa_connector_webhook_body_timeout = 3",
        "db_maxconn = 32",
        # Unset: the connector's default (10 s); 0 keeps queue_job's own 60 s (for comparison).
        *(
            [f"psa_connector_job_runner_poll = {os.environ['HARNESS_RUNNER_POLL']}"]
            if os.environ.get("HARNESS_RUNNER_POLL")
            else []
        ),
        "",
        "[queue_job]",
        "channels = root:2,root.psa.time_entry:1",
    ]
    CONF.write_text("\n".join(lines) + "\n")


def run_odoo(args, timeout, what, stdin_path=None, env_extra=None):
    command = [PYTHON, ODOO_BIN, *args[:1], "-c", str(CONF), "-d", DB, *args[1:]]
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        completed = subprocess.run(
            command,
            stdin=stdin,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, **(env_extra or {})},
            cwd=ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{what}: no answer within {timeout:.0f}s") from None
    finally:
        if stdin_path:
            stdin.close()
    output = completed.stdout.decode(errors="replace")
    errors = completed.stderr.decode(errors="replace")
    (RUN_DIR / f"odoo-{what}.log").write_text(output + "\n--- stderr ---\n" + errors)
    if completed.returncode != 0 or " ERROR " in errors or " CRITICAL " in errors:
        tail = "\n".join((output + errors).splitlines()[-25:])
        raise HarnessError(f"{what} failed (exit {completed.returncode}):\n{tail}")
    return output


class OdooServer:
    """Odoo with workers = 2 and the queue_job runner, in a process group of its own."""

    def __init__(self):
        self.process = None

    def start(self, timeout=180):
        out = open(RUN_DIR / "odoo-server.out", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [PYTHON, ODOO_BIN, "-c", str(CONF), "-d", DB],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HarnessError(f"Odoo exited with {self.process.returncode} at start")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{ODOO_URL}/web/health", timeout=3).status_code == 200:
                    return
            time.sleep(0.5)
        raise HarnessError(f"Odoo did not answer on :{HTTP_PORT} within {timeout}s")

    def stop(self, sig=signal.SIGTERM):
        if not self.process:
            return
        pgid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # Workers of a killed master are in the same group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.process = None

    def worker_pids(self):
        """Children of the master (its HTTP and cron workers)."""
        if not self.process:
            return set()
        pids = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == self.process.pid:
                    pids.add(int(entry.name))
        return pids


class JsonRpc:
    def __init__(self, login="admin", password="admin"):
        self.session = requests.Session()
        self.login, self.password = login, password
        self.uid = self.call("common", "login", DB, login, password)

    def call(self, service, method, *args, timeout=120):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": list(args)},
            "id": 1,
        }
        response = self.session.post(f"{ODOO_URL}/jsonrpc", json=payload, timeout=timeout)
        answer = response.json()
        if answer.get("error"):
            error = answer["error"]
            raise HarnessError(f"{method}: {error.get('data', {}).get('message') or error}")
        return answer["result"]

    def execute_kw(self, model, method, args, kwargs=None):
        return self.call(
            "object",
            "execute_kw",
            DB,
            self.uid,
            self.password,
            model,
            method,
            args,
            kwargs or {},
        )


# -- Webhook sender ----------------------------------------------------------------------------


class Sender:
    """Posts signed webhooks like a PSA: concurrent, retrying 429/5xx/dropped connections."""

    def __init__(self):
        self.answers = []  # (monotonic time, status or None)
        self.lock = threading.Lock()

    def post_all(
        self,
        code,
        bodies,
        concurrency=CONCURRENCY,
        retry_for=600.0,
        sign_fn=None,
        also_retry=(),
    ):
        """Send every body; return the final status per body (None: gave up)."""
        results = [None] * len(bodies)
        index = iter(range(len(bodies)))
        lock = threading.Lock()

        def worker():
            connection = None
            while True:
                with lock:
                    i = next(index, None)
                if i is None:
                    break
                deadline = time.monotonic() + retry_for
                delay = 0.5
                while True:
                    body = bodies[i]
                    timestamp = str(int(time.time()))
                    headers = {
                        "Content-Type": "application/json",
                        "X-PSA-Timestamp": timestamp,
                        "X-PSA-Signature": signature.sign(WEBHOOK_SECRET, timestamp, body),
                    }
                    if sign_fn:
                        headers = sign_fn(body, headers)
                    status = None
                    try:
                        if connection is None:
                            connection = http.client.HTTPConnection(
                                "127.0.0.1", HTTP_PORT, timeout=60
                            )
                        connection.request(
                            "POST", f"/psa/webhook/{code}", body=body, headers=headers
                        )
                        response = connection.getresponse()
                        response.read()
                        status = response.status
                        if response.getheader("Connection", "").lower() == "close":
                            connection.close()
                            connection = None
                    except (OSError, http.client.HTTPException):
                        if connection:
                            connection.close()
                        connection = None
                    with self.lock:
                        self.answers.append((time.monotonic(), status))
                    retry = status is None or status == 429 or status >= 500
                    retry = retry or status in also_retry
                    if not retry or time.monotonic() > deadline:
                        results[i] = status
                        break
                    time.sleep(delay)
                    delay = min(delay * 2, 4.0)
            if connection:
                connection.close()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    def server_errors(self, since, outages=()):
        """(5xx answers outside the outage windows, 5xx/dropped answers inside them)."""
        counted = excused = 0
        for moment, status in list(self.answers):
            if moment < since or not (status is None or status >= 500):
                continue
            if any(start <= moment <= end for start, end in outages):
                excused += 1
            elif status is not None:
                counted += 1
        return counted, excused


# -- Waiting and checking -----------------------------------------------------------------------


def busy_jobs():
    rows = pg(
        "SELECT state, count(*) FROM queue_job WHERE state IN "
        "('pending', 'enqueued', 'started', 'wait_dependencies') GROUP BY state"
    )
    return dict(rows or [])


def retry_waiting_references(rpc):
    with contextlib.suppress(HarnessError, requests.RequestException):
        rpc.execute_kw("psa.exception", "_cron_retry_arrived_references", [])


def wait_until(what, predicate, timeout=CONVERGE_TIMEOUT, stall=None, poke=None):
    """Poll until ``predicate()`` is true; return the seconds it took."""
    started = time.monotonic()
    next_report = started + 30
    while True:
        try:
            done = predicate()
        except psycopg2.OperationalError:
            done = False
        if done:
            return time.monotonic() - started
        now = time.monotonic()
        if now - started > timeout:
            raise HarnessError(f"{what}: not reached within {timeout:.0f}s; jobs {busy_jobs()}")
        if now > next_report:
            log(f"  ... {what}: waiting ({now - started:.0f}s; jobs {busy_jobs()})")
            next_report = now + 30
            if poke:
                poke()
        time.sleep(0.5)


def settled(backend_id):
    """No job is busy and no event of the backend is still pending."""
    if busy_jobs():
        return False
    rows = pg(
        "SELECT count(*) FROM psa_event WHERE backend_id = %s AND state = 'pending'",
        (backend_id,),
    )
    return rows[0][0] == 0


def check_time_entries(backend_id, expected):
    """Compare the backend's timesheet lines with {external id: hours or None}."""
    bound = pg(
        """SELECT b.external_id, l.unit_amount FROM psa_binding b
             JOIN account_analytic_line l ON l.id = b.res_id
            WHERE b.backend_id = %s AND b.external_type = 'time_entry'
              AND b.res_model = 'account.analytic.line'""",
        (backend_id,),
    )
    lines = dict(bound)
    total_lines = pg(
        """SELECT count(*) FROM account_analytic_line l WHERE l.project_id IN (
               SELECT res_id FROM psa_binding WHERE backend_id = %s AND external_type = 'project'
                  AND res_model = 'project.project')""",
        (backend_id,),
    )[0][0]
    lost, wrong, unexpected = [], [], []
    for external_id, hours in expected.items():
        if hours is None:
            if external_id in lines:
                unexpected.append(external_id)
        elif external_id not in lines:
            lost.append(external_id)
        elif abs(lines[external_id] - hours) > 1e-6:
            wrong.append(f"{external_id}: {lines[external_id]} h, expected {hours}")
    doubled = total_lines - len(lines)
    return {
        "applied": sum(1 for h in expected.values() if h is not None) - len(lost),
        "lost": len(lost) + len(wrong),
        "doubled": doubled + len(unexpected),
        "notes": [f"lost: {lost[:5]}"] * bool(lost)
        + [f"wrong hours: {wrong[:5]}"] * bool(wrong)
        + [f"lines that must not exist: {unexpected[:5]}"] * bool(unexpected)
        + [f"{doubled} line(s) without their own binding"] * bool(doubled),
    }


def check_common(backend_id):
    """Invariants every scenario shares: payloads kept, audit complete, no double billing."""
    problems = []
    rows = pg(
        """SELECT e.event_uid FROM psa_event e WHERE e.backend_id = %s
              AND e.state IN ('failed', 'waiting')
              AND NOT EXISTS (SELECT 1 FROM psa_exception x WHERE x.event_id = e.id
                              AND x.payload = e.payload)""",
        (backend_id,),
    )
    if rows:
        problems.append(f"{len(rows)} failed event(s) without an exception holding the payload")
    rows = pg(
        """SELECT e.event_uid FROM psa_event e WHERE e.backend_id = %s AND e.state = 'done'
              AND e.result NOT LIKE 'updated 0 field%%' AND e.result NOT LIKE 'unchanged%%'
              AND NOT EXISTS (SELECT 1 FROM psa_audit_log a WHERE a.event_id = e.id)""",
        (backend_id,),
    )
    if rows:
        problems.append(f"{len(rows)} applied event(s) without an audit entry: {rows[:3]}")
    rows = pg(
        """SELECT rel.order_line_id, count(*) FROM sale_order_line_invoice_rel rel
             JOIN sale_order_line sl ON sl.id = rel.order_line_id
             JOIN sale_order so ON so.id = sl.order_id
            WHERE sl.psa_line_key ~ '^(milestone|retainer|change_order):'
              AND so.id IN (SELECT res_id FROM psa_binding WHERE backend_id = %s
                              AND res_model = 'sale.order')
            GROUP BY 1 HAVING count(*) > 1""",
        (backend_id,),
    )
    if rows:
        problems.append(f"{len(rows)} order line(s) invoiced twice")
    rows = pg(
        """SELECT so.id, sl.psa_line_key, count(*) FROM sale_order_line sl
             JOIN sale_order so ON so.id = sl.order_id
            WHERE sl.psa_line_key IS NOT NULL AND so.id IN (SELECT res_id FROM psa_binding
                  WHERE backend_id = %s AND res_model = 'sale.order')
            GROUP BY 1, 2 HAVING count(*) > 1""",
        (backend_id,),
    )
    if rows:
        problems.append(f"{len(rows)} billing key(s) with two order lines")
    return problems


def unstored_acknowledged(backend_id, envelopes, statuses):
    """Events answered 200/202 that PostgreSQL does not hold: an acknowledgement broken."""
    acknowledged = [
        str(envelope["id"])
        for envelope, status in zip(envelopes, statuses, strict=True)
        if status in (200, 202)
    ]
    stored = {
        row[0]
        for row in pg(
            "SELECT event_uid FROM psa_event WHERE backend_id = %s AND event_uid = ANY(%s)",
            (backend_id, acknowledged),
        )
    }
    return [uid for uid in acknowledged if uid not in stored]


def exceptions_of(backend_id):
    return pg("SELECT count(*) FROM psa_exception WHERE backend_id = %s", (backend_id,))[0][0]


def skipped_of(backend_id):
    return pg(
        "SELECT count(*) FROM psa_event WHERE backend_id = %s AND state = 'skipped'",
        (backend_id,),
    )[0][0]


# -- The run ----------------------------------------------------------------------------------


class Harness:
    def __init__(self):
        self.server = OdooServer()
        self.simulator = None
        self.sender = Sender()
        self.rows = []
        self.notes = []
        self.started = time.monotonic()

    # Set-up

    def setup(self):
        global CLUSTER
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        CLUSTER = PrivateCluster(PG_PORT)
        log(f"private PostgreSQL cluster on :{PG_PORT} in {CLUSTER.dir}")
        CLUSTER.init()
        write_conf()
        shutil.rmtree(RUN_DIR / "data" / "filestore" / DB, ignore_errors=True)
        pg(f'CREATE DATABASE "{DB}"', dbname="postgres")
        log("installing the suite (about 2 minutes)")
        started = time.monotonic()
        run_odoo(
            [
                "server",
                "-i",
                SUITE_ADDONS,
                "--without-demo=all",
                "--stop-after-init",
                "--logfile=",
                "--log-level=warn",
                "--workers=0",
                "--max-cron-threads=0",
                "--no-http",
            ],
            1800,
            "install",
        )
        log(f"installed in {time.monotonic() - started:.0f}s")
        self.simulator = PsaSimulator(port=SIM_PORT, token=SIM_TOKEN).start()
        master = {
            t: self.simulator.records(t)
            for t in ("customer", "contact", "project", "task", "contract", "employee")
        }
        master_file = RUN_DIR / "master.json"
        master_file.write_text(json.dumps(master))
        output = run_odoo(
            ["shell", "--no-http", "--logfile=", "--log-level=warn"],
            900,
            "setup",
            stdin_path=SCRIPTS / "setup.py",
            env_extra={
                "HARNESS_MASTER": str(master_file),
                "HARNESS_BACKENDS": ",".join(BACKENDS.values()),
                "HARNESS_SIM_URL": self.simulator.url,
                "HARNESS_SIM_TOKEN": SIM_TOKEN,
                "HARNESS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            },
        )
        result = next(
            json.loads(line.split(" ", 1)[1])
            for line in output.splitlines()
            if line.startswith("HARNESS_RESULT ")
        )
        self.backends = result["backends"]
        self.users = result["users"]
        self.other_backend = result["other_backend"]
        if result["pending"]:
            raise HarnessError(f"master data left {result['pending']} event(s) unapplied")
        self.projects = [
            (p["id"], sorted(t["id"] for t in master["task"] if t["project_id"] == p["id"]))
            for p in master["project"]
        ]
        self.employees = [(e["id"], e.get("work_email")) for e in master["employee"]]
        log(f"starting Odoo (workers = 2, queue_job runner) on :{HTTP_PORT}")
        self.server.start()
        self.rpc = JsonRpc()

    def backend_id(self, scenario):
        return self.backends[BACKENDS[scenario]]

    def row(self, name, sent, backend_id, check, duplicates, recover, outages=(), since=0):
        http500, excused = self.sender.server_errors(since, outages)
        common = check_common(backend_id)
        notes = check["notes"] + common
        if excused:
            notes.append(f"{excused} delivery attempt(s) failed during the outage and were retried")
        ok = not (check["lost"] or check["doubled"] or http500 or common or check.get("fail"))
        self.rows.append(
            {
                "scenario": name,
                "sent": sent,
                "applied": check["applied"],
                "duplicates": duplicates,
                "exceptions": exceptions_of(backend_id),
                "lost": check["lost"],
                "doubled": check["doubled"],
                "http500": http500,
                "recover": recover,
                "ok": ok,
            }
        )
        for note in notes:
            self.notes.append(f"{name}: {note}")
        log(f"{name}: {self.rows[-1]}; notes {notes}")

    def converge(self, backend_id, what):
        return wait_until(
            what,
            lambda: settled(backend_id),
            poke=lambda: retry_waiting_references(self.rpc),
        )

    def stream(self, tag, count, seed):
        stream = time_entry_stream(count, seed, tag, self.projects, self.employees)
        for envelope in stream.envelopes:
            if "description" in envelope["data"]:
                envelope["data"]["description"] = f"[{tag}] {envelope['data']['id']}"
        return stream

    # Scenarios

    def scenario_disorder(self):
        backend_id = self.backend_id("disorder")
        stream = self.stream("dis", DISORDER_ENTRIES, SEED)
        log(
            f"disorder: {len(stream.envelopes)} events for {len(stream.expected)} entries "
            f"({stream.redeliveries} re-deliveries, {stream.resent} re-sent, {stream.stale} stale)"
        )
        # Billing events on a backend of their own: their draft invoices would bill the
        # stream's time (a billed line is finance's; later versions become conflicts).
        billing_id = self.backend_id("billing")
        billing, billing_keys = billing_stream(SEED, "dis")
        billing_bodies = [json.dumps(e).encode() for e in billing]
        bodies = stream.bodies()
        since = time.monotonic()
        billing_thread = threading.Thread(
            target=lambda: billing_statuses.extend(
                self.sender.post_all(BACKENDS["billing"], billing_bodies, concurrency=2)
            ),
            daemon=True,
        )
        billing_statuses = []
        billing_thread.start()
        statuses = self.sender.post_all(BACKENDS["disorder"], bodies)
        billing_thread.join()
        statuses += billing_statuses
        duplicates_200 = statuses.count(200)
        unexpected = [s for s in statuses if s not in (200, 202)]
        posted = time.monotonic()
        self.converge(backend_id, "disorder stream applied")
        self.converge(billing_id, "billing events applied")
        recover = time.monotonic() - posted
        check = check_time_entries(backend_id, stream.expected)
        billed = dict(
            pg(
                """SELECT sl.psa_line_key, count(*) FROM sale_order_line sl
                    WHERE sl.order_id IN (SELECT res_id FROM psa_binding WHERE backend_id = %s
                                            AND res_model = 'sale.order')
                      AND sl.psa_line_key = ANY(%s) GROUP BY 1""",
                (billing_id, sorted(billing_keys)),
            )
        )
        billing_problems = check_common(billing_id)
        check["notes"] += [f"billing: {p}" for p in billing_problems]
        check["fail"] = bool(billing_problems)
        missing = sorted(billing_keys - set(billed))
        twice = sorted(k for k, n in billed.items() if n > 1)
        check["notes"].append(
            f"billing: {len(billing)} billing deliveries for {len(billing_keys)} order lines"
        )
        if missing:
            check["notes"].append(f"billing lines missing: {missing[:5]}")
            check["lost"] += len(missing)
        if twice:
            check["notes"].append(f"billing lines doubled: {twice[:5]}")
            check["doubled"] += len(twice)
        if unexpected:
            check["notes"].append(f"answers other than 200/202: {unexpected[:5]}")
            check["lost"] += len(unexpected)
        self.row(
            "duplicates + disorder",
            len(bodies) + len(billing_bodies),
            backend_id,
            check,
            duplicates_200 + skipped_of(backend_id),
            recover,
            since=since,
        )

    def pull_scenario_entries(self, count, seed):
        entries = self.simulator.add_time_entries(
            count, start_date="2026-11-02", days=30, seed=seed
        )
        return entries

    def expected_from_simulator(self):
        return {
            e["id"]: (e["hours"] if e["state"] == "approved" else None)
            for e in self.simulator.records("time_entry")
        }

    def scenario_kill(self):
        """SIGKILL the worker that runs a chunk job, several times, during a pull."""
        backend_id = self.backend_id("kill")
        self.pull_scenario_entries(KILL_ENTRIES, SEED + 1)
        since = time.monotonic()
        self.rpc.execute_kw("psa.backend", "action_pull_now", [[backend_id]])
        kills, killed_at = 0, None
        last_kill, back_after = None, []  # (uuid, when) and how soon a killed job ran again
        deadline = time.monotonic() + 600
        while kills < KILLS and time.monotonic() < deadline:
            rows = pg(
                """SELECT worker_pid, uuid FROM queue_job WHERE state = 'started'
                      AND method_name = '_process_job' AND worker_pid IS NOT NULL
                      AND date_started < now() at time zone 'utc' - interval '0.5 second'
                    LIMIT 1"""
            )
            pids = self.server.worker_pids()
            if rows and rows[0][0] in pids:
                if last_kill and rows[0][1] == last_kill[0]:
                    back_after.append(time.monotonic() - last_kill[1])
                os.kill(rows[0][0], signal.SIGKILL)
                kills += 1
                killed_at = killed_at or time.monotonic()
                last_kill = (rows[0][1], time.monotonic())
                log(f"kill: SIGKILL worker {rows[0][0]} running job {rows[0][1]} ({kills}/{KILLS})")
                time.sleep(3)
            elif settled(backend_id) and not busy_jobs():
                break
            time.sleep(0.1)
        if not kills:
            self.notes.append("kill: no chunk job was caught running; nothing was killed")
        started_dead = time.monotonic()
        self.converge(backend_id, "pull after worker kills")
        recover = time.monotonic() - (killed_at or started_dead)
        requeued = pg(
            "SELECT count(*) FROM queue_job WHERE retry > 0 AND state = 'done' AND date_created >= "
            "(now() at time zone 'utc') - %s * interval '1 second'",
            (time.monotonic() - since + 1,),
        )[0][0]
        check = check_time_entries(backend_id, self.expected_from_simulator())
        check["notes"].append(
            f"{kills} worker(s) killed; {requeued} job(s) of the scenario done after a retry/requeue"
        )
        if back_after:
            check["notes"].append(
                "a killed job ran again after "
                + " / ".join(f"{seconds:.0f}" for seconds in back_after)
                + " s (requeued by the job runner)"
            )
        failed = pg("SELECT count(*) FROM queue_job WHERE state = 'failed'")[0][0]
        if failed:
            check["notes"].append(f"{failed} job(s) failed")
        sent = pg(
            "SELECT count(*) FROM psa_event WHERE backend_id = %s AND object_type = 'time_entry'",
            (backend_id,),
        )[0][0]
        self.row(
            f"SIGKILL worker x{kills} mid-batch",
            sent,
            backend_id,
            check,
            skipped_of(backend_id),
            recover,
            since=since,
        )

    def _post_in_background(self, code, bodies, also_retry=()):
        result = {}

        def run():
            result["statuses"] = self.sender.post_all(
                code, bodies, concurrency=4, also_retry=also_retry
            )

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread, result

    def scenario_pg_restart(self):
        backend_id = self.backend_id("pg_restart")
        stream = self.stream("pg", PG_RESTART_ENTRIES, SEED + 2)
        since = time.monotonic()
        # While PostgreSQL is down the webhook intake answers 503 + Retry-After, which a PSA
        # retries; a 404 (Odoo's no-database fallback) would be taken as final: not retried.
        thread, result = self._post_in_background(BACKENDS["pg_restart"], stream.bodies())
        # Down while the PSA is still delivering: the outage must meet webhooks, not only jobs.
        third = len(stream.envelopes) // 3
        wait_until(
            "a third of the deliveries answered",
            lambda: (
                sum(1 for moment, _status in list(self.sender.answers) if moment >= since) >= third
            ),
            timeout=300,
        )
        applied_before = pg(
            "SELECT count(*) FROM psa_event WHERE backend_id = %s AND state = 'done'",
            (backend_id,),
        )[0][0]
        down = time.monotonic()
        log(f"pg_restart: stopping PostgreSQL (immediate) for {PG_DOWN_SECONDS:.0f}s mid-ingest")
        CLUSTER.stop("immediate")
        time.sleep(PG_DOWN_SECONDS)
        CLUSTER.start()
        up = time.monotonic()
        log("pg_restart: PostgreSQL is back")
        thread.join()
        self.converge(backend_id, "ingest after the PostgreSQL restart")
        recover = time.monotonic() - up
        unavailable = sum(
            1 for moment, status in self.sender.answers if moment >= since and status == 503
        )
        statuses = result["statuses"]
        check = check_time_entries(backend_id, stream.expected)
        check["notes"].append(
            f"stopped after {third} deliveries and {applied_before} events applied; "
            f"{unavailable} delivery attempt(s) answered 503 while PostgreSQL was down, retried"
        )
        bad = [s for s in statuses if s not in (200, 202)]
        if bad:
            check["notes"].append(f"deliveries never accepted: {bad[:5]}")
            check["lost"] += len(bad)
        unstored = unstored_acknowledged(backend_id, stream.envelopes, statuses)
        if unstored:
            check["notes"].append(f"acknowledged but not stored: {unstored[:5]}")
            check["lost"] += len(unstored)
        self.row(
            "PostgreSQL restarted mid-ingest",
            len(stream.envelopes),
            backend_id,
            check,
            statuses.count(200) + skipped_of(backend_id),
            recover,
            outages=[(down, up + 30)],
            since=since,
        )

    def scenario_odoo_restart(self):
        """The whole server (HTTP workers and the job runner) killed mid-ingest, restarted."""
        backend_id = self.backend_id("odoo_restart")
        stream = self.stream("rs", RESTART_ENTRIES, SEED + 3)
        since = time.monotonic()
        thread, result = self._post_in_background(BACKENDS["odoo_restart"], stream.bodies())
        wait_until(
            "jobs running",
            lambda: (
                pg(
                    "SELECT count(*) FROM psa_event WHERE backend_id = %s AND state = 'done'"
                    " AND object_type = 'time_entry'",
                    (backend_id,),
                )[0][0]
                > 20
            ),
            timeout=300,
        )
        down = time.monotonic()
        started = pg("SELECT count(*) FROM queue_job WHERE state IN ('started', 'enqueued')")[0][0]
        log(f"odoo_restart: SIGKILL to the Odoo server group ({started} job(s) started/enqueued)")
        self.server.stop(signal.SIGKILL)
        time.sleep(3)
        self.server.start()
        up = time.monotonic()
        log("odoo_restart: Odoo is back")
        thread.join()
        self.converge(backend_id, "ingest after the Odoo restart")
        recover = time.monotonic() - up
        statuses = result["statuses"]
        check = check_time_entries(backend_id, stream.expected)
        check["notes"].append(f"{started} job(s) were started/enqueued when the server died")
        bad = [s for s in statuses if s not in (200, 202)]
        if bad:
            check["notes"].append(f"deliveries never accepted: {bad[:5]}")
            check["lost"] += len(bad)
        unstored = unstored_acknowledged(backend_id, stream.envelopes, statuses)
        if unstored:
            check["notes"].append(f"acknowledged but not stored: {unstored[:5]}")
            check["lost"] += len(unstored)
        self.row(
            "Odoo + job runner killed, restarted",
            len(stream.envelopes),
            backend_id,
            check,
            statuses.count(200) + skipped_of(backend_id),
            recover,
            outages=[(down, up + 5)],
            since=since,
        )

    def scenario_remote(self):
        """429 storms, 500/503, slow answers, dropped connections, invalid JSON; then calm."""
        backend_id = self.backend_id("remote")
        self.pull_scenario_entries(REMOTE_ENTRIES, SEED + 4)
        since = time.monotonic()
        phases = [
            ("429 storm", {"status": 429, "retry_after": 1}),
            ("500/503", {"status": 503}),
            ("slow past timeout", {"status": 200, "delay": 5, "body": "{}"}),
            ("dropped connections", {"status": 0}),
            ("invalid JSON", {"status": 200, "body": "{not json"}),
            ("500", {"status": 500}),
        ]
        sim = self.simulator
        for name, fault in phases:
            log(f"remote: {name} for {FAULT_SECONDS:.0f}s while pulling")
            sim.add_fault(count=100000, **fault)
            phase_end = time.monotonic() + FAULT_SECONDS
            while time.monotonic() < phase_end:
                self.rpc.execute_kw("psa.backend", "action_pull_now", [[backend_id]])
                time.sleep(min(5, FAULT_SECONDS))
            sim.clear_faults()
        calm = time.monotonic()
        log("remote: faults cleared; the pull must converge")
        expected = self.expected_from_simulator()

        def converged():
            if busy_jobs():
                return False
            check = check_time_entries(backend_id, expected)
            if check["lost"]:
                # What the scheduled pull would do every 5 minutes, compressed.
                self.rpc.execute_kw("psa.backend", "action_pull_now", [[backend_id]])
                return False
            return settled(backend_id)

        wait_until("pull converged after remote faults", converged)
        recover = time.monotonic() - calm
        check = check_time_entries(backend_id, expected)
        remote_errors = pg(
            "SELECT count(*) FROM psa_exception WHERE backend_id = %s AND category = 'remote_error'",
            (backend_id,),
        )[0][0]
        check["notes"].append(f"{remote_errors} remote_error exception(s) raised on the way")
        sent = sum(1 for (_m, path, _s) in sim.requests_log if "/api/" in path)
        self.row(
            "remote faults then recovery",
            sent,
            backend_id,
            check,
            skipped_of(backend_id),
            recover,
            since=since,
        )
        self.notes.append(f"remote: 'sent' counts API requests answered by the simulator ({sent})")

    def scenario_hostile(self):
        backend_id = self.backend_id("hostile")
        code = BACKENDS["hostile"]
        rng = random.Random(SEED + 5)
        valid = self.stream("hx", max(20, FUZZ_BODIES // 6), SEED + 6)
        # SQL/XSS/unicode in every text field of valid, approved entries.
        hostile_valid = []
        for n, envelope in enumerate(valid.envelopes):
            data = envelope["data"]
            if "description" in data:
                # The same hostile text in every version of an entry.
                number = int(data["id"].rsplit("-", 1)[1])
                hostile = HOSTILE_STRINGS[number % len(HOSTILE_STRINGS)]
                data["description"] = f"[hx] {data['id']} {hostile}"
            hostile_valid.append(json.dumps(envelope, ensure_ascii=bool(n % 2)).encode())
        bad_bodies = []
        for n in range(FUZZ_BODIES):
            kind = n % 8
            if kind == 0:
                body = b'{"id": "x", "type": "time_entry.created", "data": {'
            elif kind == 1:
                body = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
            elif kind == 2:
                body = json.dumps(
                    {"id": n, "type": rng.choice(HOSTILE_STRINGS), "occurred_at": "x", "data": []}
                ).encode()
            elif kind == 3:
                body = json.dumps({"id": f"m{n}", "type": "time_entry.created"}).encode()
            elif kind == 4:
                depth = rng.randint(2000, 20000)
                body = b'{"id": "d", "data": ' + b"[" * depth + b"]" * depth + b"}"
            elif kind == 5:
                body = json.dumps(rng.choice([[], "", 0, None, True, 1e308])).encode()
            elif kind == 6:
                body = json.dumps(
                    {
                        "id": f"wrong-{n}",
                        "type": "time_entry.created",
                        "occurred_at": "2026-11-20T10:00:00Z",
                        "data": {
                            "id": ["not", "a", "scalar"],
                            "hours": "eight",
                            "date": 20261116,
                            "project_id": {"$ne": None},
                            "state": rng.choice(HOSTILE_STRINGS),
                        },
                    }
                ).encode()
            else:
                body = ("\ud800" * 3).encode("utf-8", "surrogatepass") + b'{"id": 1}'
            bad_bodies.append(body)
        since = time.monotonic()
        before = exceptions_of(backend_id)
        bad_statuses = self.sender.post_all(code, bad_bodies, retry_for=0)
        valid_statuses = self.sender.post_all(code, hostile_valid, retry_for=0)
        # Refused before storage: too big, unsigned, stale, replayed, unknown backend.
        refused = []
        big = json.dumps({"id": "big", "data": {"x": "a" * (300 * 1024)}}).encode()
        refused.append(("huge body", 413, self.sender.post_all(code, [big], retry_for=0)[0]))

        def headers_with(**changes):
            def sign_fn(body, headers):
                return {**headers, **changes}

            return sign_fn

        probe = hostile_valid[0]
        for name, status, fn, target in (
            ("no signature", 401, headers_with(**{"X-PSA-Signature": ""}), code),
            ("bad signature", 401, headers_with(**{"X-PSA-Signature": "sha256=00"}), code),
            ("non-ASCII signature", 401, headers_with(**{"X-PSA-Signature": "sha256=é"}), code),
            ("stale timestamp", 401, headers_with(**{"X-PSA-Timestamp": "1000000000"}), code),
            ("replayed signature (old timestamp)", 401, self.replayed(probe), code),
            ("unknown backend", 404, None, "no-such-backend"),
        ):
            got = self.sender.post_all(target, [probe], retry_for=0, sign_fn=fn)[0]
            refused.append((name, status, got))
        refused += self.intake_abuse(code)
        posted = time.monotonic()
        self.converge(backend_id, "hostile input processed")
        processed = time.monotonic() - posted
        rejected = sum(1 for s in bad_statuses if s == 400)
        kept = pg(
            "SELECT payload FROM psa_exception WHERE backend_id = %s AND category = 'invalid_payload'"
            " AND event_id IS NULL",
            (backend_id,),
        )
        kept_payloads = {row[0] for row in kept}
        missing = [
            b
            for b, s in zip(bad_bodies, bad_statuses, strict=True)
            if s == 400
            and b.decode("utf-8", errors="replace").replace("\x00", "\\u0000") not in kept_payloads
        ]
        check = check_time_entries(backend_id, valid.expected)
        # Hostile text stored as text: the descriptions came back unchanged.
        stored = dict(
            pg(
                """SELECT b.external_id, l.name FROM psa_binding b
                     JOIN account_analytic_line l ON l.id = b.res_id
                    WHERE b.backend_id = %s AND b.external_type = 'time_entry'""",
                (backend_id,),
            )
        )
        expected_names = {}
        for envelope in valid.envelopes:
            data = envelope["data"]
            if "description" in data:
                expected_names[data["id"]] = data["description"]
        altered = [x for x, name in stored.items() if name != expected_names.get(x, name)]
        if altered:
            check["notes"].append(f"hostile text altered in {len(altered)} line(s)")
            check["lost"] += len(altered)
        # Wrong types inside a valid envelope are accepted (202) and fail in processing,
        # where the failed-event invariant (exception with the payload) applies.
        not_kept = [s for s in bad_statuses if s not in (400, 413, 202)]
        if not_kept:
            check["notes"].append(f"bad bodies answered {sorted(set(map(str, not_kept)))}")
        if missing:
            check["notes"].append(f"{len(missing)} 400 answer(s) without the raw payload kept")
            check["lost"] += len(missing)
        wrong_refusals = [(n, e, g) for n, e, g in refused if g != e]
        if wrong_refusals:
            check["notes"].append(f"refusals: {wrong_refusals}")
            check["lost"] += len(wrong_refusals)
        check["notes"].append(
            f"{rejected} bad bodies -> 400 and kept; {len(refused)} refused before storage "
            f"({', '.join(f'{n}: {g}' for n, _e, g in refused)})"
        )
        sent = len(bad_bodies) + len(hostile_valid) + len(refused)
        self.row(
            "bad + hostile input",
            sent,
            backend_id,
            check,
            valid_statuses.count(200) + skipped_of(backend_id),
            processed,
            since=since,
        )
        new_exceptions = exceptions_of(backend_id) - before
        self.notes.append(f"hostile: {new_exceptions} exception(s) raised for {sent} inputs")

    # Intake abuse: framing, slow bodies and a flood of unknown codes -------------------

    def raw_post(self, path, headers, parts=(), pause=0.0, timeout=30.0):
        """One raw HTTP/1.1 POST; the body parts are sent by a thread while the answer is
        read. Returns (status or None, seconds, body bytes sent when the answer began)."""
        sock = socket.create_connection(("127.0.0.1", HTTP_PORT), timeout=timeout)
        head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        sent = [0]
        answered = threading.Event()

        def send():
            with contextlib.suppress(OSError):
                for part in parts:
                    if answered.is_set():
                        return
                    sock.sendall(part)
                    sent[0] += len(part)
                    if pause:
                        time.sleep(pause)

        started = time.monotonic()
        status = sent_at_answer = None
        try:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            threading.Thread(target=send, daemon=True).start()
            first = sock.recv(4096)
            sent_at_answer = sent[0]
            answered.set()
            status = int(first.split(b" ", 2)[1]) if first.startswith(b"HTTP/") else None
        except (OSError, ValueError, IndexError):
            status = None
        finally:
            answered.set()
            sock.close()
        with self.sender.lock:
            self.sender.answers.append((time.monotonic(), status))
        return status, time.monotonic() - started, sent_at_answer

    def worker_rss_mib(self):
        total = 0
        for pid in self.server.worker_pids():
            with contextlib.suppress(OSError, ValueError, IndexError):
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(
                    next(x for x in status.splitlines() if x.startswith("VmRSS:")).split()[1]
                )
        return total / 1024

    def refusal_log_lines(self):
        logfile = RUN_DIR / "odoo-harness.log"
        if not logfile.exists():
            return 0
        return logfile.read_bytes().count(b"PSA webhook refused")

    def intake_abuse(self, code):
        """Framing abuse and a flood of unknown codes at the webhook endpoint.

        Returns (name, expected status, status) rows for the refusal table; notes the
        time and bytes each took, and the workers' memory before/after the flood.
        """
        path = f"/psa/webhook/{code}"
        limit = 256 * 1024  # the harness backends' max_body_bytes (harness/odoo/setup.py)
        json_type = {"Content-Type": "application/json"}
        big = [b"x" * 65536] * 256  # 16 MiB offered
        chunk = b"%x\r\n" % 4096 + b"c" * 4096 + b"\r\n"
        rows, detail = [], []
        for name, expected, headers, parts, pause in (
            ("Content-Length: -1, 16 MiB", 400, {**json_type, "Content-Length": "-1"}, big, 0),
            ("Content-Length: abc", 400, {**json_type, "Content-Length": "abc"}, [b"{}"], 0),
            ("no Content-Length", 411, json_type, [b"{}"], 0),
            (
                "Content-Length over the limit, 16 MiB",
                413,
                {**json_type, "Content-Length": str(16 * 1024 * 1024)},
                big,
                0,
            ),
            (
                "lying Content-Length (1000, 10 sent)",
                408,
                {**json_type, "Content-Length": "1000"},
                [b"{" * 10],
                0,
            ),
            (
                "chunked, limit + 1 MiB",
                413,
                {**json_type, "Transfer-Encoding": "chunked"},
                [chunk] * ((limit + 1024 * 1024) // 4096),
                0.002,
            ),
            (
                "chunked size line without end",
                400,
                {**json_type, "Transfer-Encoding": "chunked"},
                [b"f" * 4096] * 64,
                0.005,
            ),
            (
                "slow chunked body (1 byte / 0.5 s)",
                408,
                {**json_type, "Transfer-Encoding": "chunked"},
                [b"1\r\n{\r\n"] * 60,
                0.5,
            ),
        ):
            status, seconds, sent = self.raw_post(path, headers, parts, pause)
            rows.append((name, expected, status))
            offered = sum(len(p) for p in parts)
            detail.append(f"{name}: {status} in {seconds:.1f}s, {sent}/{offered} B sent")
        self.notes.append("intake abuse: " + "; ".join(detail))

        # 10,000 distinct unknown codes of the longest valid length, and some invalid ones.
        flood = setting("HARNESS_UNKNOWN_CODES", 10_000, 10_000)
        rss_before = self.worker_rss_mib()
        log_before = self.refusal_log_lines()
        codes = [f"unknown-{n:06d}-" + "u" * 49 for n in range(flood)]
        codes += [f"bad.code.{n}" + "v" * 80 for n in range(200)]
        statuses = collections.Counter()
        index = iter(codes)
        lock = threading.Lock()
        started = time.monotonic()

        def worker():
            while True:
                with lock:
                    unknown = next(index, None)
                if unknown is None:
                    return
                status = None
                with contextlib.suppress(requests.RequestException):
                    status = requests.post(
                        f"{ODOO_URL}/psa/webhook/{unknown}",
                        data=b"{}",
                        headers={"Content-Type": "application/json"},
                        timeout=30,
                    ).status_code
                with lock:
                    statuses[status] += 1
                with self.sender.lock:
                    self.sender.answers.append((time.monotonic(), status))

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONCURRENCY)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        rss_after = self.worker_rss_mib()
        log_lines = self.refusal_log_lines() - log_before
        rows.append(
            (
                f"{len(codes)} unknown/invalid codes",
                404,
                404 if set(statuses) == {404} else dict(statuses),
            )
        )
        self.notes.append(
            f"intake abuse: {flood} unknown codes + 200 invalid ones in {elapsed:.0f}s -> "
            f"{dict(statuses)}; Odoo worker RSS {rss_before:.1f} -> {rss_after:.1f} MiB "
            f"({rss_after - rss_before:+.1f}); {log_lines} refusal log line(s) written"
        )
        return rows

    def replayed(self, body):
        old = str(int(time.time()) - 3600)
        sig = signature.sign(WEBHOOK_SECRET, old, body)

        def sign_fn(_body, headers):
            return {**headers, "X-PSA-Timestamp": old, "X-PSA-Signature": sig}

        return sign_fn

    def scenario_access(self):
        """Each caller tries secrets, bindings, exceptions, audit log, other company, via RPC."""
        backend_id = self.backend_id("hostile")
        exception_id = pg(
            "SELECT id FROM psa_exception WHERE backend_id = %s LIMIT 1", (backend_id,)
        )
        binding_id = pg("SELECT id FROM psa_binding WHERE backend_id = %s LIMIT 1", (backend_id,))
        audit_id = pg("SELECT id FROM psa_audit_log WHERE backend_id = %s LIMIT 1", (backend_id,))
        other_exc = pg(
            "SELECT id FROM psa_exception WHERE backend_id = %s LIMIT 1", (self.other_backend,)
        )
        if not (exception_id and binding_id and audit_id and other_exc):
            raise HarnessError("access: the records to probe are missing")
        exception_id, binding_id = exception_id[0][0], binding_id[0][0]
        audit_id, other_exc = audit_id[0][0], other_exc[0][0]
        connector = {"finance", "manager"}
        operations = [
            ("read secrets", "psa.backend", "read", [[backend_id], ["webhook_secret_encrypted"]], set()),
            ("read backend", "psa.backend", "read", [[backend_id], ["name"]], connector),
            ("read bindings", "psa.binding", "read", [[binding_id], ["external_id"]], connector),
            ("write binding", "psa.binding", "write", [[binding_id], {"external_version": 1}], set()),
            ("read exceptions", "psa.exception", "read", [[exception_id], ["payload"]], connector),
            ("edit payload", "psa.exception", "write", [[exception_id], {"payload": "{}"}], {"manager"}),
            ("read audit", "psa.audit.log", "read", [[audit_id], ["operation"]], connector),
            ("write audit", "psa.audit.log", "write", [[audit_id], {"message": "x"}], set()),
            ("delete audit", "psa.audit.log", "unlink", [[audit_id]], set()),
            ("other company's exception", "psa.exception", "read", [[other_exc], ["payload"]], set()),
        ]  # fmt: skip
        granted, checks = [], 0
        for who, uid in self.users.items():
            login = f"h_{who}"
            for name, model, method, args, allowed in operations:
                if who == "other_co" and name == "other company's exception":
                    continue
                expect = who in allowed and who != "other_co"
                payload = {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "params": {
                        "service": "object",
                        "method": "execute_kw",
                        "args": [DB, uid, login, model, method, args, {}],
                    },
                }
                response = requests.post(f"{ODOO_URL}/jsonrpc", json=payload, timeout=60)
                self.sender.answers.append((time.monotonic(), response.status_code))
                ok = "error" not in response.json()
                checks += 1
                if WEBHOOK_SECRET in response.text:
                    granted.append(f"{who}: {name}: the webhook secret in the answer")
                if ok and not expect:
                    granted.append(f"{who}: {name}")
                elif expect and not ok:
                    self.notes.append(f"access: {who} was refused {name}")
        # No session at all: the web client's RPC route.
        for name, model, method, args, _allowed in operations:
            response = requests.post(
                f"{ODOO_URL}/web/dataset/call_kw",
                json={
                    "jsonrpc": "2.0",
                    "method": "call",
                    "params": {"model": model, "method": method, "args": args, "kwargs": {}},
                },
                timeout=60,
            )
            checks += 1
            if "error" not in response.json():
                granted.append(f"anonymous: {name}")
        self.rows.append(
            {
                "scenario": f"access matrix ({checks} probes)",
                "sent": checks,
                "applied": "-",
                "duplicates": "-",
                "exceptions": "-",
                "lost": 0,
                "doubled": 0,
                "http500": sum(1 for _m, s in self.sender.answers[-checks:] if s == 500),
                "recover": None,
                "ok": not granted,
            }
        )
        for leak in granted:
            self.notes.append(f"access GRANTED that should not be: {leak}")

    def run(self):
        self.setup()
        for name in SCENARIOS:
            method = getattr(self, f"scenario_{name}", None)
            if method is None:
                raise HarnessError(f"unknown scenario {name!r}")
            log(f"=== scenario {name}")
            started = time.monotonic()
            try:
                method()
            except HarnessError as err:
                self.rows.append(
                    {
                        "scenario": name,
                        "sent": "-",
                        "applied": "-",
                        "duplicates": "-",
                        "exceptions": "-",
                        "lost": "?",
                        "doubled": "?",
                        "http500": "?",
                        "recover": None,
                        "ok": False,
                    }
                )
                self.notes.append(f"{name}: FAILED: {str(err)[:400]}")
                log(f"{name}: FAILED: {err}")
                if not self.server.process or self.server.process.poll() is not None:
                    self.server.start()
            log(f"=== {name} took {time.monotonic() - started:.0f}s")

    def cleanup(self):
        self.server.stop()
        if self.simulator:
            self.simulator.stop()
        if CLUSTER and os.environ.get("HARNESS_KEEP") != "1":
            CLUSTER.remove()


def render(harness):
    headers = (
        "scenario",
        "events sent",
        "applied",
        "dup. suppressed",
        "exceptions",
        "lost",
        "doubled",
        "HTTP 500",
        "recover (s)",
        "result",
    )
    rows = []
    for r in harness.rows:
        rows.append(
            (
                r["scenario"],
                r["sent"],
                r["applied"],
                r["duplicates"],
                r["exceptions"],
                r["lost"],
                r["doubled"],
                r["http500"],
                "-" if r["recover"] is None else f"{r['recover']:.1f}",
                "ok" if r["ok"] else "FAIL",
            )
        )
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    out = [
        f"PSA connector reliability harness  {datetime.now().strftime('%Y-%m-%d %H:%M')}  "
        f"{platform.node()}  {os.cpu_count()} CPUs  mode {'short' if SHORT else 'full'}  "
        f"seed {SEED}  total {time.monotonic() - harness.started:.0f} s",
        "Odoo workers=2 + queue_job runner (root:2, root.psa.time_entry:1), private "
        f"PostgreSQL on :{PG_PORT}, demo PSA on :{SIM_PORT}",
        line,
        "  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)),
        line,
    ]
    for row in rows:
        out.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    out.append(line)
    out.extend(f"note: {note}" for note in harness.notes)
    return "\n".join(out)


def main():
    if not (ODOO_SRC and ADDONS_PATH and SUITE_ADDONS):
        raise SystemExit("run through scripts/harness.sh (make harness)")
    harness = Harness()

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    status = 0
    try:
        harness.run()
    except HarnessError as err:
        harness.notes.append(f"FAILED: {str(err)[:500]}")
        log(f"FAILED: {err}")
        status = 2
    except KeyboardInterrupt:
        status = 130
    finally:
        harness.cleanup()
    table = render(harness)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    (RUN_DIR / "harness.txt").write_text(table + "\n")
    print(table)
    if status == 0 and (not harness.rows or not all(r["ok"] for r in harness.rows)):
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
