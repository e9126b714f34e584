"""A Float API v3 stand-in on loopback, shaped after Float's public documentation.

Serves ``/v3``: ``GET people``, ``departments``, ``projects``, ``project-tasks``,
``tasks`` (allocations), ``timeoffs`` and ``logged-time`` (``page``/``per-page``, at most
200 a page, totals in ``X-Pagination-Total-Count``/``Page-Count``/``Current-Page``/
``Per-Page``; ``modified_since`` filters on ``modified``), and ``POST logged-time``,
``PATCH``/``DELETE logged-time/{id}``. Requests need ``Authorization: Bearer <token>``
and a ``User-Agent`` with a contact e-mail (400 without, as Float asks integrations to
identify themselves). :meth:`FloatSimulator.add_fault` injects 429 with ``Retry-After``.
"""

import copy
import math
import re
import uuid
from datetime import UTC, datetime

from .vendor_http import VendorError, VendorSimulator

PREFIX = "/v3"
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
COLLECTIONS = {
    "people": "people_id",
    "departments": "department_id",
    "projects": "project_id",
    "project-tasks": "task_meta_id",
    "tasks": "task_id",
    "timeoffs": "timeoff_id",
    "logged-time": "logged_time_id",
}
LOGGED_TIME_FILTERS = ("people_id", "project_id")
_EMAIL = re.compile(r"[^@\s()]+@[^@\s()]+")


def _now():
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class FloatSimulator(VendorSimulator):
    def __init__(self, token="float-token", **kwargs):
        super().__init__(**kwargs)
        self.token = token
        self.store = {name: {} for name in COLLECTIONS}

    @property
    def base_url(self):
        return self.origin + PREFIX

    def add(self, collection, **record):
        with self.lock:
            key = COLLECTIONS[collection]
            record.setdefault("modified", _now())
            record.setdefault("created", record["modified"])
            self.store[collection][record[key]] = record
            return copy.deepcopy(record)

    def records(self, collection):
        with self.lock:
            return [copy.deepcopy(r) for r in self.store[collection].values()]

    def clear(self):
        with self.lock:
            for records in self.store.values():
                records.clear()

    # HTTP -----------------------------------------------------------------------------

    def _check_auth(self, headers):
        if (headers.get("Authorization") or "") != f"Bearer {self.token}":
            raise VendorError(401, {"name": "Unauthorized", "message": "Invalid access token"})
        if not _EMAIL.search(headers.get("User-Agent") or ""):
            raise VendorError(
                400, {"message": "User-Agent must name your application and a contact email"}
            )

    def route(self, method, path, query, headers, body):
        if not path.startswith(PREFIX + "/"):
            raise VendorError(404, {"message": "Not Found"})
        segments = [s for s in path[len(PREFIX) :].split("/") if s]
        if not segments or segments[0] not in COLLECTIONS:
            raise VendorError(404, {"message": "Not Found"})
        collection = segments[0]
        with self.lock:
            if len(segments) == 1 and method == "GET":
                return self._list(collection, query)
            if collection == "logged-time":
                return self._logged_time(method, segments, body)
        raise VendorError(405, {"message": "Method Not Allowed"})

    def _list(self, collection, query):
        try:
            page = int(query.get("page", 1))
            per_page = int(query.get("per-page", DEFAULT_PER_PAGE))
        except ValueError:
            raise VendorError(400, {"message": "page and per-page are integers"}) from None
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise VendorError(400, {"message": f"per-page must be 1..{MAX_PER_PAGE}"})
        key = COLLECTIONS[collection]
        records = sorted(self.store[collection].values(), key=lambda r: str(r[key]))
        if query.get("modified_since"):
            records = [r for r in records if r["modified"] >= query["modified_since"]]
        if collection == "logged-time":
            for name in LOGGED_TIME_FILTERS:
                if query.get(name):
                    records = [r for r in records if str(r[name]) == query[name]]
            if query.get("start_date"):
                records = [r for r in records if r["date"] >= query["start_date"]]
            if query.get("end_date"):
                records = [r for r in records if r["date"] <= query["end_date"]]
        total = len(records)
        pages = max(1, math.ceil(total / per_page))
        chunk = records[(page - 1) * per_page : page * per_page]
        headers = {
            "X-Pagination-Total-Count": str(total),
            "X-Pagination-Page-Count": str(pages),
            "X-Pagination-Current-Page": str(page),
            "X-Pagination-Per-Page": str(per_page),
        }
        return 200, copy.deepcopy(chunk), headers

    def _logged_time(self, method, segments, body):
        entries = self.store["logged-time"]
        if len(segments) == 1 and method == "POST":
            missing = [
                f for f in ("people_id", "project_id", "date", "hours") if f not in (body or {})
            ]
            if missing:
                raise VendorError(
                    422, [{"field": f, "message": "cannot be blank"} for f in missing]
                )
            entry = {
                "logged_time_id": uuid.uuid4().hex,
                "billable": 1,
                "notes": "",
                **body,
                "locked": 0,
                "created": _now(),
                "modified": _now(),
            }
            entries[entry["logged_time_id"]] = entry
            return 201, copy.deepcopy(entry)
        if len(segments) == 2:
            entry = entries.get(segments[1])
            if entry is None:
                raise VendorError(404, {"message": "Logged time not found"})
            if method == "PATCH":
                entry.update({**(body or {}), "modified": _now()})
                return 200, copy.deepcopy(entry)
            if method == "DELETE":
                del entries[segments[1]]
                return 204, None
        raise VendorError(405, {"message": "Method Not Allowed"})
