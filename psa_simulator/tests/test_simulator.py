"""End-to-end tests over real loopback HTTP: simulator, webhook receiver and CLI."""

import hashlib
import hmac
import http.client
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from psa_simulator import PsaSimulator, sign

TOKEN = "demo-token"
SECRET = "whsec-test"
REPO_ROOT = Path(__file__).resolve().parents[2]


def call(simulator, method, path, payload=None, token=TOKEN, raw=None):
    """Return (status, headers, decoded JSON or None) for one API request."""
    headers = {"Content-Type": "application/json"}
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
    assert call(simulator, "GET", "/api/v1/invoices")[0] == 404
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
    assert len(types) == 51
    assert types[:3] == ["customer.created"] * 3
    assert types[3:6] == ["project.created"] * 3
    assert types[6:16] == ["task.created"] * 10


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
