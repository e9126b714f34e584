"""Loopback HTTP server playing the PSA side of the canonical REST API, plus signed webhooks."""

import copy
import hashlib
import hmac
import http.client
import json
import logging
import queue
import re
import socket
import threading
import time
import uuid
from bisect import bisect_left
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from .seed import (
    ANNOUNCE_ORDER,
    COLLECTIONS,
    GENERATED_TIME_ENTRY_BASE,
    build_seed,
    format_timestamp,
    generate_time_entries,
    resolve_collection,
)

logger = logging.getLogger("psa_simulator")

API_PREFIX = "/api/v1"
SIM_PREFIX = "/_sim"
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_DRAINED_BYTES = 64 * 1024 * 1024
MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 100
WEBHOOK_TIMEOUT_SECONDS = 10
FIRST_RETRY_DELAY_SECONDS = 0.5
# Fields the simulator owns; clients may send them back but cannot change them this way.
SERVER_MANAGED_FIELDS = ("id", "created_at", "updated_at", "version", "external_refs")

# List filters per collection, besides updated_since/page/per_page. "equal": fields that can be
# filtered with ``?<field>=a,b`` (any of the comma-separated values). "dates": what
# ``date_from``/``date_to`` (inclusive, YYYY-MM-DD) apply to: one date field that must lie in the
# period, or a (start field, end field) pair whose span must overlap it (no end = open-ended).
LIST_FILTERS = {
    "customers": {"equal": (), "dates": None},
    "contacts": {"equal": ("customer_id",), "dates": None},
    "departments": {"equal": ("parent_id", "manager_id"), "dates": None},
    "employees": {"equal": ("department_id", "manager_id", "status"), "dates": None},
    "projects": {"equal": ("customer_id", "state"), "dates": None},
    "tasks": {"equal": ("project_id", "state"), "dates": None},
    "time_entries": {"equal": ("state", "project_id", "task_id", "employee_id"), "dates": "date"},
    "expenses": {"equal": ("state", "project_id", "employee_id"), "dates": "date"},
    "milestones": {"equal": ("project_id", "state"), "dates": "due_date"},
    "allocations": {
        "equal": ("employee_id", "project_id", "status"),
        "dates": ("start_date", "end_date"),
    },
    "leaves": {"equal": ("employee_id", "state", "leave_type"), "dates": ("date_from", "date_to")},
    "contracts": {"equal": ("project_id", "customer_id", "type"), "dates": None},
    "billing_events": {"equal": ("contract_id", "kind"), "dates": None},
    "purchases": {"equal": ("project_id", "vendor_id", "kind", "state"), "dates": "date"},
    "vendor_bills": {"equal": ("purchase_id", "kind", "state"), "dates": "date"},
}
DATE_RANGE_PARAMS = ("date_from", "date_to")
# Every query parameter some collection filters on; one the collection at hand does not
# support is refused rather than silently ignored.
FILTER_PARAMS = frozenset(
    {field for spec in LIST_FILTERS.values() for field in spec["equal"]} | set(DATE_RANGE_PARAMS)
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_WEEK = re.compile(r"\d{4}-W\d{2}")
# Pay categories of a payroll batch line (schemas/payroll_batch.json).
PAYROLL_CATEGORIES = ("normal", "overtime", "on_call", "leave", "expense")


class ApiError(Exception):
    """An error with the HTTP status it should be answered with."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def sign(secret, timestamp, body):
    """Hex HMAC-SHA256 of ``"<timestamp>." + body``, as sent in ``X-PSA-Signature``."""
    if isinstance(body, str):
        body = body.encode()
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def parse_timestamp(value):
    """Parse ISO 8601; a timestamp without offset is taken as UTC."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_SCALARS = (str, int, float, bool, type(None))


def _copy_record(record):
    """A deep copy of a JSON-like record, much faster than ``copy.deepcopy`` for flat ones."""
    if isinstance(record, _SCALARS):
        return record
    if isinstance(record, dict):
        return {key: _copy_record(value) for key, value in record.items()}
    if isinstance(record, list):
        return [_copy_record(value) for value in record]
    return copy.deepcopy(record)


def _collection_or_error(name):
    try:
        return resolve_collection(name)
    except KeyError:
        raise ApiError(404, f"unknown collection: {name}") from None


def _require_object(payload):
    if not isinstance(payload, dict):
        raise ApiError(400, "request body must be a JSON object")
    return payload


def _iso_date(name, value):
    """``value`` as a YYYY-MM-DD string (a ``date`` is accepted too); 400 when invalid."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ApiError(400, f"{name} must be a date as YYYY-MM-DD, got {value!r}")


def _filter_values(name, value):
    """A filter value as a set of strings: ``"a,b"``, or a list/tuple/set of such strings."""
    parts = [value] if isinstance(value, str) else list(value)
    values = {item.strip() for part in parts for item in str(part).split(",") if item.strip()}
    if not values:
        raise ApiError(400, f"{name} needs at least one value")
    return values


def _record_matcher(collection, filters, date_from, date_to):
    """A predicate for the list filters of ``collection``; ApiError 400 for unsupported ones."""
    spec = LIST_FILTERS.get(collection, {"equal": (), "dates": None})
    wanted = {}
    for name, value in (filters or {}).items():
        if name not in spec["equal"]:
            raise ApiError(400, f"{collection} cannot be filtered by {name}")
        wanted[name] = _filter_values(name, value)
    low = None if date_from is None else _iso_date("date_from", date_from)
    high = None if date_to is None else _iso_date("date_to", date_to)
    if (low or high) and spec["dates"] is None:
        raise ApiError(400, f"{collection} cannot be filtered by date")
    if low and high and low > high:
        raise ApiError(400, "date_from must not be after date_to")
    if not wanted and not (low or high):
        return None
    dates = spec["dates"]
    start_field, end_field = (dates, dates) if isinstance(dates, str) else (dates or (None, None))

    def matches(record):
        for name, values in wanted.items():
            value = record.get(name)
            if value is None or str(value) not in values:
                return False
        if low or high:
            start, end = record.get(start_field), record.get(end_field)
            if not isinstance(start, str):
                return False
            if high and start > high:
                return False
            if low and isinstance(end, str) and end < low:
                return False
        return True

    return matches


def _positive_int(params, name, default):
    raw = params.get(name, [str(default)])[-1]
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise ApiError(400, f"{name} must be at least 1")
    return value


class PsaSimulator:
    """In-process demo PSA: a seeded store behind a REST API, emitting signed webhooks."""

    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        token="demo-token",
        webhook_url=None,
        webhook_secret=None,
        seed=True,
        webhook_retries=5,
        legal_entities=False,
    ):
        self.host = host
        self.port = port
        self.token = token
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.seed = seed
        # The firm's UK entity in the seed too (seed.build_seed).
        self.legal_entities = legal_entities
        self.webhook_retries = webhook_retries
        self._lock = threading.Lock()
        self._deliveries_changed = threading.Condition()
        self._deliveries = []
        self._requests_log = []
        # (arrived, answered, method, path, status, faulted, agent), monotonic seconds:
        # when which client (User-Agent) called and what it got, e.g. how often a failing
        # API was called by each backend.
        self._timed_log = []
        self._faults = []
        self._events = queue.Queue()
        self._stopping = threading.Event()
        self._server = None
        self._server_thread = None
        self._webhook_thread = None
        self._load_seed()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self):
        self._stopping.clear()
        self._server = ThreadingHTTPServer((self.host, self.port), _RequestHandler)
        self._server.daemon_threads = True
        self._server.simulator = self
        self._server_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # keeps stop() quick
            name="psa-simulator-http",
            daemon=True,
        )
        self._server_thread.start()
        self._webhook_thread = threading.Thread(
            target=self._deliver_events, name="psa-simulator-webhooks", daemon=True
        )
        self._webhook_thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._server_thread.join()
        self._events.put(None)  # wakes the worker if it is idle
        self._webhook_thread.join(timeout=WEBHOOK_TIMEOUT_SECONDS)
        self._server = None

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- store -------------------------------------------------------------------------------

    def _load_seed(self):
        seeded = build_seed(legal_entities=self.legal_entities) if self.seed else {}
        self._store = {
            collection: {record["id"]: record for record in seeded.get(collection, [])}
            for collection in COLLECTIONS
        }
        # Parsed updated_at per record, and the API order per collection (built on demand,
        # dropped whenever a record is added, removed or restamped), so that listing a large
        # collection does not re-parse and re-sort it on every page.
        self._stamps = {
            collection: {r["id"]: parse_timestamp(r["updated_at"]) for r in records.values()}
            for collection, records in self._store.items()
        }
        self._order = {}
        # The filtered API order per (collection, filters, period), kept while the order it
        # was taken from stands (a reconciliation lists every page of one filtered query:
        # without it each page filters the whole collection again, quadratic in its size).
        self._matched = {}
        # Invoice states the connector reported (POST /api/v1/invoices), by invoice number.
        self._invoices = {}
        # Actuals the forecasting side pushed (POST /api/v1/actuals), by (project, ISO week),
        # and how many POSTs brought them: a debounced push is one POST for many changes.
        self._actuals = {}
        self._actuals_posts = 0
        # Project financial summaries Odoo pushed (POST /api/v1/project_financials), latest
        # per project.
        self._project_financials = {}
        # Customers' account health Odoo pushed (POST /api/v1/account_health), latest per
        # customer id.
        self._account_health = {}
        # Payroll batches Odoo sent (POST /api/v1/payroll_batches), by batch reference:
        # a replayed batch replaces itself, it is never paid twice.
        self._payroll_batches = {}
        # Records created with an Idempotency-Key header, by (collection, key): the same
        # POST sent again (a retried job) answers the record it created, never a second.
        self._idempotent = {}
        self._last_stamp = max(
            (stamp for stamps in self._stamps.values() for stamp in stamps.values()),
            default=datetime.min.replace(tzinfo=UTC),
        )
        # Generated ids continue after the highest seeded number and are never reused.
        self._id_counters = {
            collection: max(
                (
                    int(record_id[len(prefix) :])
                    for record_id in self._store[collection]
                    if record_id[len(prefix) :].isdigit()
                ),
                default=number_base,
            )
            for collection, (_type, prefix, number_base) in COLLECTIONS.items()
        }

    def _put(self, collection, stored, stamp=None):
        """Store a new or restamped record (``stamp``: its parsed updated_at); under the lock."""
        self._store[collection][stored["id"]] = stored
        self._stamps[collection][stored["id"]] = stamp or parse_timestamp(stored["updated_at"])
        self._order.pop(collection, None)

    def _now(self):
        """Current UTC time, strictly after every timestamp handed out so far."""
        return format_timestamp(self._now_moment())

    def _now_moment(self):
        now = datetime.now(UTC)
        if now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        return now

    def _next_id(self, collection):
        prefix = COLLECTIONS[collection][1]
        while True:
            self._id_counters[collection] += 1
            candidate = f"{prefix}{self._id_counters[collection]}"
            if candidate not in self._store[collection]:
                return candidate

    def _existing(self, collection, record_id):
        record = self._store[collection].get(record_id)
        if record is None:
            raise ApiError(404, f"{COLLECTIONS[collection][0]} {record_id} not found")
        return record

    @staticmethod
    def _new_fields(record):
        """(requested id or None, client fields) of a record to create; 400 when malformed."""
        fields = dict(_require_object(record))
        record_id = fields.pop("id", None)
        if record_id is not None and (not isinstance(record_id, str) or not record_id):
            raise ApiError(400, "id must be a non-empty string")
        for field in SERVER_MANAGED_FIELDS:
            fields.pop(field, None)
        return record_id, fields

    def _insert(self, collection, record_id, fields):
        """Stamp and store a new record; call under the store lock."""
        if record_id is None:
            record_id = self._next_id(collection)
        moment = self._now_moment()
        now = format_timestamp(moment)
        stored = {
            "id": record_id,
            **fields,
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "external_refs": {},
        }
        self._put(collection, stored, moment)
        return stored

    def create(self, collection, record, idempotency_key=None):
        """Create a record and emit its ``created`` webhook.

        With ``idempotency_key``, a key already used for this collection answers the record
        it created (as it is now) and creates nothing: ``(record, False)``; a first use
        gives ``(record, True)``. Without a key, the new record alone is returned.
        """
        collection = _collection_or_error(collection)
        record_id, fields = self._new_fields(record)
        with self._lock:
            if idempotency_key is not None:
                known = self._idempotent.get((collection, idempotency_key))
                if known is not None and known in self._store[collection]:
                    return copy.deepcopy(self._store[collection][known]), False
            if record_id in self._store[collection]:
                raise ApiError(409, f"{COLLECTIONS[collection][0]} {record_id} already exists")
            stored = self._insert(collection, record_id, fields)
            self._emit(collection, "created", stored)
            if idempotency_key is not None:
                self._idempotent[(collection, idempotency_key)] = stored["id"]
                return copy.deepcopy(stored), True
            return copy.deepcopy(stored)

    def bulk_create(self, collection, records, fire_webhooks=False):
        """Create many records under one lock acquisition, all or none; return them.

        Ids, timestamps and versions are assigned as by ``create``. Webhooks are only queued
        with ``fire_webhooks=True``: this is a fixture loader for tests and benchmarks.
        """
        collection = _collection_or_error(collection)
        prepared = [self._new_fields(record) for record in records]
        requested = [record_id for record_id, _fields in prepared if record_id is not None]
        if len(set(requested)) != len(requested):
            raise ApiError(409, "duplicate ids in the batch")
        with self._lock:
            existing = self._store[collection]
            for record_id in requested:
                if record_id in existing:
                    raise ApiError(409, f"{COLLECTIONS[collection][0]} {record_id} already exists")
            created = []
            for record_id, fields in prepared:
                stored = self._insert(collection, record_id, fields)
                if fire_webhooks:
                    self._emit(collection, "created", stored)
                created.append(stored)
            return [_copy_record(record) for record in created]

    def add_time_entries(self, count, start_date="2026-11-02", days=40, state="approved", seed=42):
        """Bulk-create ``count`` generated time entries over the stored projects/tasks/employees.

        Open tasks only (not done/cancelled ones); no webhooks. Returns the created entries.
        """
        with self._lock:
            projects = [p["id"] for p in self._store["projects"].values()]
            tasks = {}
            for task in self._store["tasks"].values():
                if task.get("state") not in ("done", "cancelled"):
                    tasks.setdefault(task.get("project_id"), []).append(task["id"])
            employees = [copy.deepcopy(e) for e in self._store["employees"].values()]
            first_number = 1 + max(
                [GENERATED_TIME_ENTRY_BASE]
                + [
                    int(record_id[3:])
                    for record_id in self._store["time_entries"]
                    if record_id.startswith("TE-") and record_id[3:].isdigit()
                ]
            )
        entries = generate_time_entries(
            count,
            sorted(projects),
            {project: sorted(ids) for project, ids in tasks.items()},
            sorted(employees, key=lambda e: e["id"]),
            start_date,
            days,
            state=state,
            seed=seed,
            first_number=first_number,
        )
        return self.bulk_create("time_entries", entries)

    def update(self, collection, record_id, changes):
        collection = _collection_or_error(collection)
        changes = {
            field: value
            for field, value in _require_object(changes).items()
            if field not in SERVER_MANAGED_FIELDS
        }
        with self._lock:
            stored = self._existing(collection, record_id)
            stored.update(copy.deepcopy(changes))
            stored["version"] += 1
            stored["updated_at"] = self._now()
            self._put(collection, stored)
            self._emit(collection, "updated", stored)
            return copy.deepcopy(stored)

    def delete(self, collection, record_id):
        collection = _collection_or_error(collection)
        with self._lock:
            stored = self._existing(collection, record_id)
            del self._store[collection][record_id]
            del self._stamps[collection][record_id]
            self._order.pop(collection, None)
            tombstone = {
                "id": record_id,
                "updated_at": self._now(),
                "version": stored["version"] + 1,
            }
            self._emit(collection, "deleted", tombstone)

    def get(self, collection, record_id):
        """The record, or None when it does not exist."""
        collection = _collection_or_error(collection)
        with self._lock:
            return copy.deepcopy(self._store[collection].get(record_id))

    def records(self, collection):
        """All records of a collection in API order (updated_at, id)."""
        collection = _collection_or_error(collection)
        with self._lock:
            return copy.deepcopy(self._sorted(collection))

    def _sorted(self, collection):
        """Records in API order; the cached list itself, so callers must not change it."""
        return self._ordered(collection)[0]

    def _ordered(self, collection):
        """(records sorted by (updated_at, id), their parsed updated_at); call under the lock."""
        if collection not in self._order:
            stamps = self._stamps[collection]
            ids = sorted(stamps, key=lambda record_id: (stamps[record_id], record_id))
            self._order[collection] = (
                [self._store[collection][record_id] for record_id in ids],
                [stamps[record_id] for record_id in ids],
            )
        return self._order[collection]

    def set_external_ref(self, collection, record_id, system, reference):
        """Store the connector's write-back; deliberately no version bump and no webhook."""
        collection = _collection_or_error(collection)
        reference = _require_object(reference)
        with self._lock:
            stored = self._existing(collection, record_id)
            stored["external_refs"][system] = copy.deepcopy(reference)
            return copy.deepcopy(stored)

    def mark_billed(self, ids, invoice):
        """Lock time entries as invoiced: the connector telling the PSA, so like the
        external_refs write-back no version bump, no new updated_at and no webhook.

        Returns ``{"updated": [...], "unknown": [...]}`` (ids in request order, deduplicated).
        """
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise ApiError(400, "ids must be a list of time entry ids")
        if not isinstance(invoice, dict):
            raise ApiError(400, "invoice must be an object with a number")
        number = invoice.get("number")
        if not isinstance(number, str) or not number:
            raise ApiError(400, "invoice.number must be a non-empty string")
        if invoice.get("date") is not None:
            _iso_date("invoice.date", invoice["date"])
        updated, unknown = [], []
        with self._lock:
            for record_id in dict.fromkeys(ids):
                stored = self._store["time_entries"].get(record_id)
                if stored is None:
                    unknown.append(record_id)
                    continue
                stored.update(billed=True, locked=True, invoice_ref=number)
                updated.append(record_id)
            self._matched.clear()
        return {"updated": updated, "unknown": unknown}

    def receive_invoice(self, payload):
        """Store an invoice status the connector pushed; the latest push per number wins.

        Like ``mark_billed`` this is the connector reporting back, so no webhook is sent.
        """
        payload = _require_object(payload)
        number = payload.get("number")
        if not isinstance(number, str) or not number:
            raise ApiError(400, "number must be a non-empty string")
        if payload.get("due_date") is not None:
            _iso_date("due_date", payload["due_date"])
        with self._lock:
            previous = self._invoices.get(number)
            stored = {
                **copy.deepcopy(payload),
                "received_at": self._now(),
                "pushes": (previous["pushes"] if previous else 0) + 1,
            }
            self._invoices[number] = stored
            return copy.deepcopy(stored)

    @property
    def invoices(self):
        """Invoice statuses received, by invoice number."""
        with self._lock:
            return copy.deepcopy(self._invoices)

    def receive_actuals(self, payload):
        """Store pushed actuals rows; a row replaces the one of the same project and week.

        The connector reporting back, like ``mark_billed``: no version bump, no webhook.
        """
        rows = _require_object(payload).get("data")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ApiError(400, "data must be a list of actuals rows")
        for row in rows:
            if not isinstance(row.get("project_id"), str) or not row["project_id"]:
                raise ApiError(400, "every row needs a project_id string")
            if not isinstance(row.get("week"), str) or not _ISO_WEEK.fullmatch(row["week"]):
                raise ApiError(400, "every row needs a week as YYYY-Www")
            if not isinstance(row.get("hours"), int | float) or isinstance(row["hours"], bool):
                raise ApiError(400, "every row needs numeric hours")
        with self._lock:
            self._actuals_posts += 1
            now = self._now()
            for row in rows:
                self._actuals[(row["project_id"], row["week"])] = {
                    **copy.deepcopy(row),
                    "received_at": now,
                }
            return {"stored": len(rows)}

    @property
    def actuals(self):
        """Actuals rows received, latest per (project id, ISO week), in that order."""
        with self._lock:
            return [copy.deepcopy(self._actuals[key]) for key in sorted(self._actuals)]

    @property
    def actuals_posts(self):
        """How many POST /api/v1/actuals requests were accepted."""
        with self._lock:
            return self._actuals_posts

    def receive_project_financials(self, payload):
        """Store pushed project financial summaries; a row replaces the project's previous one."""
        rows = _require_object(payload).get("data")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ApiError(400, "data must be a list of project financial rows")
        for row in rows:
            if not isinstance(row.get("project_id"), str) or not row["project_id"]:
                raise ApiError(400, "every row needs a project_id string")
            if not isinstance(row.get("months"), list):
                raise ApiError(400, "every row needs a months list")
        with self._lock:
            now = self._now()
            for row in rows:
                self._project_financials[row["project_id"]] = {
                    **copy.deepcopy(row),
                    "received_at": now,
                }
            return {"stored": len(rows)}

    @property
    def project_financials(self):
        """Project financial summaries received, latest per project id, in id order."""
        with self._lock:
            return [copy.deepcopy(row) for _id, row in sorted(self._project_financials.items())]

    def receive_account_health(self, payload):
        """Store pushed account health rows; a row replaces the customer's previous one."""
        rows = _require_object(payload).get("data")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ApiError(400, "data must be a list of account health rows")
        for row in rows:
            if not isinstance(row.get("customer_id"), str) or not row["customer_id"]:
                raise ApiError(400, "every row needs a customer_id string")
            if row.get("status") not in ("current", "watch", "at_risk"):
                raise ApiError(400, "status must be current, watch or at_risk")
            for name in ("open_receivable", "overdue_receivable", "dso"):
                value = row.get(name)
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise ApiError(400, f"every row needs a numeric {name}")
            _iso_date("as_of", row.get("as_of"))
        with self._lock:
            now = self._now()
            for row in rows:
                self._account_health[row["customer_id"]] = {
                    **copy.deepcopy(row),
                    "received_at": now,
                }
            return {"stored": len(rows)}

    @property
    def account_health(self):
        """Account health rows received, latest per customer id."""
        with self._lock:
            return copy.deepcopy(self._account_health)

    def receive_payroll_batch(self, payload):
        """Store a payroll batch; the same reference sent again replaces, never adds."""
        payload = _require_object(payload)
        reference = payload.get("reference")
        if not isinstance(reference, str) or not reference:
            raise ApiError(400, "reference must be a non-empty string")
        lines = payload.get("lines")
        if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
            raise ApiError(400, "lines must be a list of objects")
        for line in lines:
            if not isinstance(line.get("employee_id"), str) or not line["employee_id"]:
                raise ApiError(400, "every line needs an employee_id string")
            if line.get("category") not in PAYROLL_CATEGORIES:
                raise ApiError(400, f"unknown pay category: {line.get('category')!r}")
        with self._lock:
            previous = self._payroll_batches.get(reference)
            stored = {
                **copy.deepcopy(payload),
                "received_at": self._now(),
                "pushes": (previous["pushes"] if previous else 0) + 1,
            }
            self._payroll_batches[reference] = stored
            return {"reference": reference, "lines": len(lines), "pushes": stored["pushes"]}

    @property
    def payroll_batches(self):
        """Payroll batches received, by reference."""
        with self._lock:
            return copy.deepcopy(self._payroll_batches)

    def list_page(
        self,
        collection,
        updated_since=None,
        page=1,
        per_page=DEFAULT_PER_PAGE,
        filters=None,
        date_from=None,
        date_to=None,
    ):
        """One page in (updated_at, id) order.

        ``filters`` maps a field of ``LIST_FILTERS[collection]["equal"]`` to accepted values
        (``"a,b"`` or a list); ``date_from``/``date_to`` (YYYY-MM-DD, inclusive) restrict the
        collection's date field, or select spans overlapping the period.
        """
        collection = _collection_or_error(collection)
        matches = _record_matcher(collection, filters, date_from, date_to)
        with self._lock:
            records, stamps = self._ordered(collection)
            first = 0 if updated_since is None else bisect_left(stamps, updated_since)
            matching = records[first:] if first else records
            if matches is not None:
                key = (
                    collection,
                    first,
                    json.dumps(filters or {}, sort_keys=True, default=str),
                    date_from,
                    date_to,
                )
                cached = self._matched.get(key)
                if cached and cached[0] is records:
                    matching = cached[1]
                else:
                    matching = [r for r in matching if matches(r)]
                    if len(self._matched) >= 16:
                        self._matched.clear()
                    self._matched[key] = (records, matching)
            start = (page - 1) * per_page
            data = copy.deepcopy(matching[start : start + per_page])
        has_more = start + per_page < len(matching)
        return {
            "data": data,
            "meta": {
                "page": page,
                "per_page": per_page,
                "total": len(matching),
                "next_page": page + 1 if has_more else None,
            },
        }

    def reset(self):
        """Reseed the store and forget logs and queued faults."""
        with self._lock:
            self._load_seed()
            self._requests_log.clear()
            self._timed_log.clear()
            self._faults.clear()
        with self._deliveries_changed:
            self._deliveries.clear()

    def announce(self):
        """Queue a ``<object>.created`` event per record, parents first; return how many."""
        with self._lock:
            count = 0
            for collection in ANNOUNCE_ORDER:
                for record in self._sorted(collection):
                    count += self._emit(collection, "created", record)
            return count

    # -- faults ------------------------------------------------------------------------------

    def add_fault(
        self, status, count=1, retry_after=None, delay=0, path_prefix=API_PREFIX, body=None
    ):
        """Make the next ``count`` requests under ``path_prefix`` fail; status 0 drops them."""
        if not isinstance(status, int) or not (status == 0 or 100 <= status <= 599):
            raise ApiError(400, "status must be 0 or an HTTP status code")
        if not isinstance(count, int) or count < 1:
            raise ApiError(400, "count must be a positive integer")
        if not isinstance(path_prefix, str):
            raise ApiError(400, "path_prefix must be a string")
        if not isinstance(delay, int | float) or delay < 0:
            raise ApiError(400, "delay must be a non-negative number of seconds")
        with self._lock:
            self._faults.append(
                {
                    "status": status,
                    "count": count,
                    "retry_after": retry_after,
                    "delay": delay,
                    "path_prefix": path_prefix,
                    "body": body,
                }
            )

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path):
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault["path_prefix"]):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self._faults.remove(fault)
                    return dict(fault)
        return None

    # -- logs --------------------------------------------------------------------------------

    @property
    def requests_log(self):
        with self._lock:
            return list(self._requests_log)

    @property
    def timed_requests_log(self):
        """Dicts of arrived, answered (time.monotonic()), method, path, status, faulted,
        agent (the User-Agent header)."""
        keys = ("arrived", "answered", "method", "path", "status", "faulted", "agent")
        with self._lock:
            return [dict(zip(keys, entry, strict=True)) for entry in self._timed_log]

    def _log_request(self, method, path, status, arrived=None, faulted=False, agent=None):
        with self._lock:
            self._requests_log.append((method, path, status))
            now = time.monotonic()
            self._timed_log.append(
                (now if arrived is None else arrived, now, method, path, status, faulted, agent)
            )
        logger.info("%s %s -> %s", method, path, status or "dropped")

    @property
    def deliveries(self):
        with self._deliveries_changed:
            return [dict(d) for d in self._deliveries]

    def wait_for_deliveries(self, n, timeout=10):
        """Block until at least ``n`` webhook events are finished; return the delivery log."""
        with self._deliveries_changed:
            if not self._deliveries_changed.wait_for(lambda: len(self._deliveries) >= n, timeout):
                raise TimeoutError(
                    f"only {len(self._deliveries)} of {n} webhook deliveries after {timeout}s"
                )
            return [dict(d) for d in self._deliveries]

    # -- webhooks ----------------------------------------------------------------------------

    def _emit(self, collection, action, data):
        """Queue an event; called under the store lock so queue order is mutation order."""
        if not (self.webhook_url and self.webhook_secret):
            return 0
        event = {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": f"{COLLECTIONS[collection][0]}.{action}",
            "occurred_at": self._now(),
            "data": copy.deepcopy(data),
        }
        self._events.put(event)
        return 1

    def _deliver_events(self):
        while not self._stopping.is_set():
            event = self._events.get()
            if event is None:
                continue
            delivery = self._deliver(event)
            logger.info(
                "webhook %s %s -> %s after %d attempt(s)",
                delivery["type"],
                delivery["event_id"],
                delivery["status"] or delivery["error"],
                delivery["attempts"],
            )
            with self._deliveries_changed:
                self._deliveries.append(delivery)
                self._deliveries_changed.notify_all()

    def _deliver(self, event):
        """POST one event until it is accepted, finally refused, or out of attempts."""
        body = json.dumps(event).encode()
        delivery = {
            "event_id": event["id"],
            "type": event["type"],
            "status": None,
            "error": None,
            "attempts": 0,
            "delivered": False,
        }
        retry_delay = FIRST_RETRY_DELAY_SECONDS
        while True:
            delivery["attempts"] += 1
            status, error = self._post_webhook(body)
            delivery["status"], delivery["error"] = status, error
            if status is not None and 200 <= status < 300:
                delivery["delivered"] = True
                return delivery
            retryable = status is None or status == 429 or status >= 500
            if not retryable or delivery["attempts"] >= self.webhook_retries:
                return delivery
            if self._stopping.wait(retry_delay):
                return delivery
            retry_delay *= 2

    def _post_webhook(self, body):
        """One signed attempt; returns (status code or None, error text or None)."""
        timestamp = int(time.time())  # fresh per attempt so receivers can enforce a window
        target = urlsplit(self.webhook_url)
        connection_class = (
            http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(target.hostname, target.port, timeout=WEBHOOK_TIMEOUT_SECONDS)
        # http.client keeps header names as written (urllib would turn them into
        # "X-psa-timestamp"), so receivers see the documented spelling.
        headers = {
            "Content-Type": "application/json",
            "X-PSA-Timestamp": str(timestamp),
            "X-PSA-Signature": f"sha256={sign(self.webhook_secret, timestamp, body)}",
        }
        path = target.path or "/"
        if target.query:
            path += f"?{target.query}"
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status, None
        except (OSError, http.client.HTTPException) as error:
            return None, f"{type(error).__name__}: {error}"
        finally:
            connection.close()


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "DemoPSA/1.0"
    protocol_version = "HTTP/1.1"  # keep-alive, as a real API would offer
    timeout = 60  # idle keep-alive connections must not pin threads forever

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PATCH(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def log_message(self, format, *args):
        logger.debug("%s - %s", self.address_string(), format % args)

    @property
    def simulator(self):
        return self.server.simulator

    def _handle(self):
        path = urlsplit(self.path).path
        self._arrived, self._faulted = time.monotonic(), False
        try:
            body = self._read_body()
            # /_sim is exempt from faults so that a test can always clear them again.
            fault = None if path.startswith(SIM_PREFIX) else self.simulator._take_fault(path)
            if fault:
                self._faulted = True
                self._answer_fault(fault)
                return
            if path.startswith(SIM_PREFIX + "/"):
                status, payload = self._route_sim(path, body)
            elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                self._check_token()
                status, payload = self._route_api(path, body)
            else:
                raise ApiError(404, f"no such path: {path}")
        except ApiError as error:
            status, payload = error.status, {"error": error.message}
        self._send_json(status, payload)

    def _read_body(self):
        raw_length = self.headers.get("Content-Length", "0")
        try:
            length = int(raw_length)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "invalid Content-Length") from None
        if length > MAX_BODY_BYTES:
            # Drain a moderately oversized body so that a client still busy sending it reads
            # the 413 instead of hitting a broken pipe; anything larger just ends the connection.
            if length <= MAX_DRAINED_BYTES:
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 64 * 1024))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            else:
                self.close_connection = True
            raise ApiError(413, f"request body exceeds {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self, body):
        try:
            return json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ApiError(400, f"malformed JSON body: {error}") from None

    def _check_token(self):
        header = self.headers.get("Authorization", "")
        expected = f"Bearer {self.simulator.token}"
        if not hmac.compare_digest(header.encode(), expected.encode()):
            raise ApiError(401, "invalid or missing bearer token")

    def _route_api(self, path, body):
        segments = [unquote(s) for s in path[len(API_PREFIX) :].split("/") if s]
        method = self.command
        sim = self.simulator
        if segments == ["account"] and method == "GET":
            return 200, {"name": "Demo PSA", "api_version": "1", "collections": list(COLLECTIONS)}
        if segments[:1] == ["invoices"]:
            return self._route_invoices(segments, method, body, path)
        if segments == ["actuals"]:
            if method == "POST":
                return 200, sim.receive_actuals(self._json_body(body))
            if method == "GET":
                return 200, {"data": sim.actuals}
            raise ApiError(405, f"method {method} not allowed on {path}")
        if segments == ["project_financials"]:
            if method == "POST":
                return 200, sim.receive_project_financials(self._json_body(body))
            if method == "GET":
                return 200, {"data": sim.project_financials}
        if segments == ["account_health"]:
            if method == "POST":
                return 200, sim.receive_account_health(self._json_body(body))
            if method == "GET":
                return 200, {"data": list(sim.account_health.values())}
            raise ApiError(405, f"method {method} not allowed on {path}")
        if segments == ["payroll_batches"]:
            if method == "POST":
                return 200, sim.receive_payroll_batch(self._json_body(body))
            if method == "GET":
                return 200, {"data": list(sim.payroll_batches.values())}
            raise ApiError(405, f"method {method} not allowed on {path}")
        if not segments or segments[0] not in COLLECTIONS:
            raise ApiError(404, f"unknown collection: {segments[0] if segments else ''}")
        collection = segments[0]
        if len(segments) == 1:
            if method == "GET":
                return 200, self._list(collection)
            if method == "POST":
                key = self.headers.get("Idempotency-Key")
                if key is None:
                    return 201, sim.create(collection, self._json_body(body))
                if not key or len(key) > 255:
                    raise ApiError(400, "Idempotency-Key must be 1 to 255 characters")
                record, created = sim.create(collection, self._json_body(body), key)
                return (201 if created else 200), record
        elif segments == ["time_entries", "billed"]:
            if method == "POST":
                payload = _require_object(self._json_body(body))
                return 200, sim.mark_billed(payload.get("ids"), payload.get("invoice"))
        elif len(segments) == 2:
            record_id = segments[1]
            if method == "GET":
                record = sim.get(collection, record_id)
                if record is None:
                    raise ApiError(404, f"{COLLECTIONS[collection][0]} {record_id} not found")
                return 200, record
            if method == "PATCH":
                return 200, sim.update(collection, record_id, self._json_body(body))
            if method == "DELETE":
                sim.delete(collection, record_id)
                return 204, None
        elif len(segments) == 4 and segments[2] == "external_refs":
            if method == "PUT":
                return 200, sim.set_external_ref(
                    collection, segments[1], segments[3], self._json_body(body)
                )
        else:
            raise ApiError(404, f"no such path: {path}")
        raise ApiError(405, f"method {method} not allowed on {path}")

    def _route_invoices(self, segments, method, body, path):
        """POST /invoices (number in the body) or PUT /invoices/<number>: store the status."""
        sim = self.simulator
        if len(segments) == 1 and method == "POST":
            return 200, sim.receive_invoice(self._json_body(body))
        if len(segments) == 2 and method == "PUT":
            payload = {**_require_object(self._json_body(body)), "number": segments[1]}
            return 200, sim.receive_invoice(payload)
        if len(segments) == 2 and method == "GET":
            invoice = sim.invoices.get(segments[1])
            if invoice is None:
                raise ApiError(404, f"invoice {segments[1]} not found")
            return 200, invoice
        raise ApiError(405, f"method {method} not allowed on {path}")

    def _list(self, collection):
        params = parse_qs(urlsplit(self.path).query)
        page = _positive_int(params, "page", 1)
        per_page = _positive_int(params, "per_page", DEFAULT_PER_PAGE)
        if per_page > MAX_PER_PAGE:
            raise ApiError(400, f"per_page must be at most {MAX_PER_PAGE}")
        filters = {
            name: ",".join(values)
            for name, values in params.items()
            if name in FILTER_PARAMS and name not in DATE_RANGE_PARAMS
        }
        date_from, date_to = (
            params[name][-1] if name in params else None for name in DATE_RANGE_PARAMS
        )
        updated_since = None
        if "updated_since" in params:
            # An unencoded "+00:00" offset arrives as " 00:00" after query decoding.
            raw = params["updated_since"][-1].replace(" ", "+")
            try:
                updated_since = parse_timestamp(raw)
            except ValueError:
                raise ApiError(400, f"updated_since is not ISO 8601: {raw!r}") from None
        return self.simulator.list_page(
            collection, updated_since, page, per_page, filters, date_from, date_to
        )

    def _route_sim(self, path, body):
        sim = self.simulator
        route = (self.command, path.rstrip("/"))
        if route == ("POST", "/_sim/faults"):
            spec = _require_object(self._json_body(body) or {})
            allowed = {"status", "count", "retry_after", "delay", "path_prefix", "body"}
            if "status" not in spec or set(spec) - allowed:
                raise ApiError(400, f"fault needs 'status' and only these keys: {sorted(allowed)}")
            sim.add_fault(**spec)
            return 201, {"queued": True}
        if route == ("DELETE", "/_sim/faults"):
            sim.clear_faults()
            return 200, {"cleared": True}
        if route == ("GET", "/_sim/requests"):
            return 200, {
                "data": [{"method": m, "path": p, "status": s} for m, p, s in sim.requests_log]
            }
        if route == ("GET", "/_sim/actuals"):
            return 200, {"data": sim.actuals, "posts": sim.actuals_posts}
        if route == ("GET", "/_sim/deliveries"):
            return 200, {"data": sim.deliveries}
        if route == ("POST", "/_sim/reset"):
            sim.reset()
            return 200, {"reset": True}
        if route == ("POST", "/_sim/announce"):
            return 200, {"queued": sim.announce()}
        raise ApiError(404, f"no such path: {path}")

    def _answer_fault(self, fault):
        if fault["delay"]:
            time.sleep(fault["delay"])
        if fault["status"] == 0:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            self._record(0)
            return
        if fault["body"] is None:
            payload = json.dumps({"error": "simulated fault"}).encode()
        else:
            payload = str(fault["body"]).encode()
        headers = {}
        if fault["retry_after"] is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        self._send(fault["status"], payload, headers)

    def _send_json(self, status, payload):
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, {})

    def _send(self, status, body, headers):
        # Logged before answering, so a client that got the answer finds it in the log.
        self._record(status)
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _record(self, status):
        # The /_sim endpoints are the test harness talking, not the client under test.
        if not urlsplit(self.path).path.startswith(SIM_PREFIX):
            self.simulator._log_request(
                self.command,
                self.path,
                status,
                arrived=getattr(self, "_arrived", None),
                faulted=getattr(self, "_faulted", False),
                agent=self.headers.get("User-Agent") if self.headers else None,
            )
