"""Float API v3 (resource forecasting): people, projects, allocations, time off; actuals
pushed back as logged time.

``https://api.float.com/v3``, ``Authorization: Bearer <token>`` and, as Float asks, a
``User-Agent`` naming the application and a contact e-mail. Lists take ``page`` and
``per-page`` and report totals in ``X-Pagination-*`` headers. Float publishes request
limits per minute (200 GET, 100 other requests per company); :class:`RateLimiter` keeps
every adapter of one account in this process under them, and a 429 is retried after its
``Retry-After`` by :class:`HttpAdapter`.

Ids: Float's people and projects have their own integer ids, which would collide with
another system's numeric ids on a company's bindings, so people are ``float:<people_id>``
(allocations also carry the person's e-mail, which finds the Odoo employee) and a project
is its Float *project code* when set (put the PSA's project id there), else
``float:<project_id>``.
"""

import calendar
import threading
import time
from collections import deque
from datetime import date, timedelta

from ..tools.errors import RemoteServiceError
from ..tools.versions import parse_timestamp
from .base import HttpAdapter

MAX_PER_PAGE = 200
# Float's published limits, per company: 200 GET and 100 other requests a minute. Float
# gives no separate per-second figure for these endpoints; spreading the minute's budget
# (at most 10 requests in any second) avoids the bursts that trip its gateway.
LIMITS = {"GET": ((200, 60.0), (10, 1.0)), "WRITE": ((100, 60.0), (10, 1.0))}

# Float task repeat_state → the step between occurrences (days, or months for 2).
REPEAT_DAYS = {1: 7, 3: 14, 4: 21}
REPEAT_MONTHLY = 2
# An allocation repeating without end would expand forever: at most this many occurrences.
MAX_OCCURRENCES = 156
ACTUALS_NOTE = "Odoo actuals"


class RateLimiter:
    """Sliding windows: wait until one more request fits every (count, seconds) window."""

    def __init__(self, limits, clock=time.monotonic, sleep=time.sleep):
        self.limits = limits
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.Lock()
        self.sent = {kind: deque() for kind in limits}

    def acquire(self, method):
        kind = "GET" if method.upper() == "GET" else "WRITE"
        windows = self.limits[kind]
        longest = max(seconds for _count, seconds in windows)
        while True:
            with self.lock:
                now = self.clock()
                sent = self.sent[kind]
                while sent and sent[0] <= now - longest:
                    sent.popleft()
                wait = 0.0
                for count, seconds in windows:
                    recent = [t for t in sent if t > now - seconds]
                    if len(recent) >= count:
                        wait = max(wait, recent[-count] + seconds - now)
                if wait <= 0:
                    sent.append(now)
                    return
            self.sleep(wait)


_limiters = {}
_limiters_lock = threading.Lock()


def limiter_for(account_key):
    """One limiter per Float account in this process (jobs of one backend share it)."""
    with _limiters_lock:
        if account_key not in _limiters:
            _limiters[account_key] = RateLimiter(LIMITS)
        return _limiters[account_key]


class FloatAdapter(HttpAdapter):
    name = "float_v3"
    label = "Float (API v3)"
    object_types = ("department", "employee", "project", "task", "allocation", "leave")

    def __init__(self, config, session=None):
        super().__init__(config, session=session)
        self.limiter = limiter_for((config.base_url, config.token))
        send = self.session.request

        def limited(method, url, **kwargs):
            self.limiter.acquire(method)
            return send(method, url, **kwargs)

        self.session.request = limited
        self._last_headers = {}
        self._people = None

    @classmethod
    def default_base_url(cls, account_id):
        return "https://api.float.com/v3"

    def _default_headers(self):
        headers = super()._default_headers()
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        email = self.config.contact_email
        headers["User-Agent"] = f"Odoo PSA Connector ({email})" if email else self.config.user_agent
        return headers

    def _decode(self, response, method, url):
        self._last_headers = response.headers
        return super()._decode(response, method, url)

    def _split_page(self, body, params):
        headers = self._last_headers
        try:
            current = int(headers.get("X-Pagination-Current-Page") or params.get("page") or 1)
            pages = int(headers.get("X-Pagination-Page-Count") or 1)
        except ValueError:
            current, pages = 1, 1
        return body or [], ({**params, "page": current + 1} if current < pages else None)

    def _list(self, path, since=None, **params):
        params = {"page": 1, "per-page": min(self.config.page_size, MAX_PER_PAGE), **params}
        if since:
            stamp = parse_timestamp(since)
            if stamp:
                params["modified_since"] = stamp.strftime("%Y-%m-%d %H:%M:%S")
        yield from self.paginate(path, params)

    def test_connection(self):
        self.request("GET", "people", params={"page": 1, "per-page": 1})
        total = self._last_headers.get("X-Pagination-Total-Count", "?")
        return f"Float ({total} people)"

    # Pull -------------------------------------------------------------------------------

    def iter_changes(self, object_type, since=None):
        mapper = {
            "department": ("departments", self._department),
            "employee": ("people", self._employee),
            "project": ("projects", self._project),
            "task": ("project-tasks", self._task),
            "leave": ("timeoffs", self._leaves),
            "allocation": ("tasks", self._allocations),
        }.get(object_type)
        if mapper is None:
            raise RemoteServiceError(f"Float offers no {object_type!r} records.", retryable=False)
        path, convert = mapper
        if object_type in ("allocation", "leave"):
            self._load_references()
        for page in self._list(path, since=None if object_type == "department" else since):
            records = []
            for raw in page:
                converted = convert(raw)
                records += converted if isinstance(converted, list) else [converted]
            yield records

    def _load_references(self):
        if self._people is None:
            self._people = {}
            self._projects = {}
            for page in self._list("people"):
                self._people.update({p["people_id"]: p for p in page})
            for page in self._list("projects"):
                self._projects.update({p["project_id"]: p for p in page})

    def _project_ref(self, project_id):
        project = (getattr(self, "_projects", None) or {}).get(project_id) or {}
        return project.get("project_code") or f"float:{project_id}"

    def _department(self, raw):
        return {
            "id": f"float:{raw['department_id']}",
            "name": raw["name"],
            "parent_id": f"float:{raw['parent_id']}" if raw.get("parent_id") else None,
        }

    def _employee(self, raw):
        department = raw.get("department") or {}
        return {
            "id": f"float:{raw['people_id']}",
            "name": raw["name"],
            "work_email": raw.get("email") or None,
            "job_title": raw.get("job_title") or None,
            "department_id": f"float:{department['department_id']}"
            if department.get("department_id")
            else None,
            "start_date": raw.get("start_date") or None,
            "end_date": raw.get("end_date") or None,
            "status": "active" if raw.get("active", 1) else "terminated",
            "updated_at": _stamp(raw.get("modified")),
        }

    def _project(self, raw):
        return {
            "id": raw.get("project_code") or f"float:{raw['project_id']}",
            "code": raw.get("project_code") or None,
            "name": raw["name"],
            "state": "active" if raw.get("active", 1) else "closed",
            "date_start": raw.get("start_date") or None,
            "date_end": raw.get("end_date") or None,
            "description": raw.get("notes") or None,
            "updated_at": _stamp(raw.get("modified")),
        }

    def _task(self, raw):
        return {
            "id": f"float:{raw['task_meta_id']}",
            "project_id": self._project_ref(raw["project_id"]),
            "name": raw.get("task_name") or raw.get("name") or "/",
            "updated_at": _stamp(raw.get("modified")),
        }

    def _person_refs(self, people_id):
        person = (self._people or {}).get(people_id) or {}
        return f"float:{people_id}", person.get("email") or None

    def _allocations(self, raw):
        """One canonical allocation per person and occurrence of a Float task.

        ``hours`` is per day between ``start_date`` and ``end_date``; a repeating task is
        expanded into its occurrences up to ``repeat_end_date``, each its own allocation
        (id ``<task_id>/<people_id>/<occurrence start>``).
        """
        people = raw.get("people_ids") or ([raw["people_id"]] if raw.get("people_id") else [])
        status = {1: "tentative", 2: "confirmed", 3: "confirmed"}.get(
            raw.get("status"), "confirmed"
        )
        occurrences, problem = _occurrences(raw)
        records = []
        for people_id in people:
            employee_id, email = self._person_refs(people_id)
            for start, end in occurrences:
                records.append(
                    {
                        "id": f"{raw['task_id']}/{people_id}/{start}",
                        "employee_id": employee_id,
                        "employee_email": email,
                        "project_id": self._project_ref(raw["project_id"]),
                        "start_date": str(start),
                        "end_date": str(end),
                        "hours_per_day": float(raw.get("hours") or 0.0),
                        "role": raw.get("name") or None,
                        # An unknown repeat rule fails the schema, so the allocation lands in
                        # the exception queue with its payload instead of a wrong forecast.
                        "status": problem or status,
                        "updated_at": _stamp(raw.get("modified")),
                    }
                )
        return records

    def _leaves(self, raw):
        state = "requested" if raw.get("status") == 1 else "approved"
        people = raw.get("people_ids") or ([raw["people_id"]] if raw.get("people_id") else [])
        occurrences, problem = _occurrences(raw)
        records = []
        for people_id in people:
            employee_id, _email = self._person_refs(people_id)
            for start, end in occurrences:
                records.append(
                    {
                        "id": f"{raw['timeoff_id']}/{people_id}/{start}",
                        "employee_id": employee_id,
                        "date_from": str(start),
                        "date_to": str(end),
                        "leave_type": (raw.get("timeoff_type_name") or "").lower() or None,
                        "hours": float(raw["hours"]) if raw.get("hours") else None,
                        "state": problem or state,
                        "updated_at": _stamp(raw.get("modified")),
                    }
                )
        return records

    def write_back(self, object_type, external_id, odoo_refs):
        # Float keeps no other system's ids; its people and projects are matched on
        # e-mail and project code instead.
        return None

    # Actuals → logged time ----------------------------------------------------------------

    def push_actuals(self, rows):
        """Each row (a project's hours in one ISO week) becomes logged time on the week's
        Monday under the Float person named by the backend's account field: one billable
        and one non-billable entry, noted "Odoo actuals <week>". A row replaces what an
        earlier push logged for that project and week (PATCH, or DELETE at zero), so
        sending the same rows twice changes nothing."""
        people_id = str(self.config.account_id or "").strip()
        if not people_id.isdigit():
            raise RemoteServiceError(
                "Set the backend's account field to the Float people_id that Odoo's actuals "
                "are logged under (e.g. a placeholder person).",
                retryable=False,
            )
        projects = {}
        for page in self._list("projects"):
            for project in page:
                projects[f"float:{project['project_id']}"] = project["project_id"]
                if project.get("project_code"):
                    projects[project["project_code"]] = project["project_id"]
        unknown = []
        for row in rows:
            project_id = projects.get(str(row["project_id"]))
            if project_id is None:
                unknown.append(str(row["project_id"]))
                continue
            self._push_week(int(people_id), project_id, row)
        if unknown:
            codes = ", ".join(sorted(set(unknown)))
            raise RemoteServiceError(
                f"Float has no project with the code(s) {codes}; set the Float project code "
                "to the PSA project id. The other weeks were sent.",
                retryable=False,
            )

    def _push_week(self, people_id, project_id, row):
        note = f"{ACTUALS_NOTE} {row['week']}"
        existing = [
            entry
            for page in self._list(
                "logged-time",
                people_id=people_id,
                project_id=project_id,
                start_date=row["week_start"],
                end_date=row.get("week_end") or row["week_start"],
            )
            for entry in page
            if (entry.get("notes") or "").startswith(note)
        ]
        billable = round(float(row["billable_hours"]), 2)
        wanted = {1: billable, 0: round(float(row["hours"]) - billable, 2)}
        for flag, hours in wanted.items():
            mine = [e for e in existing if int(e.get("billable") or 0) == flag]
            keep = mine[0] if mine and hours > 0 else None
            for entry in mine:
                if entry is not keep:
                    self.request("DELETE", f"logged-time/{entry['logged_time_id']}")
            if hours <= 0:
                continue
            body = {
                "people_id": people_id,
                "project_id": project_id,
                "date": row["week_start"],
                "hours": hours,
                "billable": flag,
                "notes": note,
            }
            if keep is None:
                self.request("POST", "logged-time", json=body)
            elif round(float(keep.get("hours") or 0), 2) != hours:
                self.request(
                    "PATCH", f"logged-time/{keep['logged_time_id']}", json={"hours": hours}
                )


def _stamp(value):
    """Float's "2026-11-02 10:15:00" (UTC) → ISO 8601."""
    if not value:
        return None
    moment = parse_timestamp(str(value).replace(" ", "T", 1))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _occurrences(raw):
    """[(start, end)] of a Float task or time off, and a problem text for unknown rules."""
    start = date.fromisoformat(raw["start_date"])
    end = date.fromisoformat(raw["end_date"])
    repeat = int(raw.get("repeat_state") or 0)
    if not repeat:
        return [(start, end)], None
    if repeat not in REPEAT_DAYS and repeat != REPEAT_MONTHLY:
        return [(start, end)], f"unsupported Float repeat_state {repeat}"
    until = date.fromisoformat(raw["repeat_end_date"]) if raw.get("repeat_end_date") else None
    span = end - start
    result = []
    for n in range(MAX_OCCURRENCES):
        if repeat == REPEAT_MONTHLY:
            first = _add_months(start, n)
        else:
            first = start + timedelta(days=REPEAT_DAYS[repeat] * n)
        if until and first > until:
            break
        result.append((first, first + span))
    return result, None


def _add_months(day, months):
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
