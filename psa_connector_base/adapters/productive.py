"""Productive.io API v2 (https://developer.productive.io), a JSON:API.

Every call carries ``X-Auth-Token`` and ``X-Organization-Id``; bodies are
``application/vnd.api+json``. Lists are paged with ``page[number]``/``page[size]``
(``links.next`` / ``meta.total_pages``), related records come in ``included``
(``include=``), and ``filter[updated_at][gt_eq]`` makes a list incremental. Money is in
cents, durations in minutes, as Productive stores them.

Productive signs its webhooks: ``Productive-Signature: t=<unix seconds>, s=<hex>`` where
``s`` is HMAC-SHA256(secret, ``"<t>." + raw body``). The body is the JSON:API document of
the changed record with ``meta.event`` (``create``, ``update``, ``delete``).

Mapping (ids are Productive's, as strings): company → customer, project → project,
task → task, person → employee (``productive-person-<id>``), time entry → time_entry
(``approved`` → approved, ``rejected`` → rejected, else submitted), expense → expense,
booking → allocation, invoice + payment → payments written back by
``push_invoice_status``. Time entries, expenses and bookings reach their project through
their service's budget (deal), which the pull asks to be included.
"""

import hashlib
import hmac
from datetime import UTC, datetime

from ..tools.versions import parse_timestamp
from .base import HttpAdapter

JSONAPI = "application/vnd.api+json"
EMPLOYEE_PREFIX = "productive-person-"
# Canonical object type -> (JSON:API type, include for the pull).
RESOURCES = {
    "customer": ("companies", None),
    "project": ("projects", "project_manager"),
    "task": ("tasks", "assignee"),
    "employee": ("people", None),
    "time_entry": ("time_entries", "person,service.deal"),
    "expense": ("expenses", "person,deal,service.deal"),
    "allocation": ("bookings", "person,service.deal"),
}
TYPE_FOR = {resource: object_type for object_type, (resource, _inc) in RESOURCES.items()}
ACTIONS = {"create": "created", "update": "updated", "delete": "deleted"}
MAX_PAGE_SIZE = 200


class ProductiveAdapter(HttpAdapter):
    name = "productive_v2"
    label = "Productive.io API v2"
    object_types = tuple(RESOURCES)
    webhook_vendor = "productive"

    @classmethod
    def default_base_url(cls, account_id):
        return "https://api.productive.io/api/v2"

    def _default_headers(self):
        headers = super()._default_headers()
        headers.update(
            {
                "Accept": JSONAPI,
                "Content-Type": JSONAPI,
                "X-Auth-Token": self.config.token,
                "X-Organization-Id": str(self.config.account_id or ""),
            }
        )
        return headers

    # Pagination -------------------------------------------------------------------------

    def _split_page(self, body, params):
        body = body or {}
        meta = body.get("meta") or {}
        current = int(meta.get("current_page") or params.get("page[number]") or 1)
        total = int(meta.get("total_pages") or current)
        records = _with_included(body)
        if current < total:
            return records, {**params, "page[number]": current + 1}
        return records, None

    # Reading ----------------------------------------------------------------------------

    def test_connection(self):
        body = self.request("GET", "organization_memberships", params={"page[size]": 1}) or {}
        count = (body.get("meta") or {}).get("total_count")
        return f"Productive organization {self.config.account_id} ({count} member(s))"

    def iter_changes(self, object_type, since=None):
        if object_type not in RESOURCES:
            return
        resource, include = RESOURCES[object_type]
        params = {
            "page[number]": 1,
            "page[size]": min(max(self.config.page_size, 1), MAX_PAGE_SIZE),
            "sort": "updated_at",
        }
        if include:
            params["include"] = include
        if since:
            params["filter[updated_at][gt_eq]"] = _productive_timestamp(since)
        for page in self.paginate(resource, params):
            records = [map_resource(object_type, item, index) for item, index in page]
            yield [record for record in records if record is not None]

    def iter_time_entries(self, date_from, date_to, states):
        params = {
            "page[number]": 1,
            "page[size]": min(max(self.config.page_size, 1), MAX_PAGE_SIZE),
            "include": RESOURCES["time_entry"][1],
            "filter[after]": str(date_from),
            "filter[before]": str(date_to),
        }
        for page in self.paginate("time_entries", params):
            entries = [map_resource("time_entry", item, index) for item, index in page]
            yield [e for e in entries if e and (not states or e["state"] in states)]

    # Writing back -----------------------------------------------------------------------

    def write_back(self, object_type, external_id, odoo_refs):
        # Productive has no field for a foreign key; the binding in Odoo is the link.
        return None

    def mark_time_entries_billed(self, external_ids, invoice):
        return []

    def push_invoice_status(self, payload):
        """Record what Odoo received on an invoice as Productive payments, once.

        The Productive invoice carries the Odoo invoice number; only the difference
        between what Odoo says is paid and Productive's payments is posted.
        """
        if payload.get("move_type") not in (None, "out_invoice"):
            return {"skipped": "only customer invoices carry payments"}
        number = payload.get("number")
        found = (
            self.request("GET", "invoices", params={"filter[number]": number, "page[size]": 1})
            or {}
        )
        invoices = [
            i
            for i in found.get("data") or []
            if (i.get("attributes") or {}).get("number") == number
        ]
        if not invoices:
            return {"skipped": f"no Productive invoice numbered {number}"}
        invoice = invoices[0]
        paid_cents = round(
            (
                float(payload.get("amount_total") or 0.0)
                - float(payload.get("amount_residual") or 0.0)
            )
            * 100
        )
        if payload.get("state") != "posted" or payload.get("payment_state") not in (
            "paid",
            "in_payment",
            "partial",
        ):
            paid_cents = 0
        recorded = sum(
            int((item.get("attributes") or {}).get("amount") or 0)
            for page in self.paginate(
                "payments",
                {
                    "filter[invoice_id]": invoice["id"],
                    "page[number]": 1,
                    "page[size]": MAX_PAGE_SIZE,
                },
            )
            for item, _index in page
        )
        missing = paid_cents - recorded
        if missing <= 0:
            return {"invoice_id": invoice["id"], "posted": None}
        body = {
            "data": {
                "type": "payments",
                "attributes": {
                    "amount": missing,
                    "currency": payload.get("currency"),
                    "paid_on": datetime.now(UTC).date().isoformat(),
                    "note": f"Payment recorded in Odoo on invoice {number}",
                },
                "relationships": {"invoice": {"data": {"type": "invoices", "id": invoice["id"]}}},
            }
        }
        posted = self.request("POST", "payments", json=body)
        return {"invoice_id": invoice["id"], "posted": posted}

    # Webhooks -------------------------------------------------------------------------

    @classmethod
    def verify_webhook(cls, secret, headers, raw_body, now, tolerance):
        parts = {}
        for part in (headers.get("Productive-Signature") or "").split(","):
            key, _sep, value = part.strip().partition("=")
            parts[key] = value.strip()
        timestamp, signature = parts.get("t", ""), parts.get("s", "")
        if not (secret and timestamp.isdigit() and signature):
            return False
        if abs(now - int(timestamp)) > tolerance:
            return False
        expected = hmac.new(
            secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))

    @classmethod
    def webhook_envelopes(cls, payload):
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise ValueError("the body is not a JSON:API document with a 'data' object")
        item = payload["data"]
        object_type = TYPE_FOR.get(item.get("type"))
        if object_type is None:
            raise ValueError(f"Productive resource type {item.get('type')!r} is not synchronised")
        event = str((payload.get("meta") or {}).get("event") or "update").rpartition(".")[2]
        action = ACTIONS.get(event)
        if action is None:
            raise ValueError(f"unknown Productive webhook event {event!r}")
        index = _index(payload.get("included") or [])
        if action == "deleted":
            record = {"id": str(item.get("id")), "deleted": True}
        else:
            record = map_resource(object_type, item, index)
            if record is None:
                return []
        stamp = record.get("updated_at") or (item.get("attributes") or {}).get("updated_at")
        if not stamp:
            raise ValueError("the record carries no updated_at")
        return [
            {
                # The same version of the same record is one event, however often delivered.
                "id": f"productive:{item['type']}:{item.get('id')}:{action}:{stamp}",
                "type": f"{object_type}.{action}",
                "occurred_at": stamp,
                "data": record,
            }
        ]


# Mapping (pure functions: the webhook path has no adapter instance) ------------------------


def map_resource(object_type, item, index):
    if not isinstance(item, dict) or "id" not in item:
        raise ValueError("a resource without an id")
    attrs = item.get("attributes") or {}
    mapper = MAPPERS[object_type]
    return mapper(str(item["id"]), attrs, item.get("relationships") or {}, index)


def _stamps(attrs):
    return {"updated_at": attrs.get("updated_at"), "created_at": attrs.get("created_at")}


def _rel_id(relationships, name):
    data = (relationships.get(name) or {}).get("data")
    return str(data["id"]) if isinstance(data, dict) and data.get("id") is not None else None


def _related(index, relationships, name, resource):
    related_id = _rel_id(relationships, name)
    return index.get((resource, related_id)) if related_id else None


def _email(index, relationships, name="person"):
    person = _related(index, relationships, name, "people")
    return ((person or {}).get("attributes") or {}).get("email")


def _project_of(index, relationships):
    """A project directly, or through the deal (budget) of the record or its service."""
    if _rel_id(relationships, "project"):
        return _rel_id(relationships, "project")
    deal = _related(index, relationships, "deal", "deals")
    if deal is None:
        service = _related(index, relationships, "service", "services")
        if service is not None:
            deal = _related(index, service.get("relationships") or {}, "deal", "deals")
    if deal is not None:
        return _rel_id(deal.get("relationships") or {}, "project")
    return None


def _require_project(kind, record_id, index, relationships):
    """The project id; None (refused by the importer, kept in the exception queue) when
    neither a project nor a service/deal naming one came with the record."""
    return _project_of(index, relationships)


def _map_customer(record_id, attrs, rels, index):
    return {
        "id": record_id,
        "name": attrs.get("name") or attrs.get("billing_name") or f"Productive company {record_id}",
        "is_company": True,
        "vat": attrs.get("vat") or None,
        "ref": attrs.get("company_code") or None,
        "website": attrs.get("domain") or None,
        **_stamps(attrs),
    }


def _map_project(record_id, attrs, rels, index):
    return {
        "id": record_id,
        "code": attrs.get("project_number") or None,
        "name": attrs.get("name") or f"Productive project {record_id}",
        "customer_id": _rel_id(rels, "company"),
        "state": "closed" if attrs.get("archived_at") else "active",
        "manager_email": _email(index, rels, "project_manager"),
        **_stamps(attrs),
    }


def _map_task(record_id, attrs, rels, index):
    estimate = attrs.get("initial_estimate")
    return {
        "id": record_id,
        "project_id": _require_project("task", record_id, index, rels),
        "name": attrs.get("title") or f"Productive task {record_id}",
        "state": "done" if attrs.get("closed") else "open",
        "description": attrs.get("description") or None,
        "planned_hours": round(estimate / 60.0, 2) if estimate else None,
        "assignee_email": _email(index, rels, "assignee"),
        **_stamps(attrs),
    }


def _map_employee(record_id, attrs, rels, index):
    name = " ".join(p for p in (attrs.get("first_name"), attrs.get("last_name")) if p)
    return {
        "id": EMPLOYEE_PREFIX + record_id,
        "name": name or attrs.get("email") or f"Productive person {record_id}",
        "email": attrs.get("email") or None,
        "work_email": attrs.get("email") or None,
        "job_title": attrs.get("title") or None,
        "status": "terminated" if attrs.get("archived_at") else "active",
        **_stamps(attrs),
    }


def _time_state(attrs):
    if attrs.get("approved"):
        return "approved"
    if attrs.get("rejected"):
        return "rejected"
    return "submitted"


def _map_time_entry(record_id, attrs, rels, index):
    person_id = _rel_id(rels, "person")
    return {
        "id": record_id,
        "project_id": _require_project("time entry", record_id, index, rels),
        "task_id": _rel_id(rels, "task"),
        "employee_id": EMPLOYEE_PREFIX + person_id if person_id else None,
        "employee_email": _email(index, rels),
        "date": attrs.get("date"),
        "hours": round((attrs.get("time") or 0) / 60.0, 4),
        "description": attrs.get("note") or None,
        "billable": bool(attrs.get("billable_time")),
        "state": _time_state(attrs),
        "billed": bool(attrs.get("invoiced")),
        "locked": bool(attrs.get("approved")),
        **_stamps(attrs),
    }


def _map_expense(record_id, attrs, rels, index):
    person_id = _rel_id(rels, "person")
    if attrs.get("approved"):
        state = "approved"
    elif attrs.get("rejected"):
        state = "rejected"
    else:
        state = "submitted"
    return {
        "id": record_id,
        "project_id": _require_project("expense", record_id, index, rels),
        "employee_id": EMPLOYEE_PREFIX + (person_id or ""),
        "employee_email": _email(index, rels),
        "date": attrs.get("date"),
        "amount": round((attrs.get("amount") or 0) / 100.0, 2),
        "currency": attrs.get("currency") or None,
        "description": (attrs.get("name") or "")[:512] or None,
        "reimbursable": attrs.get("reimbursable"),
        "state": state,
        **_stamps(attrs),
    }


def _map_allocation(record_id, attrs, rels, index):
    if _rel_id(rels, "event"):
        return None  # an absence booking: time off comes from the HR system
    person_id = _rel_id(rels, "person")
    return {
        "id": record_id,
        "employee_id": EMPLOYEE_PREFIX + (person_id or ""),
        "employee_email": _email(index, rels),
        "project_id": _require_project("booking", record_id, index, rels),
        "start_date": attrs.get("started_on"),
        "end_date": attrs.get("ended_on"),
        "hours_per_day": round((attrs.get("time") or 0) / 60.0, 2),
        "status": "tentative" if attrs.get("draft") else "confirmed",
        **_stamps(attrs),
    }


MAPPERS = {
    "customer": _map_customer,
    "project": _map_project,
    "task": _map_task,
    "employee": _map_employee,
    "time_entry": _map_time_entry,
    "expense": _map_expense,
    "allocation": _map_allocation,
}


def _index(included):
    return {
        (item.get("type"), str(item.get("id"))): item for item in included if isinstance(item, dict)
    }


def _with_included(body):
    index = _index(body.get("included") or [])
    return [(item, index) for item in body.get("data") or []]


def _productive_timestamp(value):
    moment = parse_timestamp(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else value
