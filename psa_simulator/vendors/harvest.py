"""A loopback Harvest API v2, faithful to its documented shapes and behaviour.

- ``Authorization: Bearer <token>`` and ``Harvest-Account-Id`` on every call: a wrong
  token is 401 ``invalid_token``, a wrong account 403; no ``User-Agent`` is 400.
- Lists: ``{"<collection>": [...], "per_page", "total_pages", "total_entries",
  "next_page", "previous_page", "page", "links": {"first", "next", "previous", "last"}}``
  with ``page``/``per_page`` (1..2000) and ``updated_since``; time entries and expenses
  also take ``from``/``to``, ``project_id``, ``user_id``, ``is_billed``.
- 100 requests per 15 seconds (configurable), then 429 with ``Retry-After``.
- One published version of Harvest's docs says ``task_assignment``, ``user_assignment``
  and ``invoice`` are not returned in the list of ``GET /v2/time_entries``; a later one
  lists them. ``omit_in_list`` chooses: ``"some"`` (default: entries with an odd id come
  without them, the others with them, so a client meets both shapes), ``"all"``,
  ``"none"``.
- ``POST /v2/invoices/{id}/payments`` (``amount`` required, ``paid_at``/``paid_date``,
  ``notes``) answers 201 with the payment; ``GET`` lists them.

Records are stored in Harvest's own shape; tests build them with :meth:`create`.
"""

import copy
import math
import re

from .vendor_http import VendorError, VendorSimulator

API_PREFIX = "/v2"
COLLECTIONS = (
    "clients",
    "contacts",
    "projects",
    "tasks",
    "task_assignments",
    "user_assignments",
    "users",
    "time_entries",
    "expenses",
    "invoices",
    "invoice_payments",
)
LIST_FILTERS = {
    "contacts": {"client_id": "client"},
    "projects": {"client_id": "client"},
    "time_entries": {"project_id": "project", "user_id": "user", "client_id": "client"},
    "expenses": {"project_id": "project", "user_id": "user", "client_id": "client"},
    "invoices": {"project_id": None, "client_id": "client"},
}
# What the list of time entries may leave out (see the module docstring).
LIST_OMITTED = {"time_entries": ("task_assignment", "user_assignment", "invoice")}
OMIT_IN_LIST = ("some", "all", "none")
_NESTED = re.compile(r"^/v2/(projects|invoices)/(\d+)/(\w+)$")


class HarvestSimulator(VendorSimulator):
    server_name = "HarvestSimulator/2.0"

    def __init__(
        self,
        token="harvest-token",
        account_id="123456",
        rate_limit=100,
        omit_in_list="some",
        **kwargs,
    ):
        super().__init__(rate_limit=rate_limit, **kwargs)
        if omit_in_list not in OMIT_IN_LIST:
            raise ValueError(f"omit_in_list must be one of {OMIT_IN_LIST}")
        self.omit_in_list = omit_in_list
        self.token = token
        self.account_id = str(account_id)
        self.store = {name: {} for name in COLLECTIONS}
        self._next_id = 1000

    @property
    def url(self):
        """The base URL an admin enters: https://api.harvestapp.com/v2 in production."""
        return self.origin + API_PREFIX

    def reset(self):
        """Empty the account, the request log and the faults; restart the clock."""
        with self.lock:
            self.store = {name: {} for name in COLLECTIONS}
            self._next_id = 1000
            self.reset_clock()
            self.clear_faults()
            self.clear_log()

    # Store -----------------------------------------------------------------------------

    def create(self, collection, record):
        with self.lock:
            record = copy.deepcopy(record)
            if "id" not in record:
                self._next_id += 1
                record["id"] = self._next_id
            stamp = self.tick()
            record.setdefault("created_at", stamp)
            record["updated_at"] = stamp
            self.store[collection][record["id"]] = record
            return copy.deepcopy(record)

    def update(self, collection, record_id, changes):
        with self.lock:
            record = self.store[collection][record_id]
            record.update(copy.deepcopy(changes))
            record["updated_at"] = self.tick()
            return copy.deepcopy(record)

    def get(self, collection, record_id):
        with self.lock:
            return copy.deepcopy(self.store[collection][record_id])

    def payments(self, invoice_id):
        with self.lock:
            return [
                copy.deepcopy(p)
                for p in self.store["invoice_payments"].values()
                if p["invoice_id"] == invoice_id
            ]

    # HTTP ------------------------------------------------------------------------------

    def _check_auth(self, headers):
        if not headers.get("User-Agent"):
            raise VendorError(400, {"error": "A User-Agent header is required."})
        if headers.get("Authorization") != f"Bearer {self.token}":
            raise VendorError(
                401,
                {
                    "error": "invalid_token",
                    "error_description": "The access token provided is expired, revoked, "
                    "malformed or invalid for other reasons.",
                },
            )
        if headers.get("Harvest-Account-Id") != self.account_id:
            raise VendorError(
                403,
                {
                    "error": "forbidden",
                    "error_description": "The Harvest-Account-Id does not match an account "
                    "this token can access.",
                },
            )

    def route(self, method, path, query, headers, body):
        if path == f"{API_PREFIX}/company" and method == "GET":
            return 200, {
                "base_uri": "https://simulated.harvestapp.com",
                "full_domain": "simulated.harvestapp.com",
                "name": "Simulated Consulting",
                "is_active": True,
                "currency": "EUR",
            }
        nested = _NESTED.match(path)
        if nested:
            parent, parent_id, child = nested.group(1), int(nested.group(2)), nested.group(3)
            if parent == "invoices" and child == "payments":
                return self._payments(method, parent_id, query, body)
            if parent == "projects" and child in ("user_assignments", "task_assignments"):
                rows = [
                    r
                    for r in self.store[child].values()
                    if (r.get("project") or {}).get("id") == parent_id
                ]
                return 200, self._page(child, rows, query, path)
            raise VendorError(404, {"error": "Not Found"})
        collection = path[len(API_PREFIX) + 1 :] if path.startswith(API_PREFIX + "/") else ""
        if method != "GET" or collection not in COLLECTIONS or collection == "invoice_payments":
            raise VendorError(404, {"error": "Not Found"})
        rows = list(self.store[collection].values())
        rows = self._filter(collection, rows, query)
        body = self._page(collection, rows, query, path)
        for row in body[collection]:
            if self._omits(row):
                for key in LIST_OMITTED.get(collection, ()):
                    row.pop(key, None)
        return 200, body

    def _omits(self, row):
        if self.omit_in_list == "some":
            return row["id"] % 2 == 1
        return self.omit_in_list == "all"

    def _filter(self, collection, rows, query):
        since = query.get("updated_since")
        if since:
            rows = [r for r in rows if r["updated_at"] >= since]
        for param, nested in LIST_FILTERS.get(collection, {}).items():
            if param not in query:
                continue
            wanted = int(query[param])
            if collection == "invoices" and param == "project_id":
                # Invoices name their projects on their line items.
                rows = [
                    r
                    for r in rows
                    if any(
                        (item.get("project") or {}).get("id") == wanted
                        for item in r.get("line_items") or []
                    )
                ]
            else:
                rows = [r for r in rows if (r.get(nested) or {}).get("id") == wanted]
        if "is_active" in query:
            active = query["is_active"] == "true"
            rows = [r for r in rows if r.get("is_active", True) == active]
        if collection in ("time_entries", "expenses"):
            if query.get("from"):
                rows = [r for r in rows if r["spent_date"] >= query["from"]]
            if query.get("to"):
                rows = [r for r in rows if r["spent_date"] <= query["to"]]
            if "is_billed" in query:
                billed = query["is_billed"] == "true"
                rows = [r for r in rows if bool(r.get("is_billed")) == billed]
        return rows

    def _page(self, key, rows, query, path):
        try:
            page = int(query.get("page", 1))
            per_page = int(query.get("per_page", 2000))
        except ValueError:
            raise VendorError(422, {"message": "page and per_page must be integers"}) from None
        if page < 1 or not 1 <= per_page <= 2000:
            raise VendorError(422, {"message": "per_page must be between 1 and 2000"})
        rows = sorted(rows, key=lambda r: r["id"])
        total_pages = max(1, math.ceil(len(rows) / per_page))
        chunk = rows[(page - 1) * per_page : page * per_page]
        others = "".join(
            f"&{name}={value}" for name, value in query.items() if name not in ("page", "per_page")
        )

        def link(number):
            return f"{self.origin}{path}?page={number}&per_page={per_page}{others}"

        return {
            key: copy.deepcopy(chunk),
            "per_page": per_page,
            "total_pages": total_pages,
            "total_entries": len(rows),
            "next_page": page + 1 if page < total_pages else None,
            "previous_page": page - 1 if page > 1 else None,
            "page": page,
            "links": {
                "first": link(1),
                "next": link(page + 1) if page < total_pages else None,
                "previous": link(page - 1) if page > 1 else None,
                "last": link(total_pages),
            },
        }

    def _payments(self, method, invoice_id, query, body):
        with self.lock:
            invoice = self.store["invoices"].get(invoice_id)
            if invoice is None:
                raise VendorError(404, {"error": "Not Found"})
            if method == "GET":
                rows = [
                    p
                    for p in self.store["invoice_payments"].values()
                    if p["invoice_id"] == invoice_id
                ]
                return 200, self._page(
                    "invoice_payments", rows, query, f"{API_PREFIX}/invoices/{invoice_id}/payments"
                )
            if method != "POST":
                raise VendorError(404, {"error": "Not Found"})
            if not isinstance(body, dict) or not isinstance(body.get("amount"), int | float):
                raise VendorError(422, {"message": "Amount can't be blank"})
            if invoice.get("state") == "draft":
                raise VendorError(422, {"message": "Payments cannot be recorded on a draft"})
            stamp = self.tick()
            self._next_id += 1
            payment = {
                "id": self._next_id,
                "invoice_id": invoice_id,
                "amount": body["amount"],
                "paid_at": body.get("paid_at")
                or f"{body.get('paid_date') or stamp[:10]}T00:00:00Z",
                "paid_date": body.get("paid_date") or (body.get("paid_at") or stamp)[:10],
                "recorded_by": "API",
                "notes": body.get("notes"),
                "created_at": stamp,
                "updated_at": stamp,
            }
            self.store["invoice_payments"][payment["id"]] = payment
            paid = sum(
                p["amount"]
                for p in self.store["invoice_payments"].values()
                if p["invoice_id"] == invoice_id
            )
            invoice["due_amount"] = round(invoice.get("amount", 0.0) - paid, 2)
            if invoice["due_amount"] <= 0:
                invoice["state"] = "paid"
            invoice["updated_at"] = stamp
            return 201, {k: v for k, v in payment.items() if k != "invoice_id"}
