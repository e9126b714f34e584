"""What the harness's run and its scenarios share: the settings (environment variables),
PostgreSQL of the private cluster, the webhook sender, and the waits and invariant checks
run after each scenario (see harness/run.py for the whole picture)."""

import contextlib
import http.client
import importlib.util
import os
import sys
import threading
import time
from pathlib import Path

import psycopg2
import requests

from devtools import ToolError, make_log

ROOT = Path(__file__).resolve().parent.parent
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
ODOO_URL = f"http://127.0.0.1:{HTTP_PORT}"
PG_BIN = Path(os.environ.get("HARNESS_PG_BIN", "/usr/lib/postgresql/15/bin"))
SIM_TOKEN = "harness-token"
WEBHOOK_SECRET = "whsec-harness-" + os.urandom(8).hex()
SEED = int(os.environ.get("HARNESS_SEED", "20261120"))

# The sizes and durations of each scenario are in its module (harness/scenarios).
CONCURRENCY = setting("HARNESS_CONCURRENCY", 8, 4)
CONVERGE_TIMEOUT = setting("HARNESS_CONVERGE_TIMEOUT", 900.0, 420.0)
BACKENDS = {
    "disorder": "h-disorder",
    "kill": "h-kill",
    "pg_restart": "h-pg",
    "odoo_restart": "h-restart",
    "remote": "h-remote",
    "hostile": "h-hostile",
    "billing": "h-billing",
    "multinode": "h-multinode",
}

_spec = importlib.util.spec_from_file_location(
    "psa_signature", ROOT / "psa_connector_base" / "tools" / "signature.py"
)
signature = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(signature)


class HarnessError(ToolError):
    pass


log = make_log("harness")

# The private cluster's PostgreSQL, once harness.run has created it (use_cluster).
_postgres = None


def use_cluster(cluster):
    global _postgres
    _postgres = cluster.postgres(DB)


def pg(sql, params=None, dbname=None, fetch=True):
    return _postgres.query(sql, params, dbname=dbname, fetch=fetch)


# -- Webhook sender ----------------------------------------------------------------------------


class Sender:
    """Posts signed webhooks like a PSA: concurrent, retrying 429/5xx/dropped connections."""

    def __init__(self, port=HTTP_PORT):
        self.answers = []  # (monotonic time, status or None)
        self.lock = threading.Lock()
        self.port = port  # Odoo's, or a load balancer's in front of several nodes

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
                                "127.0.0.1", self.port, timeout=60
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
    with contextlib.suppress(ToolError, requests.RequestException):
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
