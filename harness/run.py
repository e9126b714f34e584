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

import json
import os
import platform
import shutil
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from devtools import ToolError, interrupt_on_sigterm
from devtools.odoo_process import Odoo, OdooServer
from devtools.pg import PrivateCluster
from devtools.rpc import JsonRpc
from psa_simulator import PsaSimulator

from .common import (
    ADDONS_PATH,
    BACKENDS,
    CONNECTOR_KEY,
    DB,
    GEVENT_PORT,
    HTTP_PORT,
    ODOO_SRC,
    ODOO_URL,
    PG_BIN,
    PG_PORT,
    PYTHON,
    RUN_DIR,
    SEED,
    SHORT,
    SIM_PORT,
    SIM_TOKEN,
    SUITE_ADDONS,
    WEBHOOK_SECRET,
    HarnessError,
    Sender,
    check_common,
    check_time_entries,
    exceptions_of,
    log,
    retry_waiting_references,
    settled,
    skipped_of,
    unstored_acknowledged,
    use_cluster,
    wait_until,
)
from .scenarios import (
    access,
    disorder,
    hostile,
    kill,
    multinode,
    odoo_restart,
    pg_restart,
    remote,
)
from .streams import time_entry_stream

SCRIPTS = Path(__file__).resolve().parent / "odoo"
# Each scenario is one module of harness/scenarios with run(harness); run in this order.
SCENARIO_RUNNERS = {
    "disorder": disorder.run,
    "kill": kill.run,
    "pg_restart": pg_restart.run,
    "odoo_restart": odoo_restart.run,
    "multinode": multinode.run,
    "remote": remote.run,
    "hostile": hostile.run,
    "access": access.run,
}
SCENARIOS = [
    s.strip()
    for s in os.environ.get("HARNESS_SCENARIOS", ",".join(SCENARIO_RUNNERS)).split(",")
    if s.strip()
]

CONF = RUN_DIR / "odoo-harness.conf"
# Time entry lanes (README "Production topology"), as `make bench` runs them: every
# scenario's invariants hold with chunks of different projects applied side by side.
# HARNESS_LANES=1: one time entry job at a time, as before lanes.
LANES = max(1, int(os.environ.get("HARNESS_LANES", "3")))
CHANNELS = "root:2," + (
    ",".join(
        [f"root.psa.time_entry:{min(LANES, 2)}"]
        + [f"root.psa.time_entry.lane{lane}:1" for lane in range(LANES)]
    )
    if LANES > 1
    else "root.psa.time_entry:1"
)


def write_conf(db_user):
    lines = [
        "[options]",
        f"addons_path = {ADDONS_PATH}",
        f"db_name = {DB}",
        "db_host = 127.0.0.1",
        f"db_port = {PG_PORT}",
        f"db_user = {db_user}",
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
        f"channels = {CHANNELS}",
    ]
    CONF.write_text("\n".join(lines) + "\n")


ODOO = Odoo(odoo_src=ODOO_SRC, python=PYTHON, conf=CONF, db=DB, run_dir=RUN_DIR)


class Delivery:
    """A stream posted to one scenario's backend by the harness's sender (concurrency 4,
    retrying as a PSA does), in a thread of its own; ``statuses`` once ``wait()`` returns."""

    def __init__(self, harness, scenario, stream):
        self.backend_id = harness.backend_id(scenario)
        self.stream = stream
        self.since = time.monotonic()
        self.statuses = None
        self.thread = threading.Thread(
            target=self._post, args=(harness.sender, BACKENDS[scenario]), daemon=True
        )
        self.thread.start()

    def _post(self, sender, code):
        self.statuses = sender.post_all(code, self.stream.bodies(), concurrency=4)

    def wait(self):
        self.thread.join()
        return self.statuses


class Harness:
    def __init__(self):
        self.server = OdooServer(ODOO, ODOO_URL)
        self.cluster = None
        self.simulator = None
        self.sender = Sender()
        self.rows = []
        self.notes = []
        self.started = time.monotonic()

    # Set-up

    def setup(self):
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        self.cluster = PrivateCluster(PG_PORT, PG_BIN, prefix=f"{DB}-pg-")
        log(f"private PostgreSQL cluster on :{PG_PORT} in {self.cluster.dir}")
        self.cluster.init()
        use_cluster(self.cluster)
        write_conf(self.cluster.user)
        shutil.rmtree(RUN_DIR / "data" / "filestore" / DB, ignore_errors=True)
        self.cluster.postgres().create_database(DB)
        log("installing the suite (about 2 minutes)")
        started = time.monotonic()
        ODOO.install(SUITE_ADDONS, 1800, strict=True)
        log(f"installed in {time.monotonic() - started:.0f}s")
        self.simulator = PsaSimulator(port=SIM_PORT, token=SIM_TOKEN).start()
        master = {
            t: self.simulator.records(t)
            for t in ("customer", "contact", "project", "task", "contract", "employee")
        }
        master_file = RUN_DIR / "master.json"
        master_file.write_text(json.dumps(master))
        result = ODOO.shell(
            SCRIPTS / "setup.py",
            "setup",
            900,
            "HARNESS_RESULT",
            {
                "HARNESS_MASTER": master_file,
                "HARNESS_BACKENDS": ",".join(BACKENDS.values()),
                "HARNESS_SIM_URL": self.simulator.url,
                "HARNESS_SIM_TOKEN": SIM_TOKEN,
                "HARNESS_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "HARNESS_LANES": str(LANES),
            },
            strict=True,
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
        self.rpc = JsonRpc(ODOO_URL, DB)

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

    def entries_to_pull(self, scenario, count, seed):
        """``count`` new time entries in the demo PSA, for ``scenario``'s backend to pull;
        returns that backend's id."""
        self.simulator.add_time_entries(count, start_date="2026-11-02", days=30, seed=seed)
        return self.backend_id(scenario)

    def expected_from_simulator(self):
        return {
            e["id"]: (e["hours"] if e["state"] == "approved" else None)
            for e in self.simulator.records("time_entry")
        }

    def deliver_in_background(self, scenario, tag, count, seed):
        """A stream for ``scenario``'s backend, posted while the scenario breaks things."""
        return Delivery(self, scenario, self.stream(tag, count, seed))

    def delivery_row(self, delivery, name, note, recover, outage):
        """The row of a scenario whose PSA delivered through an outage: every delivery
        accepted in the end, every acknowledged one stored, then the invariants."""
        backend_id, stream, statuses = delivery.backend_id, delivery.stream, delivery.statuses
        check = check_time_entries(backend_id, stream.expected)
        check["notes"].append(note)
        bad = [s for s in statuses if s not in (200, 202)]
        if bad:
            check["notes"].append(f"deliveries never accepted: {bad[:5]}")
            check["lost"] += len(bad)
        unstored = unstored_acknowledged(backend_id, stream.envelopes, statuses)
        if unstored:
            check["notes"].append(f"acknowledged but not stored: {unstored[:5]}")
            check["lost"] += len(unstored)
        duplicates = statuses.count(200) + skipped_of(backend_id)
        sent = len(stream.envelopes)
        self.row(name, sent, backend_id, check, duplicates, recover, [outage], delivery.since)

    def outage(self, stop, seconds, start, back):
        """``stop()``, and ``seconds`` later ``start()``: returns the window (down, up)."""
        down = time.monotonic()
        stop()
        time.sleep(seconds)
        start()
        up = time.monotonic()
        log(back)
        return down, up

    def recovered(self, delivery, what, up):
        """The delivery finished and its backend converged: the seconds since ``up``."""
        delivery.wait()
        self.converge(delivery.backend_id, what)
        return time.monotonic() - up

    def pull_row(self, name, sent, backend_id, check, recover, since):
        """The row of a pull scenario: its suppressed duplicates are the skipped events."""
        self.row(name, sent, backend_id, check, skipped_of(backend_id), recover, since=since)

    def run(self):
        self.setup()
        for name in SCENARIOS:
            scenario = SCENARIO_RUNNERS.get(name)
            if scenario is None:
                raise HarnessError(f"unknown scenario {name!r}")
            log(f"=== scenario {name}")
            started = time.monotonic()
            try:
                scenario(self)
            except ToolError as err:
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
                if not self.server.running:
                    self.server.start()
            log(f"=== {name} took {time.monotonic() - started:.0f}s")

    def cleanup(self):
        self.server.stop()
        if self.simulator:
            self.simulator.stop()
        if self.cluster and os.environ.get("HARNESS_KEEP") != "1":
            self.cluster.remove()


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
        f"Odoo workers=2 + queue_job runner ({CHANNELS}; time entry lanes {LANES}), private "
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
    interrupt_on_sigterm()
    status = 0
    try:
        harness.run()
    except ToolError as err:
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
