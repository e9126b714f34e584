"""End-to-end tests over real loopback HTTP: simulator, webhook receiver and CLI."""

import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from psa_simulator import PsaSimulator, sign
from psa_simulator.seed import generate_time_entries

TOKEN = "demo-token"
SECRET = "whsec-test"
REPO_ROOT = Path(__file__).resolve().parents[2]


def call(simulator, method, path, payload=None, token=TOKEN, raw=None, headers=None):
    """Return (status, headers, decoded JSON or None) for one API request."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (None if payload is None else json.dumps(payload).encode())
    request = urllib.request.Request(
        simulator.url + path, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer_headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, body = error.code, error.headers, error.read()
    return status, answer_headers, json.loads(body) if body else None


class WebhookReceiver:
    """A tiny local webhook endpoint answering a scripted list of statuses, then 202."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.received = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.arrived:
                    receiver.received.append((dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 202
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/psa/webhook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def simulator():
    with PsaSimulator() as running:
        yield running


@pytest.fixture
def receiver():
    endpoint = WebhookReceiver()
    yield endpoint
    endpoint.close()


def test_requests_without_valid_token_are_rejected(simulator):
    for token in (None, "wrong-token"):
        status, _headers, body = call(simulator, "GET", "/api/v1/projects", token=token)
        assert status == 401
        assert body == {"error": "invalid or missing bearer token"}
    status, _headers, account = call(simulator, "GET", "/api/v1/account")
    assert status == 200
    assert account["name"] == "Demo PSA"
    assert "time_entries" in account["collections"]


def test_unknown_collection_and_record_are_404(simulator):
    assert call(simulator, "GET", "/api/v1/purchase_orders")[0] == 404
    assert call(simulator, "GET", "/api/v1/projects/P-9999")[0] == 404
    status, _headers, project = call(simulator, "GET", "/api/v1/projects/P-2001")
    assert status == 200
    assert project["code"] == "NW-ERP-26"


def test_list_paginates_in_updated_at_order(simulator):
    ids = []
    page = 1
    while page:
        status, _headers, answer = call(
            simulator, "GET", f"/api/v1/time_entries?per_page=7&page={page}"
        )
        assert status == 200
        assert answer["meta"]["per_page"] == 7
        assert answer["meta"]["total"] == 20
        assert len(answer["data"]) <= 7
        ids.extend(record["id"] for record in answer["data"])
        page = answer["meta"]["next_page"]
    assert ids == [f"TE-{number}" for number in range(5001, 5021)]
    _status, _headers, last = call(simulator, "GET", "/api/v1/time_entries?per_page=7&page=3")
    assert last["meta"]["next_page"] is None
    for bad_query in ("per_page=501", "page=0", "page=abc", "updated_since=yesterday"):
        assert call(simulator, "GET", f"/api/v1/time_entries?{bad_query}")[0] == 400


def test_updated_since_is_inclusive(simulator):
    projects = simulator.records("projects")
    since = projects[1]["updated_at"]
    _status, _headers, answer = call(simulator, "GET", f"/api/v1/projects?updated_since={since}")
    assert [p["id"] for p in answer["data"]] == [p["id"] for p in projects[1:]]
    assert answer["meta"]["total"] == 2
    # An offset written out unencoded still parses.
    offset_form = since.replace("Z", "+00:00")
    _status, _headers, same = call(
        simulator, "GET", f"/api/v1/projects?updated_since={offset_form}"
    )
    assert same["data"] == answer["data"]


def test_create_patch_delete_keep_versions_and_timestamps_monotonic(simulator):
    status, _headers, created = call(
        simulator, "POST", "/api/v1/projects", {"name": "Internal Tooling", "customer_id": "C-1001"}
    )
    assert status == 201
    assert created["id"] == "P-2004"
    assert created["version"] == 1
    assert created["created_at"] == created["updated_at"]
    assert call(simulator, "POST", "/api/v1/projects", {"id": "P-2004"})[0] == 409

    previous = created
    for hours in (10, 20, 30):  # back to back, often within the same microsecond
        status, _headers, patched = call(
            simulator, "PATCH", "/api/v1/projects/P-2004", {"budget_hours": hours, "version": 99}
        )
        assert status == 200
        assert patched["budget_hours"] == hours
        assert patched["version"] == previous["version"] + 1
        assert patched["updated_at"] > previous["updated_at"]
        previous = patched
    # The patched record now sorts last and is the only one seen since its stamp.
    _status, _headers, answer = call(
        simulator, "GET", f"/api/v1/projects?updated_since={previous['updated_at']}"
    )
    assert [p["id"] for p in answer["data"]] == ["P-2004"]

    assert call(simulator, "PATCH", "/api/v1/projects/P-2004", raw=b"{not json")[0] == 400
    assert call(simulator, "DELETE", "/api/v1/projects/P-2004")[0] == 204
    assert call(simulator, "GET", "/api/v1/projects/P-2004")[0] == 404
    _status, _headers, listing = call(simulator, "GET", "/api/v1/projects")
    assert "P-2004" not in [p["id"] for p in listing["data"]]


def test_oversized_body_is_rejected(simulator):
    status, _headers, _body = call(
        simulator, "POST", "/api/v1/projects", raw=b"x" * (5 * 1024 * 1024 + 1)
    )
    assert status == 413


def test_webhook_is_signed_and_carries_the_envelope(receiver):
    with PsaSimulator(webhook_url=receiver.url, webhook_secret=SECRET) as simulator:
        status, _headers, patched = call(
            simulator, "PATCH", "/api/v1/projects/P-2002", {"state": "on_hold"}
        )
        assert status == 200
        [delivery] = simulator.wait_for_deliveries(1)

    assert delivery["delivered"] is True
    assert delivery["status"] == 202
    [(headers, body)] = receiver.received
    assert {"Content-Type", "X-PSA-Timestamp", "X-PSA-Signature"} <= set(headers)
    assert headers["Content-Type"] == "application/json"
    timestamp = headers["X-PSA-Timestamp"]
    expected = hmac.new(
        SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-PSA-Signature"] == f"sha256={expected}"
    assert sign(SECRET, int(timestamp), body) == expected
    event = json.loads(body)
    assert event["id"].startswith("evt_") and len(event["id"]) == 36
    assert event["type"] == "project.updated"
    assert event["occurred_at"].endswith("Z")
    assert event["data"] == patched
    assert delivery["event_id"] == event["id"]


def test_deleted_event_carries_id_and_bumped_version(receiver):
    with PsaSimulator(webhook_url=receiver.url, webhook_secret=SECRET) as simulator:
        simulator.delete("tasks", "T-3010")
        simulator.wait_for_deliveries(1)
    event = json.loads(receiver.received[0][1])
    assert event["type"] == "task.deleted"
    assert set(event["data"]) == {"id", "updated_at", "version"}
    assert event["data"]["id"] == "T-3010"
    assert event["data"]["version"] == 2


def test_external_ref_write_back_is_silent(receiver):
    with PsaSimulator(webhook_url=receiver.url, webhook_secret=SECRET) as simulator:
        before = simulator.get("projects", "P-2001")
        reference = {"id": 12, "model": "project.project", "analytic_account_code": "P-2001"}
        status, _headers, record = call(
            simulator, "PUT", "/api/v1/projects/P-2001/external_refs/odoo", reference
        )
        assert status == 200
        assert record["external_refs"] == {"odoo": reference}
        assert record["version"] == before["version"]
        assert record["updated_at"] == before["updated_at"]
        # A later mutation is the first and only event: the write-back queued nothing.
        simulator.update("customers", "C-1001", {"phone": "+49 40 5550 9999"})
        deliveries = simulator.wait_for_deliveries(1)
    assert [d["type"] for d in deliveries] == ["customer.updated"]
    assert len(receiver.received) == 1


def test_failed_delivery_is_retried_with_the_same_event():
    receiver = WebhookReceiver(statuses=[503])
    try:
        with PsaSimulator(webhook_url=receiver.url, webhook_secret=SECRET) as simulator:
            simulator.create("contacts", {"customer_id": "C-1003", "name": "Dana Lee"})
            [delivery] = simulator.wait_for_deliveries(1)
    finally:
        receiver.close()
    assert delivery["attempts"] == 2
    assert delivery["delivered"] is True
    first, second = (json.loads(body) for _headers, body in receiver.received)
    assert first == second
    assert first["type"] == "contact.created"
    for headers, body in receiver.received:
        expected = sign(SECRET, headers["X-PSA-Timestamp"], body)
        assert headers["X-PSA-Signature"] == f"sha256={expected}"


def test_client_errors_are_not_retried():
    receiver = WebhookReceiver(statuses=[400])
    try:
        with PsaSimulator(webhook_url=receiver.url, webhook_secret=SECRET) as simulator:
            simulator.update("employees", "E-4004", {"job_title": "Senior Engineer"})
            [delivery] = simulator.wait_for_deliveries(1)
    finally:
        receiver.close()
    assert delivery == {**delivery, "status": 400, "attempts": 1, "delivered": False}


def test_announce_sends_parents_first(receiver):
    with PsaSimulator(webhook_url=receiver.url, webhook_secret=SECRET) as simulator:
        status, _headers, answer = call(simulator, "POST", "/_sim/announce", token=None)
        assert status == 200
        deliveries = simulator.wait_for_deliveries(answer["queued"])
    types = [d["type"] for d in deliveries]
    assert len(types) == 65
    assert types[:3] == ["customer.created"] * 3
    assert types[3:7] == ["contact.created"] * 4
    assert types[7:10] == ["department.created"] * 3
    assert types[10:14] == ["employee.created"] * 4
    assert types[14:17] == ["project.created"] * 3
    assert types[17:27] == ["task.created"] * 10
    assert types[27:47] == ["time_entry.created"] * 20
    assert types[-11:-8] == ["leave.created"] * 3
    assert types[-8:-5] == ["contract.created"] * 3
    assert types[-5:-2] == ["purchase.created"] * 3
    assert types[-2:] == ["vendor_bill.created"] * 2


def test_fault_429_with_retry_after_then_normal_answers(simulator):
    status, _headers, _body = call(
        simulator, "POST", "/_sim/faults", {"status": 429, "count": 1, "retry_after": 3}, token=None
    )
    assert status == 201
    status, headers, body = call(simulator, "GET", "/api/v1/projects")
    assert status == 429
    assert headers["Retry-After"] == "3"
    assert body == {"error": "simulated fault"}
    assert call(simulator, "GET", "/api/v1/projects")[0] == 200
    assert [entry[2] for entry in simulator.requests_log] == [429, 200]


def test_fault_with_raw_body_and_clearing(simulator):
    simulator.add_fault(502, count=5, body="<html>bad gateway</html>")
    connection = http.client.HTTPConnection("127.0.0.1", int(simulator.url.rsplit(":", 1)[1]))
    connection.request("GET", "/api/v1/customers", headers={"Authorization": f"Bearer {TOKEN}"})
    response = connection.getresponse()
    assert (response.status, response.read()) == (502, b"<html>bad gateway</html>")
    connection.close()
    assert call(simulator, "DELETE", "/_sim/faults", token=None)[0] == 200
    assert call(simulator, "GET", "/api/v1/customers")[0] == 200


def test_fault_status_zero_drops_the_connection(simulator):
    simulator.add_fault(0)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError)):
        call(simulator, "GET", "/api/v1/projects")
    assert call(simulator, "GET", "/api/v1/projects")[0] == 200
    assert [entry[2] for entry in simulator.requests_log] == [0, 200]


def test_reset_restores_the_seed(simulator):
    simulator.delete("projects", "P-2003")
    assert call(simulator, "POST", "/_sim/reset", token=None)[0] == 200
    assert simulator.get("projects", "P-2003")["version"] == 1
    assert simulator.requests_log == []


def listed(simulator, path):
    """Ids of every record a filtered list answers, following next_page; 400s raise."""
    ids, page, separator = [], 1, "&" if "?" in path else "?"
    while page:
        status, _headers, answer = call(
            simulator, "GET", f"{path}{separator}per_page=3&page={page}"
        )
        assert status == 200, answer
        ids.extend(record["id"] for record in answer["data"])
        page = answer["meta"]["next_page"]
    assert answer["meta"]["total"] == len(ids)
    return ids


def test_time_entry_filters(simulator):
    entries = simulator.records("time_entries")
    by_state = {}
    for entry in entries:
        by_state.setdefault(entry["state"], []).append(entry["id"])
    assert listed(simulator, "/api/v1/time_entries?state=approved") == by_state["approved"]
    assert len(by_state["approved"]) == 17
    both = listed(simulator, "/api/v1/time_entries?state=approved,submitted")
    assert both == [e["id"] for e in entries if e["state"] != "rejected"]
    assert listed(simulator, "/api/v1/time_entries?state=approved&state=rejected") == [
        e["id"] for e in entries if e["state"] != "submitted"
    ]
    in_period = listed(simulator, "/api/v1/time_entries?date_from=2026-11-10&date_to=2026-11-12")
    assert in_period == ["TE-5010", "TE-5011", "TE-5012", "TE-5013"]
    assert listed(simulator, "/api/v1/time_entries?date_from=2026-11-20") == ["TE-5019", "TE-5020"]
    assert listed(simulator, "/api/v1/time_entries?date_to=2026-11-02") == ["TE-5001", "TE-5002"]
    portal = listed(simulator, "/api/v1/time_entries?project_id=P-2002&state=approved")
    assert portal == [
        e["id"] for e in entries if e["project_id"] == "P-2002" and e["state"] == "approved"
    ]
    assert portal and len(portal) < len(by_state["approved"])
    # Filters combine with updated_since; the order stays (updated_at, id).
    patched = simulator.update("time_entries", "TE-5001", {"hours": 6.5})
    since = listed(
        simulator, f"/api/v1/time_entries?state=approved&updated_since={patched['updated_at']}"
    )
    assert since == ["TE-5001"]
    for bad_query in (
        "date_from=2026-13-01",
        "date_to=yesterday",
        "date_from=20261101",
        "date_from=2026-11-20&date_to=2026-11-10",
        "leave_type=sick",
    ):
        status, _headers, body = call(simulator, "GET", f"/api/v1/time_entries?{bad_query}")
        assert status == 400, bad_query
        assert "error" in body
    assert call(simulator, "GET", "/api/v1/customers?date_from=2026-11-01")[0] == 400
    assert call(simulator, "GET", "/api/v1/customers?state=active")[0] == 400


def test_allocation_and_leave_filters_overlap_the_period(simulator):
    assert listed(simulator, "/api/v1/allocations?employee_id=E-4003") == ["A-7002", "A-7003"]
    assert listed(simulator, "/api/v1/allocations?project_id=P-2001,P-2003") == [
        "A-7001",
        "A-7003",
    ]
    overlapping = "/api/v1/allocations?date_from=2026-11-28&date_to=2026-11-30"
    assert listed(simulator, overlapping) == ["A-7001"]
    assert listed(simulator, "/api/v1/allocations?date_from=2026-11-27&date_to=2026-12-01") == [
        "A-7001",
        "A-7002",
        "A-7003",
    ]
    assert listed(simulator, "/api/v1/leaves?date_from=2026-11-27&date_to=2026-12-03") == [
        "L-9001",
        "L-9002",
    ]
    assert listed(simulator, "/api/v1/leaves?date_from=2027-01-01") == []
    assert listed(simulator, "/api/v1/leaves?employee_id=E-4001") == ["L-9003"]
    assert listed(simulator, "/api/v1/leaves?employee_id=E-4001&date_to=2026-12-20") == []
    assert call(simulator, "GET", "/api/v1/leaves?date_to=2026-02-30")[0] == 400
    # The Python API takes the same filters.
    page = simulator.list_page("leaves", filters={"state": ["requested"]})
    assert [leave["id"] for leave in page["data"]] == ["L-9003"]


def test_billing_lock_is_silent(receiver):
    with PsaSimulator(webhook_url=receiver.url, webhook_secret=SECRET) as simulator:
        before = {e["id"]: e for e in simulator.records("time_entries")}
        assert before["TE-5001"]["billed"] is False
        assert before["TE-5001"]["locked"] is False
        assert before["TE-5001"]["invoice_ref"] is None
        payload = {
            "ids": ["TE-5001", "TE-9999", "TE-5002", "TE-5001"],
            "invoice": {"number": "INV/2026/0001", "date": "2026-11-30", "odoo_id": 42},
        }
        status, _headers, answer = call(simulator, "POST", "/api/v1/time_entries/billed", payload)
        assert status == 200
        assert answer == {"updated": ["TE-5001", "TE-5002"], "unknown": ["TE-9999"]}
        for entry_id in ("TE-5001", "TE-5002"):
            status, _headers, entry = call(simulator, "GET", f"/api/v1/time_entries/{entry_id}")
            assert status == 200
            assert entry["billed"] is True
            assert entry["locked"] is True
            assert entry["invoice_ref"] == "INV/2026/0001"
            assert entry["version"] == before[entry_id]["version"]
            assert entry["updated_at"] == before[entry_id]["updated_at"]
        assert simulator.get("time_entries", "TE-5003")["billed"] is False
        # Nothing changed for an incremental pull either.
        newest = max(e["updated_at"] for e in before.values())
        assert listed(simulator, f"/api/v1/time_entries?updated_since={newest}") == ["TE-5020"]
        for bad in (
            b"{not json",
            b"[]",
            json.dumps({"ids": "TE-5001", "invoice": {"number": "INV/1"}}).encode(),
            json.dumps({"ids": ["TE-5001", 7], "invoice": {"number": "INV/1"}}).encode(),
            json.dumps({"ids": ["TE-5001"]}).encode(),
            json.dumps({"ids": ["TE-5001"], "invoice": {"number": ""}}).encode(),
            json.dumps({"ids": ["TE-5001"], "invoice": {"number": "I", "date": "30.11"}}).encode(),
        ):
            status, _headers, body = call(simulator, "POST", "/api/v1/time_entries/billed", raw=bad)
            assert status == 400, bad
            assert "error" in body
        assert call(simulator, "GET", "/api/v1/time_entries/billed")[0] == 405
        # A later mutation is the first and only event: billing queued nothing.
        simulator.update("customers", "C-1001", {"phone": "+49 40 5550 9999"})
        deliveries = simulator.wait_for_deliveries(1)
    assert [d["type"] for d in deliveries] == ["customer.updated"]
    assert len(receiver.received) == 1


def test_departments_leaves_and_employee_links(simulator):
    status, _headers, account = call(simulator, "GET", "/api/v1/account")
    assert {"departments", "leaves"} <= set(account["collections"])
    assert listed(simulator, "/api/v1/departments") == ["D-4501", "D-4502", "D-4503"]
    departments = {d["id"]: d for d in simulator.records("departments")}
    assert listed(simulator, "/api/v1/employees?department_id=D-4501") == ["E-4001", "E-4002"]
    employees = {e["id"]: e for e in simulator.records("employees")}
    for department in departments.values():
        assert set(department) >= {"id", "name", "manager_id", "parent_id"}
        assert department["parent_id"] is None
        assert department["manager_id"] is None or department["manager_id"] in employees
    for employee in employees.values():
        assert departments[employee["department_id"]]["name"] == employee["department"]
        assert employee["work_email"] == employee["email"]
        assert employee["status"] == "active"
    for entry in simulator.records("time_entries"):
        assert entry["employee_email"] == employees[entry["employee_id"]]["email"]
    leaves = simulator.records("leaves")
    assert [leave["id"] for leave in leaves] == ["L-9001", "L-9002", "L-9003"]
    assert sorted(leave["state"] for leave in leaves) == ["approved", "approved", "requested"]
    assert {leave["leave_type"] for leave in leaves} == {"vacation", "sick"}
    for leave in leaves:
        assert leave["employee_id"] in employees
        assert "2026-11-01" <= leave["date_from"] <= leave["date_to"] <= "2026-12-31"
        assert leave["hours"] > 0
    status, _headers, created = call(
        simulator, "POST", "/api/v1/departments", {"name": "Sales", "parent_id": "D-4501"}
    )
    assert (status, created["id"]) == (201, "D-4504")
    status, _headers, created = call(
        simulator,
        "POST",
        "/api/v1/leaves",
        {"employee_id": "E-4002", "date_from": "2026-12-07", "date_to": "2026-12-07"},
    )
    assert (status, created["id"]) == (201, "L-9004")
    assert simulator.get("leave", "L-9004")["employee_id"] == "E-4002"


def test_bulk_create_is_quiet_unless_asked(receiver):
    with PsaSimulator(webhook_url=receiver.url, webhook_secret=SECRET) as simulator:
        records = [{"customer_id": "C-1002", "name": f"Contact {n}"} for n in range(500)]
        created = simulator.bulk_create("contacts", records)
        assert [c["id"] for c in created] == [f"CT-{1105 + n}" for n in range(500)]
        assert all(c["version"] == 1 and c["external_refs"] == {} for c in created)
        stamps = [c["updated_at"] for c in created]
        assert all(c["created_at"] == c["updated_at"] for c in created)
        listing = simulator.records("contacts")
        assert [c["id"] for c in listing[-500:]] == [c["id"] for c in created]
        assert len(set(stamps)) == 500
        # Returned copies are detached from the store.
        created[0]["name"] = "changed"
        assert simulator.get("contacts", "CT-1105")["name"] == "Contact 0"
        # All or nothing: a clash with a stored id or within the batch inserts nothing.
        with pytest.raises(Exception, match="already exists"):
            simulator.bulk_create("contacts", [{"id": "CT-9000"}, {"id": "CT-1101"}])
        with pytest.raises(Exception, match="duplicate"):
            simulator.bulk_create("contacts", [{"id": "CT-9000"}, {"id": "CT-9000"}])
        assert simulator.get("contacts", "CT-9000") is None
        # With fire_webhooks=True each record is announced as created.
        loud = simulator.bulk_create(
            "departments", [{"name": "Legal"}, {"name": "Finance"}], fire_webhooks=True
        )
        deliveries = simulator.wait_for_deliveries(2)
    assert [d["type"] for d in deliveries] == ["department.created"] * 2
    assert [json.loads(body)["data"]["id"] for _h, body in receiver.received] == [
        d["id"] for d in loud
    ]


def test_generate_time_entries_is_deterministic_and_realistic():
    employees = [
        {"id": "E-4001", "email": "anna.schmidt@consultancy.example"},
        {"id": "E-4004", "email": "lukas.weber@consultancy.example"},
    ]
    tasks = {"P-2001": ["T-3002", "T-3003"], "P-2002": ["T-3006"]}
    arguments = (1000, ["P-2001", "P-2002"], tasks, employees, "2026-11-02", 20)
    entries = generate_time_entries(*arguments)
    assert entries == generate_time_entries(*arguments)
    assert entries != generate_time_entries(*arguments, seed=7)
    assert [e["id"] for e in entries] == [f"TE-{100001 + n}" for n in range(1000)]
    emails = {e["id"]: e["email"] for e in employees}
    dates = [e["date"] for e in entries]
    assert dates == sorted(dates)
    assert dates[0] == "2026-11-02" and dates[-1] == "2026-11-27"  # 20 working days
    assert len(set(dates)) == 20
    for entry in entries:
        assert entry["task_id"] in tasks[entry["project_id"]]
        assert entry["employee_email"] == emails[entry["employee_id"]]
        assert 0.25 <= entry["hours"] <= 8 and (entry["hours"] * 4).is_integer()
        assert entry["state"] == "approved"
        assert entry["billed"] is False and entry["locked"] is False
        assert datetime_weekday(entry["date"]) < 5
    assert 0.75 < sum(e["billable"] for e in entries) / 1000 < 1
    assert len({e["description"] for e in entries}) > 50
    assert len({e["hours"] for e in entries}) > 20
    submitted = generate_time_entries(3, ["P-2002"], {}, employees, "2026-11-02", 5, "submitted")
    assert {(e["state"], e["task_id"]) for e in submitted} == {("submitted", None)}


def datetime_weekday(text):
    return date.fromisoformat(text).weekday()


def test_add_time_entries_over_the_seed_pages_through(simulator):
    created = simulator.add_time_entries(1200)
    assert created[0]["id"] == "TE-100001"
    assert created[-1]["id"] == "TE-101200"
    more = simulator.add_time_entries(2, seed=1)
    assert [e["id"] for e in more] == ["TE-101201", "TE-101202"]
    projects = {p["id"] for p in simulator.records("projects")}
    assert {e["project_id"] for e in created} <= projects
    status, _headers, answer = call(
        simulator, "GET", "/api/v1/time_entries?state=approved&per_page=500&page=3"
    )
    assert status == 200
    assert answer["meta"]["total"] == 17 + 1202
    # Page 3 starts after the 17 seeded approved entries and 983 generated ones.
    assert [e["id"] for e in answer["data"]] == [f"TE-{100984 + n}" for n in range(219)]
    assert answer["meta"]["next_page"] is None


def test_cli_serve_seeds_extra_time_entries():
    process = subprocess.Popen(
        [sys.executable, "-m", "psa_simulator", "serve", "--port", "0", "--time-entries", "250"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "listening on" in line:
                break
        assert "seeded 250 extra time entries\n" in lines, lines
        url = lines[-1].rsplit(" ", 1)[1].strip()
        request = urllib.request.Request(
            url + "/api/v1/time_entries?per_page=1&date_from=2026-11-01",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["meta"]["total"] == 270
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_cli_serve_signs_with_the_secret_from_the_environment(receiver):
    # make run passes the secret so: out of the process list, and a generated secret that
    # begins with "-" (one in 64 of secrets.token_urlsafe) is a value, not an option.
    secret = "-Zq8dA_demo-secret"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "psa_simulator",
            "serve",
            "--port",
            "0",
            "--webhook-url",
            receiver.url,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PSA_SIMULATOR_WEBHOOK_SECRET": secret},
    )
    try:
        for line in process.stdout:
            if "listening on" in line:
                break
        else:
            pytest.fail(f"serve stopped: {process.stderr.read()}")
        url = line.rsplit(" ", 1)[1].strip()
        request = urllib.request.Request(
            url + "/api/v1/projects/P-2002",
            data=json.dumps({"state": "on_hold"}).encode(),
            method="PATCH",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10):
            pass
        with receiver.arrived:
            assert receiver.arrived.wait_for(lambda: receiver.received, timeout=10)
    finally:
        process.terminate()
        process.communicate(timeout=10)
    [(headers, body)] = receiver.received
    timestamp = int(headers["X-PSA-Timestamp"])
    assert headers["X-PSA-Signature"] == f"sha256={sign(secret, timestamp, body)}"
    assert json.loads(body)["data"]["state"] == "on_hold"
    assert secret not in " ".join(process.args)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "psa_simulator", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_cli_change_patches_a_running_simulator(simulator):
    result = run_cli(
        "change",
        "project",
        "P-2003",
        "state=active",
        "budget_hours=240",
        "description=Kick-off moved forward",
        "--url",
        simulator.url,
        "--token",
        TOKEN,
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["state"] == "active"
    assert printed["budget_hours"] == 240
    assert printed["version"] == 2
    assert simulator.get("projects", "P-2003") == printed


def test_cli_reports_http_errors(simulator):
    result = run_cli("change", "projects", "P-9999", "state=closed", "--url", simulator.url)
    assert result.returncode == 1
    assert "HTTP 404" in result.stderr


def test_contracts_are_seeded_per_project_and_invoice_status_is_stored_by_number(simulator):
    contracts = simulator.records("contract")
    assert {c["project_id"] for c in contracts} == {p["id"] for p in simulator.records("project")}
    assert {c["type"] for c in contracts} == {"time_and_materials", "fixed_fee", "milestone"}
    status, _headers, body = call(simulator, "GET", "/api/v1/contracts?type=milestone")
    assert status == 200 and [c["id"] for c in body["data"]] == ["K-6503"]
    invoice = {"number": "INV/2026/00001", "payment_state": "not_paid", "amount_total": 18000.0}
    assert call(simulator, "POST", "/api/v1/invoices", invoice)[0] == 200
    status, _headers, body = call(
        simulator, "PUT", "/api/v1/invoices/INV/2026/00001", {"payment_state": "paid"}
    )
    # The number holds a slash: the PUT path is split, so it lands as its own number.
    assert status == 405
    call(simulator, "POST", "/api/v1/invoices", {**invoice, "payment_state": "paid"})
    stored = simulator.invoices["INV/2026/00001"]
    assert (stored["payment_state"], stored["pushes"]) == ("paid", 2)
    assert call(simulator, "POST", "/api/v1/invoices", {"amount_total": 1})[0] == 400
    simulator.reset()
    assert simulator.invoices == {}


def test_pushed_actuals_are_stored_per_project_and_week(simulator):
    row = {"project_id": "P-2001", "week": "2026-W47", "week_start": "2026-11-16", "hours": 12.5}
    status, _headers, body = call(simulator, "POST", "/api/v1/actuals", {"data": [row]})
    assert (status, body) == (200, {"stored": 1})
    # The same project and week again replaces the row; another week adds one.
    later = [{**row, "hours": 14.0}, {**row, "week": "2026-W48", "week_start": "2026-11-23"}]
    assert call(simulator, "POST", "/api/v1/actuals", {"data": later})[0] == 200
    assert [(r["week"], r["hours"]) for r in simulator.actuals] == [
        ("2026-W47", 14.0),
        ("2026-W48", 12.5),
    ]
    assert simulator.actuals_posts == 2
    status, _headers, body = call(simulator, "GET", "/_sim/actuals", token=None)
    assert status == 200 and body["posts"] == 2 and len(body["data"]) == 2
    # Malformed rows are refused whole; reset forgets everything.
    bad = {"data": [{"project_id": "P-2001", "week": "47", "hours": 1}]}
    assert call(simulator, "POST", "/api/v1/actuals", bad)[0] == 400
    assert call(simulator, "POST", "/api/v1/actuals", {"data": [row]}, token="wrong")[0] == 401
    simulator.reset()
    assert (simulator.actuals, simulator.actuals_posts) == ([], 0)


def test_pushed_project_financials_replace_the_projects_previous_summary(simulator):
    row = {"project_id": "P-2001", "as_of": "2026-11-23", "margin": 100.0, "months": []}
    assert call(simulator, "POST", "/api/v1/project_financials", {"data": [row]})[0] == 200
    later = [{**row, "margin": 250.0}, {**row, "project_id": "P-2002", "margin": -5.0}]
    status, _headers, body = call(simulator, "POST", "/api/v1/project_financials", {"data": later})
    assert (status, body) == (200, {"stored": 2})
    assert [(r["project_id"], r["margin"]) for r in simulator.project_financials] == [
        ("P-2001", 250.0),
        ("P-2002", -5.0),
    ]
    status, _headers, body = call(simulator, "GET", "/api/v1/project_financials")
    assert [r["project_id"] for r in body["data"]] == ["P-2001", "P-2002"]
    bad = call(simulator, "POST", "/api/v1/project_financials", {"data": [{"margin": 1}]})
    assert bad[0] == 400


def test_pushed_account_health_replaces_the_customers_previous_row(simulator):
    row = {
        "customer_id": "C-1001",
        "status": "watch",
        "open_receivable": 1200.0,
        "overdue_receivable": 400.0,
        "dso": 61.5,
        "currency": "EUR",
        "as_of": "2026-12-07",
    }
    assert call(simulator, "POST", "/api/v1/account_health", {"data": [row]})[0] == 200
    later = [{**row, "status": "at_risk"}, {**row, "customer_id": "C-1002", "status": "current"}]
    status, _headers, body = call(simulator, "POST", "/api/v1/account_health", {"data": later})
    assert (status, body) == (200, {"stored": 2})
    assert {k: v["status"] for k, v in simulator.account_health.items()} == {
        "C-1001": "at_risk",
        "C-1002": "current",
    }
    status, _headers, body = call(simulator, "GET", "/api/v1/account_health")
    assert sorted(r["customer_id"] for r in body["data"]) == ["C-1001", "C-1002"]
    for bad_row in (
        {**row, "status": "late"},
        {**row, "customer_id": ""},
        {**row, "dso": "high"},
        {**row, "as_of": "yesterday"},
    ):
        assert call(simulator, "POST", "/api/v1/account_health", {"data": [bad_row]})[0] == 400
    assert simulator.account_health["C-1001"]["status"] == "at_risk"
    simulator.reset()
    assert simulator.account_health == {}


def test_purchases_and_vendor_bills_are_seeded_and_filterable(simulator):
    purchases = simulator.records("purchase")
    assert {p["state"] for p in purchases} == {"approved", "submitted"}
    project_ids = {p["id"] for p in simulator.records("project")}
    assert {p["project_id"] for p in purchases} <= project_ids
    status, _headers, body = call(simulator, "GET", "/api/v1/purchases?state=approved")
    assert status == 200
    assert [p["id"] for p in body["data"]] == ["PU-7501", "PU-7502"]
    bills = simulator.records("vendor_bill")
    assert {b["purchase_id"] for b in bills} <= {p["id"] for p in purchases}
    status, _headers, body = call(simulator, "GET", "/api/v1/vendor_bills?purchase_id=PU-7501")
    assert [b["id"] for b in body["data"]] == ["VB-7801"]


def test_payroll_batches_are_stored_per_reference(simulator):
    line = {"employee_id": "E-4001", "category": "normal", "hours": 152.0, "amount": 0.0}
    batch = {"reference": "PAY/2026-11/1", "kind": "regular", "lines": [line]}
    status, _headers, body = call(simulator, "POST", "/api/v1/payroll_batches", batch)
    assert (status, body["lines"], body["pushes"]) == (200, 1, 1)
    # The same reference again replaces the batch: a replay is never paid twice.
    again = {**batch, "lines": [{**line, "hours": 150.0}]}
    assert call(simulator, "POST", "/api/v1/payroll_batches", again)[0] == 200
    stored = simulator.payroll_batches["PAY/2026-11/1"]
    assert (stored["lines"][0]["hours"], stored["pushes"]) == (150.0, 2)
    status, _headers, body = call(simulator, "GET", "/api/v1/payroll_batches")
    assert status == 200 and len(body["data"]) == 1
    bad = {**batch, "lines": [{**line, "category": "bonus"}]}
    assert call(simulator, "POST", "/api/v1/payroll_batches", bad)[0] == 400
    assert call(simulator, "POST", "/api/v1/payroll_batches", {"lines": []})[0] == 400
    simulator.reset()
    assert simulator.payroll_batches == {}


def test_harvest_time_entry_list_omits_what_the_docs_say_it_may():
    from psa_simulator.vendors.harvest import HarvestSimulator

    omitted = ("task_assignment", "user_assignment", "invoice")
    entry = {
        "spent_date": "2026-11-02",
        "project": {"id": 7},
        "task": {"id": 8},
        "task_assignment": {"id": 9},
        "user_assignment": {"id": 10},
        "invoice": {"id": 11, "number": "1001"},
    }

    def listed(sim):
        request = urllib.request.Request(
            sim.url + "/time_entries",
            headers={
                "Authorization": "Bearer t",
                "Harvest-Account-Id": "1",
                "User-Agent": "test (ops@example.com)",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return {e["id"]: e for e in json.loads(response.read())["time_entries"]}

    for mode, without in (("some", {1}), ("all", {1, 2}), ("none", set())):
        sim = HarvestSimulator(token="t", account_id="1", omit_in_list=mode).start()
        try:
            for entry_id in (1, 2):
                sim.create("time_entries", {**entry, "id": entry_id})
            entries = listed(sim)
            for entry_id, listed_entry in entries.items():
                missing = {key for key in omitted if key not in listed_entry}
                assert missing == (set(omitted) if entry_id in without else set()), mode
                assert listed_entry["task"] == {"id": 8}
            # The store keeps them: only the list leaves them out.
            assert sim.get("time_entries", 1)["task_assignment"] == {"id": 9}
        finally:
            sim.stop()
    with pytest.raises(ValueError):
        HarvestSimulator(omit_in_list="sometimes")


def test_create_with_an_idempotency_key_creates_once(simulator):
    """A POST sent again with the same Idempotency-Key (a retried job) answers the
    record the key created, 200 instead of 201, and creates nothing."""
    key = {"Idempotency-Key": "odoo-abc-crm.lead-7:project"}
    before = len(simulator.records("projects"))
    status, _headers, first = call(
        simulator, "POST", "/api/v1/projects", {"name": "Assessment"}, headers=key
    )
    assert status == 201
    status, _headers, again = call(
        simulator, "POST", "/api/v1/projects", {"name": "Assessment (retry)"}, headers=key
    )
    assert status == 200
    assert again["id"] == first["id"]
    assert again["name"] == "Assessment"
    assert len(simulator.records("projects")) == before + 1
    # The key is per collection: a contract under the same key is a new record.
    status, _headers, contract = call(
        simulator,
        "POST",
        "/api/v1/contracts",
        {"project_id": first["id"], "type": "fixed_fee"},
        headers=key,
    )
    assert status == 201
    # Another key, another record; an empty key is refused.
    status, _headers, other = call(
        simulator,
        "POST",
        "/api/v1/projects",
        {"name": "Assessment"},
        headers={"Idempotency-Key": "odoo-abc-crm.lead-8:project"},
    )
    assert status == 201 and other["id"] != first["id"]
    status, _headers, _body = call(
        simulator, "POST", "/api/v1/projects", {"name": "X"}, headers={"Idempotency-Key": ""}
    )
    assert status == 400
    assert len(simulator.records("projects")) == before + 2
