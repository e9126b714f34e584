"""Harvest API v2 (https://help.getharvest.com/api-v2/).

Authentication is a personal access token (``Authorization: Bearer``) plus the
``Harvest-Account-Id`` header; Harvest asks for a ``User-Agent`` naming the application
and a contact. Lists are paged with ``page``/``per_page`` and point to the next page in
``links.next``; ``updated_since`` makes every list incremental. Harvest allows 100
requests per 15 seconds per token and answers 429 with ``Retry-After`` above that: a
client-side limiter keeps each Odoo process under the limit, and the base adapter honours
``Retry-After`` should several processes together reach it.

Harvest sends no webhooks: near-real-time comes from the scheduled incremental pull.

Mapping to the canonical schema (ids are Harvest's, as strings):

========================  ==================================================
Harvest                   canonical
========================  ==================================================
client                    customer
contact                   contact
project                   project, and contract when billable
task assignment           task (a time entry's task assignment, or the one of
                          its project and task when the list leaves it out)
user                      employee (id ``harvest-user-<id>``)
time entry                time_entry (``is_closed`` = approved)
expense                   expense (``is_closed`` = approved)
invoice                   payments written back by ``push_invoice_status``
========================  ==================================================
"""

import threading
import time
from collections import deque
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from ..tools.errors import RemoteServiceError
from ..tools.versions import parse_timestamp
from .base import HttpAdapter

# Canonical object type -> Harvest list endpoint (also the key of the list in its body).
ENDPOINTS = {
    "customer": "clients",
    "contact": "contacts",
    "project": "projects",
    "contract": "projects",
    "task": "task_assignments",
    "employee": "users",
    "time_entry": "time_entries",
    "expense": "expenses",
}
APPROVED = "approved"
UNAPPROVED = "open"
EMPLOYEE_PREFIX = "harvest-user-"
# Project budgets Harvest counts in hours (the others are money).
HOUR_BUDGETS = ("project", "task", "person")


class RateLimiter:
    """At most ``limit`` calls in any ``window`` seconds (a sliding window).

    Shared by every adapter of the same Harvest account in this process: each job builds
    its own adapter, and they must not add up to more than Harvest allows.
    """

    def __init__(self, limit, window, clock=time.monotonic, sleep=time.sleep):
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self.calls = deque()
        self.lock = threading.Lock()
        self.waited = 0.0
        self.margin = 0.1

    def acquire(self):
        with self.lock:
            while True:
                now = self.clock()
                while self.calls and now - self.calls[0] >= self.window:
                    self.calls.popleft()
                if len(self.calls) < self.limit:
                    self.calls.append(now)
                    return
                # A little over the window: Harvest counts from when a call arrived.
                delay = self.window - (now - self.calls[0]) + self.margin
                self.waited += delay
                self.sleep(delay)


_LIMITERS = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(key, limit, window):
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None or (limiter.limit, limiter.window) != (limit, window):
            limiter = _LIMITERS[key] = RateLimiter(limit, window)
        return limiter


class _LimitedSession(requests.Session):
    """A session that asks the limiter before every HTTP call, retries included."""

    def __init__(self, limiter):
        super().__init__()
        self.limiter = limiter

    def request(self, *args, **kwargs):
        self.limiter.acquire()
        return super().request(*args, **kwargs)


class HarvestAdapter(HttpAdapter):
    name = "harvest_v2"
    label = "Harvest API v2"
    object_types = (*ENDPOINTS, "billing_event")
    # Harvest's published limit for the general API.
    rate_limit = 100
    rate_window = 15.0

    @classmethod
    def default_base_url(cls, account_id):
        return "https://api.harvestapp.com/v2"

    def __init__(self, config, session=None):
        self.limiter = limiter_for(
            (config.base_url.rstrip("/"), config.account_id),
            self.rate_limit,
            self.rate_window,
        )
        super().__init__(config, session=session or _LimitedSession(self.limiter))
        self._users = None
        self._task_assignments = None

    def _default_headers(self):
        headers = super()._default_headers()
        headers["Authorization"] = f"Bearer {self.config.token}"
        headers["Harvest-Account-Id"] = str(self.config.account_id or "")
        # Harvest refuses requests without a User-Agent naming the app and a contact.
        contact = self.config.contact_email
        agent = self.config.user_agent
        if contact and contact not in agent:
            agent = f"{agent} ({contact})"
        headers["User-Agent"] = agent
        return headers

    def _url(self, path):
        if "://" not in path:
            return super()._url(path)
        # links.next is absolute: follow it only on the configured host, so the token is
        # never sent anywhere else.
        base, target = urlsplit(self.config.base_url), urlsplit(path)
        if (base.scheme, base.netloc) != (target.scheme, target.netloc):
            raise RemoteServiceError(
                f"Harvest pointed to a next page on another host ({target.netloc}); refused.",
                retryable=False,
            )
        return path

    # Pagination ----------------------------------------------------------------------

    def paginate(self, path, params=None, key=None):
        """Yield the list under ``key`` (default: the path's last segment), page after page,
        following ``links.next``."""
        key = key or path.rsplit("/", 1)[-1]
        params = {"per_page": min(max(self.config.page_size, 1), 2000), **(params or {})}
        url = path
        while url:
            body = self.request("GET", url, params=params) or {}
            yield body.get(key) or []
            # The next link carries every query parameter of the list.
            url, params = (body.get("links") or {}).get("next"), None

    # Reading -------------------------------------------------------------------------

    def test_connection(self):
        company = self.request("GET", "company") or {}
        return f"{company.get('name', 'Harvest')} (Harvest account {self.config.account_id})"

    def iter_changes(self, object_type, since=None):
        endpoint = ENDPOINTS.get(object_type)
        if endpoint is None:
            # Harvest has nothing of this type (billing events): nothing to pull.
            return
        params = {}
        if since:
            params["updated_since"] = _harvest_timestamp(since)
        mapper = getattr(self, f"_map_{object_type}")
        for page in self.paginate(endpoint, params):
            records = [mapper(raw) for raw in page]
            yield [record for record in records if record is not None]

    def iter_time_entries(self, date_from, date_to, states):
        params = {"from": str(date_from), "to": str(date_to)}
        for page in self.paginate("time_entries", params):
            yield [
                entry
                for entry in (self._map_time_entry(raw) for raw in page)
                if not states or entry["state"] in states
            ]

    # Mapping -------------------------------------------------------------------------

    @staticmethod
    def _stamps(raw):
        return {"updated_at": raw.get("updated_at"), "created_at": raw.get("created_at")}

    def _map_customer(self, raw):
        return {
            "id": str(raw["id"]),
            "name": raw.get("name") or f"Harvest client {raw['id']}",
            "is_company": True,
            "street": raw.get("address") or None,
            **self._stamps(raw),
        }

    def _map_contact(self, raw):
        name = " ".join(p for p in (raw.get("first_name"), raw.get("last_name")) if p)
        return {
            "id": str(raw["id"]),
            "customer_id": str(_ref(raw, "client")),
            "name": name or raw.get("email") or f"Harvest contact {raw['id']}",
            "email": raw.get("email") or None,
            "phone": raw.get("phone_office") or raw.get("phone_mobile") or None,
            "job_title": raw.get("title") or None,
            **self._stamps(raw),
        }

    def _map_project(self, raw):
        client = raw.get("client") or {}
        budget_by = raw.get("budget_by") or "none"
        if raw.get("is_fixed_fee"):
            billing_type = "fixed_fee"
        elif raw.get("is_billable"):
            billing_type = "time_and_materials"
        else:
            billing_type = None
        return {
            "id": str(raw["id"]),
            "code": raw.get("code") or None,
            "name": raw.get("name") or f"Harvest project {raw['id']}",
            "customer_id": str(client["id"]) if client.get("id") else None,
            "state": "active" if raw.get("is_active", True) else "closed",
            "billing_type": billing_type,
            "currency": client.get("currency") or None,
            "budget_hours": raw.get("budget") if budget_by in HOUR_BUDGETS else None,
            "date_start": raw.get("starts_on"),
            "date_end": raw.get("ends_on"),
            "description": raw.get("notes") or None,
            **self._stamps(raw),
        }

    def _map_contract(self, raw):
        """A billable Harvest project is also the client contract it is invoiced under."""
        if not raw.get("is_billable"):
            return None
        client = raw.get("client") or {}
        contract = {
            "id": str(raw["id"]),
            "project_id": str(raw["id"]),
            "customer_id": str(client["id"]) if client.get("id") else None,
            "name": raw.get("name"),
            "currency": client.get("currency") or None,
            "date_start": raw.get("starts_on"),
            "date_end": raw.get("ends_on"),
            "expense_policy": "cost",
            "state": "active" if raw.get("is_active", True) else "closed",
            **self._stamps(raw),
        }
        if raw.get("is_fixed_fee"):
            contract.update(type="fixed_fee", fixed_amount=raw.get("fee"))
            return contract
        contract.update(type="time_and_materials", rate_card=self._rate_card(raw))
        return contract

    def _rate_card(self, raw):
        """Harvest bills by project rate, by task rates or by people's rates."""
        bill_by = raw.get("bill_by")
        if bill_by == "People":
            card = [
                {
                    "employee_id": EMPLOYEE_PREFIX + str(_ref(assignment, "user")),
                    "employee_email": self._user_email(_ref(assignment, "user")),
                    "hourly_rate": float(assignment["hourly_rate"]),
                }
                for assignment in self._project_assignments("user_assignments", raw["id"])
                if assignment.get("hourly_rate") is not None
            ]
        elif bill_by == "Tasks":
            card = [
                {
                    "role": (assignment.get("task") or {}).get("name") or str(assignment["id"]),
                    "hourly_rate": float(assignment["hourly_rate"]),
                }
                for assignment in self._project_assignments("task_assignments", raw["id"])
                if assignment.get("hourly_rate") is not None and assignment.get("billable")
            ]
        else:
            card = []
        if raw.get("hourly_rate") is not None:
            card.append(
                {"role": "Project rate", "hourly_rate": float(raw["hourly_rate"]), "default": True}
            )
        return card

    def _project_assignments(self, endpoint, project_id):
        return [
            assignment
            for page in self.paginate(f"projects/{project_id}/{endpoint}", {"is_active": "true"})
            for assignment in page
        ]

    def _map_task(self, raw):
        return {
            "id": str(raw["id"]),
            "project_id": str(_ref(raw, "project")),
            "name": (raw.get("task") or {}).get("name") or f"Harvest task {raw['id']}",
            "state": "open" if raw.get("is_active", True) else "done",
            "planned_hours": raw.get("budget"),
            **self._stamps(raw),
        }

    def _map_employee(self, raw):
        name = " ".join(p for p in (raw.get("first_name"), raw.get("last_name")) if p)
        return {
            "id": EMPLOYEE_PREFIX + str(raw["id"]),
            "name": name or raw.get("email") or f"Harvest user {raw['id']}",
            "email": raw.get("email") or None,
            "work_email": raw.get("email") or None,
            "hourly_cost": raw.get("cost_rate"),
            "status": "active" if raw.get("is_active", True) else "terminated",
            **self._stamps(raw),
        }

    def _map_time_entry(self, raw):
        user_id = _ref(raw, "user")
        # One published version of Harvest's docs says the list response carries no
        # task_assignment, user_assignment nor invoice: the task is then found from the
        # entry's project and task, and the invoice number is simply unknown.
        invoice = raw.get("invoice") or {}
        task_id = self._task_assignment_id(raw)
        return {
            "id": str(raw["id"]),
            "project_id": str(_ref(raw, "project")),
            "task_id": str(task_id) if task_id else None,
            "employee_id": EMPLOYEE_PREFIX + str(user_id) if user_id else None,
            "employee_email": self._user_email(user_id),
            "date": raw["spent_date"],
            "hours": float(raw.get("hours") or 0.0),
            "description": raw.get("notes") or None,
            "billable": bool(raw.get("billable")),
            # Harvest approval closes the entry; nothing else approves it.
            "state": APPROVED if raw.get("is_closed") else UNAPPROVED,
            "billed": bool(raw.get("is_billed")),
            "locked": bool(raw.get("is_locked")),
            "invoice_ref": invoice.get("number") or None,
            **self._stamps(raw),
        }

    def _map_expense(self, raw):
        user_id = _ref(raw, "user")
        receipt = raw.get("receipt") or {}
        return {
            "id": str(raw["id"]),
            "project_id": str(_ref(raw, "project")),
            "employee_id": EMPLOYEE_PREFIX + str(user_id),
            "employee_email": self._user_email(user_id),
            "date": raw["spent_date"],
            "amount": float(raw.get("total_cost") or 0.0),
            "currency": (raw.get("client") or {}).get("currency") or None,
            "category": ((raw.get("expense_category") or {}).get("name") or "")[:64] or None,
            "description": ((raw.get("notes") or "")[:512]) or None,
            "state": APPROVED if raw.get("is_closed") else "submitted",
            "receipt_ref": (receipt.get("file_name") or "")[:128] or None,
            **self._stamps(raw),
        }

    def _task_assignment_id(self, raw):
        """The task assignment (our canonical task) a time entry was logged on."""
        assignment_id = _ref(raw, "task_assignment")
        if assignment_id:
            return assignment_id
        project_id, task_id = _ref(raw, "project"), _ref(raw, "task")
        if not (project_id and task_id):
            return None
        if self._task_assignments is None:
            # Every assignment, archived ones too: old entries name archived tasks.
            self._task_assignments = {
                (_ref(assignment, "project"), _ref(assignment, "task")): assignment["id"]
                for page in self.paginate("task_assignments")
                for assignment in page
            }
        return self._task_assignments.get((project_id, task_id))

    def _user_email(self, user_id):
        """Time and expenses name their user by id only; e-mail finds the employee."""
        if not user_id:
            return None
        if self._users is None:
            self._users = {
                user["id"]: user.get("email") for page in self.paginate("users") for user in page
            }
        return self._users.get(user_id)

    # Writing back ----------------------------------------------------------------------

    def write_back(self, object_type, external_id, odoo_refs):
        # Harvest has no field for a foreign key; the binding in Odoo is the link.
        return None

    def mark_time_entries_billed(self, external_ids, invoice):
        # Harvest marks time billed only through its own invoices; nothing to tell it.
        return []

    def push_invoice_status(self, payload):
        """Record in Harvest what Odoo received on an invoice, as invoice payments.

        The Harvest invoice carries the Odoo invoice number. Only the difference between
        what Odoo says is paid and the payments Harvest already holds is posted, so a
        replayed push posts nothing.
        """
        if payload.get("move_type") not in (None, "out_invoice"):
            return {"skipped": "only customer invoices carry payments"}
        invoice = self._find_invoice(payload)
        if invoice is None:
            return {"skipped": f"no Harvest invoice numbered {payload.get('number')}"}
        paid = round(
            float(payload.get("amount_total") or 0.0)
            - float(payload.get("amount_residual") or 0.0),
            2,
        )
        if payload.get("state") != "posted" or payload.get("payment_state") not in (
            "paid",
            "in_payment",
            "partial",
        ):
            paid = 0.0
        recorded = round(
            sum(
                float(payment.get("amount") or 0.0)
                for page in self.paginate(
                    f"invoices/{invoice['id']}/payments", key="invoice_payments"
                )
                for payment in page
            ),
            2,
        )
        missing = round(paid - recorded, 2)
        if missing <= 0:
            return {"invoice_id": invoice["id"], "posted": None}
        body = {
            "amount": missing,
            "paid_date": datetime.now(UTC).date().isoformat(),
            "notes": f"Payment recorded in Odoo on invoice {payload.get('number')}",
        }
        posted = self.request("POST", f"invoices/{invoice['id']}/payments", json=body)
        return {"invoice_id": invoice["id"], "posted": posted}

    def _find_invoice(self, payload):
        number = payload.get("number")
        projects = [c for c in payload.get("contract_ids") or [] if str(c).isdigit()] or [None]
        for project_id in projects:
            params = {"project_id": project_id} if project_id else {}
            for page in self.paginate("invoices", params):
                for invoice in page:
                    if invoice.get("number") == number:
                        return invoice
        return None


def _ref(raw, name):
    return (raw.get(name) or {}).get("id")


def _harvest_timestamp(value):
    """A watermark as Harvest's ``updated_since`` (ISO 8601, UTC, whole seconds).

    Rounded down: the pull is inclusive, and a record pulled twice is stored once.
    """
    moment = parse_timestamp(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else value
