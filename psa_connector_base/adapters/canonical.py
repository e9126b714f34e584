"""The connector's own canonical REST API (v1), as served by the demo PSA.

Documented in ``schemas/README.md``; a PSA that implements it needs no other adapter.
"""

from urllib.parse import quote

from ..tools.errors import RemoteServiceError
from .base import HttpAdapter

COLLECTIONS = {
    "customer": "customers",
    "contact": "contacts",
    "project": "projects",
    "task": "tasks",
    "time_entry": "time_entries",
    "employee": "employees",
    "department": "departments",
    "leave": "leaves",
    "expense": "expenses",
    "milestone": "milestones",
    "allocation": "allocations",
    "contract": "contracts",
    "billing_event": "billing_events",
    "purchase": "purchases",
    "vendor_bill": "vendor_bills",
}


class CanonicalRestAdapter(HttpAdapter):
    name = "canonical_v1"
    label = "Canonical REST API v1 (demo PSA)"
    object_types = tuple(COLLECTIONS)

    def _default_headers(self):
        headers = super()._default_headers()
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        return headers

    def _split_page(self, body, params):
        meta = body.get("meta") or {}
        next_page = meta.get("next_page")
        return body.get("data") or [], ({**params, "page": next_page} if next_page else None)

    def test_connection(self):
        account = self.request("GET", "api/v1/account")
        return f"{account.get('name', 'PSA')} (API v{account.get('api_version', '?')})"

    def iter_changes(self, object_type, since=None):
        params = {"per_page": self.config.page_size}
        if since:
            params["updated_since"] = since
        yield from self.paginate(f"api/v1/{COLLECTIONS[object_type]}", params)

    def write_back(self, object_type, external_id, odoo_refs):
        return self.request(
            "PUT",
            f"api/v1/{COLLECTIONS[object_type]}/{external_id}/external_refs/odoo",
            json=odoo_refs,
        )

    def create_record(self, object_type, record, idempotency_key):
        """Create one record (canonical schema) and return it as the PSA stored it.

        The ``Idempotency-Key`` makes the POST safe to send again: the PSA answers the
        record the key created the first time instead of creating a second one.
        """
        return self.request(
            "POST",
            f"api/v1/{COLLECTIONS[object_type]}",
            json=record,
            headers={"Idempotency-Key": idempotency_key},
        )

    def iter_time_entries(self, date_from, date_to, states):
        params = {
            "per_page": self.config.page_size,
            "date_from": str(date_from),
            "date_to": str(date_to),
            "state": ",".join(sorted(states)),
        }
        yield from self.paginate("api/v1/time_entries", params)

    def mark_time_entries_billed(self, external_ids, invoice):
        answer = self.request(
            "POST",
            "api/v1/time_entries/billed",
            json={"ids": list(external_ids), "invoice": invoice},
        )
        return (answer or {}).get("unknown", [])

    def push_invoice_status(self, payload):
        # Keyed by invoice number on the remote side: a replayed push overwrites, never adds.
        return self.request("POST", "api/v1/invoices", json=payload)

    def fetch_invoice_status(self, number):
        try:
            return self.request("GET", f"api/v1/invoices/{quote(str(number), safe='')}")
        except RemoteServiceError as err:
            if err.status == 404:
                return None
            raise

    def push_actuals(self, rows):
        return self.request("POST", "api/v1/actuals", json={"data": list(rows)})

    def push_project_financials(self, rows):
        return self.request("POST", "api/v1/project_financials", json={"data": list(rows)})

    def push_account_health(self, rows):
        return self.request("POST", "api/v1/account_health", json={"data": list(rows)})

    def push_payroll_batch(self, payload):
        # Keyed by batch reference on the remote side: a replayed push replaces, never adds.
        return self.request("POST", "api/v1/payroll_batches", json=payload)
