"""The walkthrough and the log check of scripts/demo_check.sh (see there)."""

import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
import time

import requests
import websocket

from devtools.browser import Browser
from devtools.rpc import RpcError, WebSession

root, port, sim_port, db, run_dir = sys.argv[1:6]
log_offset, sim_offset, nginx_offset = (int(x) for x in sys.argv[6:9])
chromium, run_pid = sys.argv[9], sys.argv[10]
url = f"http://127.0.0.1:{port}"
web = None  # the admin's web session, once Odoo answers
failures = []


def step(text):
    print(f"==> [demo-check] {text}", flush=True)


def alive():
    if run_pid:
        try:
            os.kill(int(run_pid), 0)
        except ProcessLookupError:
            tail = pathlib.Path(run_dir, "run.out").read_text()[-3000:]
            raise SystemExit(f"make run stopped:\n{tail}") from None


def tail(name, offset=0):
    """The lines of a log of the run directory from ``offset`` (bytes) on."""
    path = os.path.join(run_dir, name)
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        f.seek(offset)
        return f.read().splitlines()


def wait(what, check, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        alive()
        try:
            if check():
                return
        except (requests.RequestException, KeyError):
            pass
        time.sleep(2)
    diagnose()
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")


def diagnose():
    """What a timed-out wait saw, printed: CI keeps no run directory, only this output."""

    def show(title, lines):
        print(f"--- {title}", flush=True)
        for line in lines:
            print(f"    {line}", flush=True)

    def log_tail(name, pattern=None, count=25):
        lines = [line for line in tail(name) if not pattern or re.search(pattern, line)]
        return [line[:300] for line in lines[-count:]]

    probes = {
        # `make run` runs in a session of its own (setsid): Odoo, nginx, the demo PSA.
        "make run's processes": lambda: subprocess.run(
            ["ps", "-o", "pid,stat,etime,pcpu,args", "-s", run_pid],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
        if run_pid
        else ["(not started by this check)"],
        "jobs by state": lambda: [
            f"{row['state']}: {row['state_count']}"
            for row in call("queue.job", "read_group", [], ["state"], ["state"])
        ],
        "jobs not done (newest 20)": lambda: [
            f"{row['state']} eta={row['eta']} started={row['date_started']} "
            f"retry={row['retry']} {row['name']}: {(row['exc_info'] or '').strip()[-300:]}"
            for row in call(
                "queue.job",
                "search_read",
                [("state", "!=", "done")],
                ["state", "eta", "date_started", "retry", "name", "exc_info"],
                order="id desc",
                limit=20,
            )
        ],
        "bindings by type": lambda: [
            f"{row['external_type']}: {row['external_type_count']}"
            for row in call("psa.binding", "read_group", [], ["external_type"], ["external_type"])
        ],
        "exception queue (newest 10)": lambda: [
            f"{row['category']} {row['object_type']} {row['external_id']}: {row['name']}"
            for row in call(
                "psa.exception",
                "search_read",
                [],
                ["category", "object_type", "external_id", "name"],
                order="id desc",
                limit=10,
            )
        ],
        "circuit breakers": lambda: [
            f"{row['backend_id'][1]}: {row['state']} failures={row['failures']} "
            f"open_until={row['open_until']} {row['last_error'] or ''}"
            for row in call(
                "psa.backend.breaker",
                "search_read",
                [],
                ["backend_id", "state", "failures", "open_until", "last_error"],
            )
        ],
        "odoo.log, warnings and errors": lambda: log_tail(
            "odoo.log", r" (WARNING|ERROR|CRITICAL) "
        ),
        "odoo.log, last lines": lambda: log_tail("odoo.log", count=15),
        "simulator.log, last lines": lambda: log_tail("simulator.log", count=15),
        "run.out, last lines": lambda: log_tail("run.out", count=15),
    }
    for title, probe in probes.items():
        try:
            show(title, probe())
        except (Exception, SystemExit) as err:  # a probe's failure must not hide the others
            show(title, [f"(could not read: {err})"])


def call(model, method, *args, **kwargs):
    try:
        return web.call_kw(model, method, *args, **kwargs)
    except RpcError as err:
        raise SystemExit(str(err)) from None


def bound(external_type, external_id):
    rows = call(
        "psa.binding",
        "search_read",
        [("external_type", "=", external_type), ("external_id", "=", external_id)],
        ["res_id"],
    )
    return rows[0]["res_id"] if rows else None


def jobs_idle():
    busy = call("queue.job", "search_count", [("state", "in", ("pending", "enqueued", "started"))])
    return busy == 0


step(f"waiting for Odoo behind the proxy on {url}")
wait("the login page", lambda: requests.get(f"{url}/web/login", timeout=10).status_code == 200, 600)
# nginx answers 502 until Odoo listens (the wait above asked): its log counts from here.
nginx_offset = max(nginx_offset, os.path.getsize(os.path.join(run_dir, "nginx-error.log")))
try:
    web = WebSession(url, db)
except RpcError as err:
    raise SystemExit(str(err)) from None

step("waiting for the first pulls (projects, contracts, time)")
wait(
    "the first pulls",
    lambda: bound("project", "P-2001")
    and bound("contract", "K-6503")
    and bound("time_entry", "TE-5001")
    and jobs_idle(),
    int(os.environ.get("DEMO_CHECK_FIRST_PULL_TIMEOUT", 300)),
)

# The README's walkthrough, as written there, against this demo PSA.
readme = pathlib.Path(root, "README.md").read_text()
section = readme.split("## What `make run` shows", 1)[1].split("\n## ", 1)[0]
commands = [line for line in section.splitlines() if line.startswith("python3 -m psa_simulator")]
assert len(commands) >= 5, commands
for line in commands:
    argv = [sys.executable, *shlex.split(line)[1:], "--url", f"http://127.0.0.1:{sim_port}"]
    step(line)
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=60)
    if done.returncode:
        failures.append(f"{line}: exit {done.returncode}: {done.stderr[-500:]}")


def applied():
    project = call("project.project", "read", [bound("project", "P-2001")], ["name"])[0]
    task = call(
        "project.task",
        "search_count",
        [("project_id.name", "=", "ERP rollout, phase 2"), ("name", "=", "Go-live support")],
    )
    [line] = call(
        "account.analytic.line", "read", [bound("time_entry", "TE-5001")], ["unit_amount"]
    )
    milestone = call(
        "psa.billing.event.record",
        "search_read",
        [("contract_ref", "=", "K-6503"), ("invoice_id", "!=", False)],
        ["invoice_id"],
    )
    return (
        project["name"] == "ERP rollout, phase 2"
        and task == 1
        and line["unit_amount"] == 7.5
        and milestone
        and jobs_idle()
    )


step("waiting for the walkthrough's changes to arrive and apply")
wait("the walkthrough's changes in Odoo", applied, 180)
# Then, as the README goes on: Configuration > Backends > Demo PSA > Create draft invoices.
[backend] = call("psa.backend", "search", [("code", "=", "demo")])
step("Demo PSA backend: Create draft invoices")
call("psa.backend", "action_create_draft_invoices", [backend])
wait("the draft invoices' jobs", jobs_idle, 120)
drafts = call(
    "account.move", "search_count", [("move_type", "=", "out_invoice"), ("state", "=", "draft")]
)
if drafts < 2:
    failures.append(f"expected draft invoices for the milestone and the T&M time, found {drafts}")

step("the UK legal entity: its project, contract and time in the UK company, invoiced in GBP")
[uk] = call("res.company", "search_read", [("currency_id.name", "=", "GBP")], ["id"], limit=1) or [
    {"id": None}
]
uk_project = bound("project", "P-2004")
uk_order = bound("contract", "K-6504")
uk_line = bound("time_entry", "TE-5501")
if not (uk["id"] and uk_project and uk_order and uk_line):
    failures.append(
        f"UK entity not applied: company {uk['id']}, project {uk_project}, order {uk_order}, "
        f"time {uk_line}"
    )
else:
    context = {"allowed_company_ids": [uk["id"]]}
    for model, record in (
        ("project.project", uk_project),
        ("sale.order", uk_order),
        ("account.analytic.line", uk_line),
    ):
        [row] = call(model, "read", [record], ["company_id"], context=context)
        if row["company_id"][0] != uk["id"]:
            failures.append(f"{model} {record} is in {row['company_id']}, not the UK company")
    uk_drafts = call(
        "account.move",
        "search_count",
        [("company_id", "=", uk["id"]), ("currency_id.name", "=", "GBP"), ("state", "=", "draft")],
        context=context,
    )
    if not uk_drafts:
        failures.append("no draft GBP invoice in the UK company")
    # The contracts' tax codes (VAT-STD: 20 % in the UK company, 19 % in the German one).
    for contract, company_context, rate in (("K-6504", context, 0.20), ("K-6501", {}, 0.19)):
        order = bound("contract", contract)
        invoices = call(
            "account.move",
            "search_read",
            [("line_ids.sale_line_ids.order_id", "=", order), ("state", "=", "draft")],
            ["amount_untaxed", "amount_tax"],
            context=company_context,
        )
        wrong = [
            invoice
            for invoice in invoices
            if abs(invoice["amount_tax"] - round(invoice["amount_untaxed"] * rate, 2)) > 0.011
        ]
        if not invoices or wrong:
            failures.append(f"{contract}: draft invoices {invoices} do not carry {rate:.0%} VAT")

step("cash and ageing: the demo's paid and overdue invoices in the financials")


def cash_shown():
    [totals] = call(
        "psa.project.financial",
        "read_group",
        [("project_id", "=", bound("project", "P-2001"))],
        ["cash_collected:sum", "overdue_31_60:sum"],
        [],
    )
    return (totals["cash_collected"] or 0) > 0 and (totals["overdue_31_60"] or 0) > 0


wait("cash collected and a 31-60 days overdue bucket on P-2001", cash_shown, 240)
health = call("psa.account.health", "search_read", [("overdue_31_60", ">", 0)], ["status", "dso"])
if not health:
    failures.append("no customer with an overdue receivable under Account Health")

step("lead to cash: the demo opportunity marked won becomes a PSA engagement")
[lead] = call(
    "crm.lead", "search", [("name", "=", "Tailspin Toys: retail analytics assessment")]
) or [None]
if not lead:
    failures.append("the demo opportunity 'Tailspin Toys: retail analytics assessment' is missing")
else:
    call("crm.lead", "action_set_won", [lead])
    won_at = time.time()

    def engagement_created():
        [row] = call("crm.lead", "read", [lead], ["psa_engagement_state", "psa_project_id"])
        return row["psa_engagement_state"] == "created" and row["psa_project_id"]

    wait("the won opportunity's engagement", engagement_created, 120)
    step(f"engagement created and imported {time.time() - won_at:.1f}s after Won")
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "psa_simulator",
            "list",
            "projects",
            "--url",
            f"http://127.0.0.1:{sim_port}",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    if listed.count("ASSESSMENT") != 1:
        failures.append(
            f"the demo PSA lists {listed.count('ASSESSMENT')} ASSESSMENT projects, not 1"
        )

step("opening pages and the bus through the proxy")
for path in (
    "/odoo",
    "/odoo/action-psa_connector_billing.action_psa_project_financial",
    "/odoo/action-psa_connector_billing.action_psa_account_health",
):
    status = web.session.get(f"{url}{path}", timeout=60).status_code
    if status != 200:
        failures.append(f"GET {path} answered {status}")
ws = websocket.create_connection(
    f"ws://127.0.0.1:{port}/websocket?version=18.0",
    origin=url,
    cookie=f"session_id={web.session_id}",
    timeout=30,
)
if ws.getstatus() != 101:
    failures.append(f"/websocket answered {ws.getstatus()}, not 101")
ws.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}}))
ws.close()

if chromium:
    # The web client as a user opens it: the financials pivot, and the bus's own
    # websocket from the browser's worker.
    browser = Browser(chromium)
    try:
        browser.send("Network.setCookie", name="session_id", value=web.session_id, url=url)
        browser.send(
            "Page.navigate",
            url=f"{url}/odoo/action-psa_connector_billing.action_psa_project_financial",
        )
        deadline = time.time() + 90
        while time.time() < deadline:
            state = browser.evaluate(
                "document.querySelector('.o_error_dialog, .o_dialog .modal-title') ? 'error'"
                " : document.querySelector('.o_pivot_view .o_pivot') ? 'pivot' : ''"
            )
            if state:
                break
            time.sleep(0.5)
        if state != "pivot":
            failures.append(f"the financials pivot did not open in Chromium ({state or 'timeout'})")
        time.sleep(5)  # the bus worker connects
    finally:
        browser.close()
    access = pathlib.Path(run_dir, "nginx-access.log").read_text()
    if not re.search(r'"GET /websocket[^"]*" 101 ', access):
        failures.append("the browser's bus never opened /websocket through the proxy (no 101)")

# Give the workers a moment to write what they log, then read the logs.
time.sleep(3)


for name, offset, pattern in (
    # An IAP call is Odoo contacting its paid online services: the demo runs offline
    # (a call that hangs on a network that drops it starves the cron workers).
    ("odoo.log", log_offset, r" (ERROR|CRITICAL) |Traceback| iap jsonrpc "),
    ("simulator.log", sim_offset, r"Traceback|ERROR"),
    ("nginx-error.log", nginx_offset, r"\[(error|crit|alert|emerg)\]"),
):
    lines = tail(name, offset)
    bad = [i for i, text in enumerate(lines) if re.search(pattern, text)]
    for i in bad[:5]:
        failures.append(f"{name}: " + "\n    ".join(lines[i : i + 12]))
    step(f"{name}: {len(lines)} lines, {len(bad)} error lines")

if failures:
    print("\nFAILED:\n- " + "\n- ".join(failures), file=sys.stderr)
    raise SystemExit(1)
