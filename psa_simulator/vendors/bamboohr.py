"""A BambooHR API v1 stand-in on loopback, shaped after BambooHR's public documentation.

Serves ``/api/v1`` (the per-company host ``https://{company}.bamboohr.com/api/v1`` of
the real service): ``GET employees/directory``, ``GET employees/changed?since=``,
``POST reports/custom``, ``GET employees/{id}?fields=``, ``GET meta/lists`` and
``GET time_off/requests?start=&end=&status=``. Authentication is HTTP Basic with the API
key as the user; JSON only when asked for (``Accept: application/json``). Throttling is
injected with :meth:`throttle` (503 today, 429 with ``Retry-After`` from September 2026).
:func:`signed_webhook` builds a signed webhook as BambooHR posts it.
"""

import base64
import copy
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

from .vendor_http import VendorError, VendorSimulator

PREFIX = "/api/v1"

FIELD_TYPES = {
    "firstName": "text",
    "lastName": "text",
    "preferredName": "text",
    "displayName": "text",
    "workEmail": "email",
    "jobTitle": "list",
    "department": "list",
    "division": "list",
    "supervisorEId": "employee",
    "hireDate": "date",
    "terminationDate": "date",
    "status": "status",
    "payRate": "currency",
    "payPer": "list",
    "standardHoursPerWeek": "int",
    "lastChanged": "timestamp",
}


def signed_webhook(private_key, employees, timestamp=None):
    """(headers, raw body) of a BambooHR webhook: hex HMAC-SHA256 over body + timestamp."""
    raw = json.dumps({"employees": employees}).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(private_key.encode(), raw + stamp.encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-BambooHR-Timestamp": stamp,
        "X-BambooHR-Signature": digest,
    }
    return headers, raw


def _stamp(moment=None):
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class BambooHrSimulator(VendorSimulator):
    def __init__(self, api_key="bamboo-api-key", company="acme", **kwargs):
        super().__init__(**kwargs)
        self.api_key = api_key
        self.company = company
        self.departments = []  # list options: {"id", "name", "archived"}
        self.employees = {}  # id -> the employee's fields, BambooHR names
        self.changes = {}  # id -> {"action", "lastChanged"}
        self.time_off = {}  # id -> a time off request as listed

    @property
    def base_url(self):
        return self.origin + PREFIX

    # Data the tests set up ------------------------------------------------------------

    def add_department(self, option_id, name, archived=False):
        with self.lock:
            self.departments.append(
                {"id": option_id, "name": name, "archived": "yes" if archived else "no"}
            )

    def add_employee(self, employee_id, changed_at, action="Inserted", **fields):
        with self.lock:
            employee_id = str(employee_id)
            record = self.employees.setdefault(employee_id, {"id": employee_id})
            record.update(fields)
            record["lastChanged"] = changed_at
            self.changes[employee_id] = {
                "id": employee_id,
                "action": action,
                "lastChanged": changed_at,
            }
            return copy.deepcopy(record)

    def update_employee(self, employee_id, changed_at, **fields):
        return self.add_employee(employee_id, changed_at, action="Updated", **fields)

    def delete_employee(self, employee_id, changed_at):
        with self.lock:
            self.employees.pop(str(employee_id), None)
            self.changes[str(employee_id)] = {
                "id": str(employee_id),
                "action": "Deleted",
                "lastChanged": changed_at,
            }

    def add_time_off(self, request_id, employee_id, start, end, status, changed, **extra):
        with self.lock:
            self.time_off[str(request_id)] = {
                "id": str(request_id),
                "employeeId": str(employee_id),
                "name": extra.get("name", ""),
                "start": start,
                "end": end,
                "created": extra.get("created", changed),
                "type": {"id": "78", "name": extra.get("type_name", "Vacation"), "icon": "palm"},
                "amount": {"unit": extra.get("unit", "hours"), "amount": extra.get("amount", "8")},
                "status": {"lastChanged": changed, "lastChangedByUserId": "2369", "status": status},
                "notes": {},
                "actions": {"view": True, "approve": False},
            }

    def throttle(self, status=503, count=1, retry_after=None):
        self.add_fault(status, count=count, retry_after=retry_after, path=PREFIX)

    # HTTP -----------------------------------------------------------------------------

    def route(self, method, path, query, headers, body):
        if not path.startswith(PREFIX + "/"):
            raise VendorError(404, {"message": "Not found"})
        if "application/json" not in (headers.get("Accept") or ""):
            # The real API answers XML by default; this stand-in speaks JSON only.
            raise VendorError(406, {"message": "send Accept: application/json"})
        segments = [s for s in path[len(PREFIX) :].split("/") if s]
        with self.lock:
            if method == "GET" and segments == ["employees", "directory"]:
                return 200, self._directory()
            if method == "GET" and segments == ["employees", "changed"]:
                return 200, self._changed(query)
            if method == "POST" and segments == ["reports", "custom"]:
                return 200, self._custom_report(query, body)
            if method == "GET" and segments == ["meta", "lists"]:
                return 200, self._lists()
            if method == "GET" and segments == ["time_off", "requests"]:
                return 200, self._time_off(query)
            if method == "GET" and len(segments) == 2 and segments[0] == "employees":
                return 200, self._employee(segments[1], query)
        raise VendorError(404, {"message": f"No route for {method} {path}"})

    def _check_auth(self, headers):
        expected = "Basic " + base64.b64encode(f"{self.api_key}:x".encode()).decode()
        given = headers.get("Authorization") or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise VendorError(
                401, {"message": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="BambooHR"'}
            )

    def _value(self, record, field):
        value = record.get(field)
        if field == "payRate" and value is not None:
            return f"{value['value']} {value['currency']}"
        return value

    def _directory(self):
        fields = ["displayName", "firstName", "lastName", "jobTitle", "workEmail", "department"]
        return {
            "fields": [{"id": f, "type": FIELD_TYPES[f], "name": f} for f in fields],
            "employees": [
                {"id": r["id"], **{f: r.get(f) for f in fields}}
                for r in self.employees.values()
                if r.get("status", "Active") == "Active"
            ],
        }

    def _changed(self, query):
        since = query.get("since")
        if not since:
            raise VendorError(400, {"message": "since is required"})
        try:
            threshold = datetime.fromisoformat(since.replace("Z", "+00:00").replace(" ", "+"))
        except ValueError:
            raise VendorError(400, {"message": f"since is not ISO 8601: {since}"}) from None
        return {
            "latest": _stamp(),
            "employees": {
                employee_id: dict(change)
                for employee_id, change in self.changes.items()
                if datetime.fromisoformat(change["lastChanged"]) >= threshold
            },
        }

    def _custom_report(self, query, body):
        if query.get("format", "").upper() != "JSON":
            raise VendorError(400, {"message": "format must be JSON for this stand-in"})
        fields = (body or {}).get("fields") or []
        if not fields:
            raise VendorError(400, {"message": "a custom report needs fields"})
        unknown = [f for f in fields if f != "id" and f not in FIELD_TYPES]
        if unknown:
            raise VendorError(400, {"message": f"unknown fields: {unknown}"})
        return {
            "title": (body or {}).get("title", ""),
            "fields": [
                {"id": f, "type": FIELD_TYPES.get(f, "int"), "name": f} for f in fields if f != "id"
            ],
            "employees": [
                {"id": r["id"], **{f: self._value(r, f) for f in fields if f != "id"}}
                for r in self.employees.values()
            ],
        }

    def _employee(self, employee_id, query):
        record = self.employees.get(employee_id)
        if record is None:
            raise VendorError(404, {"message": "Employee not found"})
        fields = [f for f in (query.get("fields") or "firstName,lastName").split(",") if f]
        return {"id": record["id"], **{f: self._value(record, f) for f in fields if f != "id"}}

    def _lists(self):
        return [
            {
                "fieldId": 4,
                "alias": "department",
                "manageable": "yes",
                "multiple": "no",
                "name": "Department",
                "options": [dict(o) for o in self.departments],
            },
            {
                "fieldId": 17,
                "alias": "jobTitle",
                "manageable": "yes",
                "multiple": "no",
                "name": "Job Title",
                "options": [],
            },
        ]

    def _time_off(self, query):
        for name in ("start", "end"):
            if not query.get(name):
                raise VendorError(400, {"message": f"{name} is required (YYYY-MM-DD)"})
        statuses = {s for s in (query.get("status") or "").split(",") if s}
        return [
            copy.deepcopy(r)
            for r in self.time_off.values()
            if r["end"] >= query["start"]
            and r["start"] <= query["end"]
            and (not statuses or r["status"]["status"] in statuses)
        ]
