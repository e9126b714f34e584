"""A loopback Productive.io API v2 (JSON:API), faithful to its documented behaviour.

- ``X-Auth-Token`` and ``X-Organization-Id`` on every call: 401 / 403 JSON:API errors
  otherwise; a body not sent as ``application/vnd.api+json`` is 415.
- Lists: ``{"data": [...], "included": [...], "links": {...}, "meta": {"current_page",
  "total_pages", "total_count", "page_size", "max_page_size"}}`` with ``page[number]``,
  ``page[size]`` (max 200), ``include=`` (dotted paths), ``sort=updated_at`` and filters
  ``filter[updated_at][gt_eq]``, ``filter[after]``/``filter[before]`` (time entries),
  ``filter[number]`` (invoices), ``filter[invoice_id]`` (payments).
- ``POST /api/v2/payments`` stores a payment of an invoice (amount in cents).
- A configurable rate limit answered 429 with ``Retry-After``; injectable faults.
- :meth:`deliver_webhook` posts a record's JSON:API document signed as Productive does:
  ``Productive-Signature: t=<unix>, s=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
"""

import copy
import hashlib
import hmac
import json
import math
import time
import urllib.error
import urllib.request

from .vendor_http import VendorError, VendorSimulator

API_PREFIX = "/api/v2"
JSONAPI = "application/vnd.api+json"
TYPES = (
    "companies",
    "projects",
    "deals",
    "services",
    "tasks",
    "people",
    "time_entries",
    "expenses",
    "bookings",
    "invoices",
    "payments",
    "organization_memberships",
)
MAX_PAGE_SIZE = 200


def sign(secret, timestamp, body):
    """The Productive-Signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp}, s={digest.hexdigest()}"


def _error(status, title, detail=None):
    return VendorError(
        status, {"errors": [{"status": str(status), "title": title, "detail": detail}]}
    )


class ProductiveSimulator(VendorSimulator):
    server_name = "ProductiveSimulator/2.0"
    content_type = JSONAPI

    def __init__(self, token="productive-token", organization_id="4242", rate_limit=None, **kw):
        super().__init__(rate_limit=rate_limit, **kw)
        self.token = token
        self.organization_id = str(organization_id)
        self.reset()

    @property
    def url(self):
        """The base URL an admin enters: https://api.productive.io/api/v2 in production."""
        return self.origin + API_PREFIX

    def reset(self):
        with self.lock:
            self.store = {name: {} for name in TYPES}
            self._next_id = 5000
            self.reset_clock()
            self.clear_faults()
            self.clear_log()

    # Store ----------------------------------------------------------------------------

    def create(self, resource, record_id=None, relationships=None, **attributes):
        """Store a resource; ``relationships`` maps a name to (type, id) or None."""
        with self.lock:
            if record_id is None:
                self._next_id += 1
                record_id = self._next_id
            stamp = self.tick()
            attributes.setdefault("created_at", stamp)
            attributes["updated_at"] = stamp
            item = {
                "id": str(record_id),
                "type": resource,
                "attributes": attributes,
                "relationships": {
                    name: {"data": {"type": ref[0], "id": str(ref[1])} if ref else None}
                    for name, ref in (relationships or {}).items()
                },
            }
            self.store[resource][str(record_id)] = item
            return copy.deepcopy(item)

    def update(self, resource, record_id, **attributes):
        with self.lock:
            item = self.store[resource][str(record_id)]
            item["attributes"].update(attributes)
            item["attributes"]["updated_at"] = self.tick()
            return copy.deepcopy(item)

    def get(self, resource, record_id):
        with self.lock:
            return copy.deepcopy(self.store[resource][str(record_id)])

    def document(self, resource, record_id, include=None, event="update"):
        """The JSON:API document of one record, as a webhook would carry it."""
        with self.lock:
            item = self.store[resource][str(record_id)]
            return {
                "data": copy.deepcopy(item),
                "included": self._included([item], include),
                "meta": {"event": event},
            }

    # Webhooks -------------------------------------------------------------------------

    def deliver_webhook(self, url, secret, body, timestamp=None, signature=None):
        """POST ``body`` (a dict or bytes) signed with ``secret``; return (status, answer)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        stamp = int(time.time()) if timestamp is None else timestamp
        header = signature if signature is not None else sign(secret, stamp, raw)
        request = urllib.request.Request(
            url,
            data=raw,
            method="POST",
            headers={"Content-Type": "application/json", "Productive-Signature": header},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    # HTTP -----------------------------------------------------------------------------

    def _check_auth(self, headers):
        if headers.get("X-Auth-Token") != self.token:
            raise _error(401, "Unauthorized", "Invalid or missing X-Auth-Token")
        if headers.get("X-Organization-Id") != self.organization_id:
            raise _error(403, "Forbidden", "Invalid or missing X-Organization-Id")

    def route(self, method, path, query, headers, body):
        if not path.startswith(API_PREFIX + "/"):
            raise _error(404, "Not Found")
        resource = path[len(API_PREFIX) + 1 :]
        if resource not in TYPES:
            raise _error(404, "Not Found")
        if method == "GET":
            return 200, self._list(resource, query, path)
        if method == "POST" and resource == "payments":
            if (headers.get("Content-Type") or "").split(";")[0].strip() != JSONAPI:
                raise _error(415, "Unsupported Media Type", f"send {JSONAPI}")
            return 201, self._create_payment(body)
        raise _error(405, "Method Not Allowed")

    def _list(self, resource, query, path):
        try:
            number = int(query.get("page[number]", 1))
            size = int(query.get("page[size]", 30))
        except ValueError:
            raise _error(400, "Bad Request", "page parameters must be integers") from None
        if number < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            raise _error(400, "Bad Request", f"page[size] must be 1..{MAX_PAGE_SIZE}")
        with self.lock:
            rows = list(self.store[resource].values())
            since = query.get("filter[updated_at][gt_eq]")
            if since:
                rows = [r for r in rows if r["attributes"]["updated_at"] >= since]
            if query.get("filter[after]"):
                rows = [
                    r for r in rows if r["attributes"].get("date", "") >= query["filter[after]"]
                ]
            if query.get("filter[before]"):
                rows = [
                    r for r in rows if r["attributes"].get("date", "") <= query["filter[before]"]
                ]
            if "filter[number]" in query:
                rows = [r for r in rows if r["attributes"].get("number") == query["filter[number]"]]
            if "filter[invoice_id]" in query:
                rows = [
                    r
                    for r in rows
                    if (r["relationships"].get("invoice") or {}).get("data", {}).get("id")
                    == query["filter[invoice_id]"]
                ]
            key = (
                (lambda r: (r["attributes"]["updated_at"], int(r["id"])))
                if query.get("sort") == "updated_at"
                else (lambda r: int(r["id"]))
            )
            rows.sort(key=key)
            total_pages = max(1, math.ceil(len(rows) / size))
            chunk = rows[(number - 1) * size : number * size]

            def link(page):
                return f"{self.origin}{path}?page[number]={page}&page[size]={size}"

            return {
                "data": copy.deepcopy(chunk),
                "included": self._included(chunk, query.get("include")),
                "links": {
                    "first": link(1),
                    "next": link(number + 1) if number < total_pages else None,
                    "prev": link(number - 1) if number > 1 else None,
                    "last": link(total_pages),
                },
                "meta": {
                    "current_page": number,
                    "total_pages": total_pages,
                    "total_count": len(rows),
                    "page_size": size,
                    "max_page_size": MAX_PAGE_SIZE,
                },
            }

    def _included(self, items, include):
        """Related resources for the dotted ``include`` paths, each once."""
        found = {}
        for include_path in (include or "").split(","):
            names = [n for n in include_path.strip().split(".") if n]
            level = list(items)
            for name in names:
                following = []
                for item in level:
                    ref = (item["relationships"].get(name) or {}).get("data")
                    related = ref and self.store.get(ref["type"], {}).get(ref["id"])
                    if related:
                        found[(related["type"], related["id"])] = related
                        following.append(related)
                level = following
        return copy.deepcopy(list(found.values()))

    def _create_payment(self, body):
        data = (body or {}).get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "payments":
            raise _error(422, "Unprocessable Entity", "data.type must be payments")
        attributes = data.get("attributes") or {}
        invoice_ref = ((data.get("relationships") or {}).get("invoice") or {}).get("data") or {}
        with self.lock:
            invoice = self.store["invoices"].get(str(invoice_ref.get("id")))
        if invoice is None:
            raise _error(422, "Unprocessable Entity", "invoice not found")
        if not isinstance(attributes.get("amount"), int) or not attributes.get("paid_on"):
            raise _error(422, "Unprocessable Entity", "amount (cents) and paid_on are required")
        payment = self.create(
            "payments",
            relationships={"invoice": ("invoices", invoice["id"])},
            amount=attributes["amount"],
            currency=attributes.get("currency"),
            paid_on=attributes["paid_on"],
            note=attributes.get("note"),
        )
        with self.lock:
            paid = sum(
                p["attributes"]["amount"]
                for p in self.store["payments"].values()
                if p["relationships"]["invoice"]["data"]["id"] == invoice["id"]
            )
            invoice["attributes"]["amount_paid"] = paid
            invoice["attributes"]["amount_unpaid"] = invoice["attributes"].get("amount", 0) - paid
        return {"data": payment}
