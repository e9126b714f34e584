"""BambooHR API v1 (HR system): departments, employees and time off into Odoo.

``https://{company}.bamboohr.com/api/v1``, the API key as the Basic-auth user with any
password ("x"). Employees come from a custom report (one call for everyone, with the
department, supervisor and pay rate the directory lacks); ``/employees/changed?since=``
makes the scheduled pull incremental. Throttling is answered 503 today and 429 with
``Retry-After`` from September 2026: both are retried by :class:`HttpAdapter`.

Signed webhooks (``X-BambooHR-Signature`` = hex HMAC-SHA256 of the raw body followed by
the ``X-BambooHR-Timestamp`` value) become ``employee.refresh`` events; see
:meth:`BambooHrAdapter.webhook_envelopes` for why they are not applied as sent.
"""

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta

from ..tools.errors import RemoteServiceError
from ..tools.versions import parse_timestamp
from .base import HttpAdapter

# Fields of the custom report (and of GET /employees/{id}) that the canonical employee needs.
EMPLOYEE_FIELDS = (
    "id",
    "firstName",
    "lastName",
    "preferredName",
    "displayName",
    "workEmail",
    "jobTitle",
    "department",
    "division",
    "supervisorEId",
    "hireDate",
    "terminationDate",
    "status",
    "payRate",
    "payPer",
    "standardHoursPerWeek",
    "lastChanged",
)

# BambooHR request statuses → canonical leave states. A request that is denied, cancelled
# or superseded (replaced by an edited one) withdraws any time off Odoo holds for it.
LEAVE_STATES = {
    "approved": "approved",
    "requested": "requested",
    "denied": "refused",
    "declined": "refused",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "superseded": "cancelled",
}
# BambooHR dates a request's last status change to the day. Within one day a request only
# moves forward (requested → approved → cancelled/denied/superseded), so this offset makes
# the later state of the same day a newer version instead of a duplicate that is dropped.
LEAVE_STATE_SECONDS = {"requested": 1, "approved": 2, "refused": 3, "cancelled": 3}

# How far around today the time-off pull reads (BambooHR filters requests by the dates
# they cover, not by when they changed).
LEAVE_WINDOW_DAYS = 366

EMPTY_DATES = ("", "0000-00-00", None)


class BambooHrAdapter(HttpAdapter):
    name = "bamboohr"
    label = "BambooHR (API v1)"
    object_types = ("department", "employee", "leave")
    webhook_vendor = "bamboohr"

    def __init__(self, config, session=None):
        super().__init__(config, session=session)
        # The API key is the user name; BambooHR ignores the password.
        self.session.auth = (config.token or "", "x")
        self._departments_by_name = None

    @classmethod
    def default_base_url(cls, account_id):
        return f"https://{account_id}.bamboohr.com/api/v1" if account_id else None

    def _url(self, path):
        base = self.config.base_url or self.default_base_url(self.config.account_id) or ""
        base = base.replace("{company}", self.config.account_id or "")
        return base.rstrip("/") + "/" + path.lstrip("/")

    def _error_for(self, response, method, url):
        error = super()._error_for(response, method, url)
        detail = response.headers.get("X-BambooHR-Error-Message")
        if detail:
            error.message = f"{error.message} ({detail})"
        return error

    def _split_page(self, body, params):
        # BambooHR lists are not paginated: one answer holds everything.
        return body, None

    # Connection -----------------------------------------------------------------------

    def test_connection(self):
        body = self.request("GET", "employees/directory")
        count = len((body or {}).get("employees") or [])
        return f"BambooHR {self.config.account_id or ''} ({count} employees in the directory)"

    # Pull -------------------------------------------------------------------------------

    def iter_changes(self, object_type, since=None):
        if object_type == "department":
            yield self._departments()
        elif object_type == "employee":
            yield from self._employees(since)
        elif object_type == "leave":
            yield self._leaves(since)
        else:
            raise RemoteServiceError(
                f"BambooHR offers no {object_type!r} records.", retryable=False
            )

    def _department_options(self):
        lists = self.request("GET", "meta/lists") or []
        for field in lists:
            if field.get("alias") == "department":
                return field.get("options") or []
        return []

    def _departments(self):
        # The list has no change dates: stamped now, a rename arrives at the next pull,
        # and an unchanged department is applied as "unchanged" (they are few).
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return [
            {"id": str(option["id"]), "name": option["name"], "updated_at": now}
            for option in self._department_options()
            if option.get("name")
        ]

    def _department_id(self, name):
        if not name:
            return None
        if self._departments_by_name is None:
            self._departments_by_name = {
                option["name"]: str(option["id"]) for option in self._department_options()
            }
        return self._departments_by_name.get(name)

    def _report(self):
        body = self.request(
            "POST",
            "reports/custom",
            params={"format": "JSON", "onlyCurrent": "false"},
            json={"title": "Odoo PSA connector", "fields": list(EMPLOYEE_FIELDS)},
        )
        return (body or {}).get("employees") or []

    def _employees(self, since):
        if not since:
            yield [self._employee(row) for row in self._report()]
            return
        changed = self.request("GET", "employees/changed", params={"since": _iso_z(since)})
        entries = ((changed or {}).get("employees") or {}).values()
        if not entries:
            return
        deleted = [e for e in entries if (e.get("action") or "").lower() == "deleted"]
        others = {str(e["id"]): e for e in entries if e not in deleted}
        records = []
        if others:
            for row in self._report():
                entry = others.get(str(row.get("id")))
                if entry:
                    records.append(self._employee(row, entry.get("lastChanged")))
        records += [
            {"id": str(e["id"]), "deleted": True, "updated_at": _iso_z(e.get("lastChanged"))}
            for e in deleted
        ]
        yield records

    def _employee(self, row, last_changed=None):
        name = (
            " ".join(
                part
                for part in (row.get("preferredName") or row.get("firstName"), row.get("lastName"))
                if part
            )
            or row.get("displayName")
            or f"Employee {row.get('id')}"
        )
        department = row.get("department") or None
        hourly_cost, currency = _hourly_cost(row)
        terminated = (row.get("status") or "").lower() == "inactive"
        record = {
            "id": str(row["id"]),
            "name": name,
            "work_email": row.get("workEmail") or None,
            "job_title": row.get("jobTitle") or None,
            # BambooHR's job title is the person's role (the rate card's roles).
            "role": row.get("jobTitle") or None,
            "department_id": self._department_id(department),
            "department": department,
            "manager_id": str(row["supervisorEId"]) if row.get("supervisorEId") else None,
            "start_date": _date(row.get("hireDate")),
            "end_date": _date(row.get("terminationDate")) if terminated else None,
            "status": "terminated" if terminated else "active",
            "updated_at": _iso_z(last_changed or row.get("lastChanged")),
        }
        if hourly_cost is not None:
            record.update(hourly_cost=hourly_cost, currency=currency)
        if row.get("division"):
            # The standard Division field, where BambooHR accounts keep cost centres. Not
            # sent when empty: a cost centre set otherwise is not cleared.
            record["cost_centre"] = row["division"]
        return record

    def _leaves(self, since):
        today = date.today()
        params = {
            "start": str(today - timedelta(days=LEAVE_WINDOW_DAYS)),
            "end": str(today + timedelta(days=LEAVE_WINDOW_DAYS)),
            # Approved requests are time off; the other final states must come too, or a
            # cancelled holiday would stay in Odoo's capacity forever.
            "status": "approved,denied,canceled,superseded",
        }
        if since:
            start = (parse_timestamp(since) or datetime.now(UTC)).date()
            params["start"] = str(min(start, today) - timedelta(days=LEAVE_WINDOW_DAYS))
        records = [
            self._leave(request)
            for request in self.request("GET", "time_off/requests", params=params) or []
        ]
        if since:
            # The request list cannot filter on change dates: keep what changed since.
            threshold = _iso_z(since)
            records = [r for r in records if (r["updated_at"] or "") >= threshold[:10]]
        return records

    def _leave(self, request):
        status = request.get("status") or {}
        state = LEAVE_STATES.get((status.get("status") or "").lower(), "requested")
        changed = status.get("lastChanged") or request.get("created")
        updated_at = None
        if changed:
            day = str(changed)[:10]
            updated_at = f"{day}T00:00:{LEAVE_STATE_SECONDS[state]:02d}Z"
        amount = request.get("amount") or {}
        hours = None
        if (amount.get("unit") or "").lower() == "hours" and amount.get("amount") not in (None, ""):
            hours = float(amount["amount"])
        leave_type = (request.get("type") or {}).get("name")
        return {
            "id": str(request["id"]),
            "employee_id": str(request["employeeId"]),
            "date_from": request["start"],
            "date_to": request["end"],
            "leave_type": leave_type.strip().lower() if leave_type else None,
            "hours": hours,
            "state": state,
            "updated_at": updated_at,
        }

    def write_back(self, object_type, external_id, odoo_refs):
        # BambooHR has no field for another system's ids: nothing to write.
        return None

    def fetch_record(self, object_type, external_id):
        if object_type != "employee":
            raise RemoteServiceError(
                f"BambooHR cannot fetch a single {object_type!r}.", retryable=False
            )
        try:
            row = self.request(
                "GET", f"employees/{external_id}", params={"fields": ",".join(EMPLOYEE_FIELDS)}
            )
        except RemoteServiceError as err:
            if err.status == 404:
                return None
            raise
        return self._employee({**(row or {}), "id": (row or {}).get("id") or external_id})

    # Webhooks -------------------------------------------------------------------------

    @classmethod
    def signature(cls, secret, raw_body, timestamp):
        return hmac.new(
            secret.encode(), raw_body + str(timestamp).encode(), hashlib.sha256
        ).hexdigest()

    @classmethod
    def verify_webhook(cls, secret, headers, raw_body, now, tolerance):
        timestamp = headers.get("X-BambooHR-Timestamp", "")
        signature = headers.get("X-BambooHR-Signature", "")
        if not (secret and timestamp and signature):
            return False
        # BambooHR signs but sets no replay window: ours refuses old or future stamps.
        sent_at = _epoch(timestamp)
        if sent_at is None or abs(now - sent_at) > tolerance:
            return False
        expected = cls.signature(secret, raw_body, timestamp).encode()
        given = signature.strip().lower().encode("utf-8", "replace")
        return hmac.compare_digest(expected, given)

    @classmethod
    def webhook_envelopes(cls, payload):
        """One ``employee.refresh`` (or ``employee.deleted``) envelope per employee.

        Why refresh instead of applying the posted fields: a BambooHR webhook posts only
        the fields an admin chose, under names they may have changed, and never the
        department id, supervisor id or pay rate in our shape. Mapping that partially
        would blank fields it left out or guess at renamed ones. So the envelope carries
        the webhook's own fields for the record (the raw body is kept on the event) and
        the importer reads the whole employee through the adapter when it applies it
        (``psa.event._apply_refresh``); re-deliveries share one id, so they are
        duplicates, and a fetch always applies the current state whatever the order.
        """
        if not isinstance(payload, dict) or not isinstance(payload.get("employees"), list):
            raise ValueError("a BambooHR webhook body is {'employees': [...]}")
        envelopes = []
        for entry in payload["employees"]:
            if not isinstance(entry, dict) or entry.get("id") in (None, ""):
                raise ValueError("every employee of the webhook needs an 'id'")
            employee_id = str(entry["id"])
            stamp = entry.get("timestamp")
            digest = hashlib.sha256(
                json.dumps(
                    [employee_id, stamp, entry], sort_keys=True, separators=(",", ":")
                ).encode()
            ).hexdigest()[:32]
            deleted = (entry.get("action") or "").lower() == "deleted"
            occurred = _iso_z(stamp) if stamp and parse_timestamp(str(stamp)) else None
            envelopes.append(
                {
                    "id": f"bamboohr:{employee_id}:{digest}",
                    "type": "employee.deleted" if deleted else "employee.refresh",
                    "occurred_at": occurred or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "data": {
                        "id": employee_id,
                        "changed_fields": entry.get("changedFields") or [],
                        "webhook_fields": entry.get("fields") or {},
                    },
                }
            )
        return envelopes


def _epoch(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        stamp = parse_timestamp(value)
        return stamp.timestamp() if stamp else None


def _iso_z(value):
    """BambooHR's stamps ("2026-11-03T10:00:00+00:00", "2026-11-03 10:00:00") → UTC ISO."""
    if not value:
        return None
    stamp = parse_timestamp(str(value).replace(" ", "T", 1))
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(value):
    return None if value in EMPTY_DATES else str(value)[:10]


def _hourly_cost(row):
    """(cost per hour, currency) from the pay rate, or (None, None) when not hourly.

    Hourly pay is taken as is; a yearly salary is divided by 52 weeks of the employee's
    standard hours. Any other basis is left to Odoo (no cost is better than a guess).
    """
    rate = row.get("payRate")
    if isinstance(rate, dict):
        amount, currency = rate.get("value"), rate.get("currency")
    else:
        parts = str(rate or "").split()
        amount = parts[0] if parts else None
        currency = parts[1] if len(parts) > 1 else None
    try:
        amount = float(str(amount).replace(",", ""))
    except (TypeError, ValueError):
        return None, None
    per = (row.get("payPer") or "").lower()
    if per == "hour":
        return round(amount, 2), currency
    if per == "year":
        try:
            weekly_hours = float(row.get("standardHoursPerWeek") or 0)
        except (TypeError, ValueError):
            weekly_hours = 0
        if weekly_hours > 0:
            return round(amount / (52 * weekly_hours), 2), currency
    return None, None
