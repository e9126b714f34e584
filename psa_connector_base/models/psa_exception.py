import hashlib
import json
from datetime import timedelta

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools.sql import create_index

from ..tools.access import MANAGER, USER, in_workflow, requires_group, workflow_write
from ..tools.codec import decode_raw_body
from ..tools.exception_reason import group_key, reason_pattern
from ..tools.suggest import rank

CATEGORIES = [
    ("missing_reference", "Missing reference"),
    ("validation", "Validation error"),
    ("invalid_payload", "Invalid payload"),
    ("conflict", "Conflict with Odoo data"),
    ("ambiguous_match", "Ambiguous match"),
    ("remote_error", "Remote system error"),
    ("job_failure", "Job failure"),
]

AGE_BUCKETS = [
    ("today", "Less than a day"),
    ("days", "1 to 3 days"),
    ("week", "3 to 7 days"),
    ("older", "More than a week"),
]
# Lower bound of each bucket, in days.
AGE_BUCKET_DAYS = [("older", 7), ("week", 3), ("days", 1), ("today", 0)]

APPROVAL_STATES = [
    ("awaiting", "Awaiting approval"),
    ("approved", "Approved"),
]


class PsaException(models.Model):
    """Something that crossed the boundary and could not be applied.

    Nothing is dropped silently: every failure lands here with a message a finance
    user can act on, the technical detail, and the payload as received.
    """

    _name = "psa.exception"
    _description = "PSA Connector Sync Exception"
    _inherit = ["mail.thread", "mail.activity.mixin", "psa.workflow.guard.mixin"]
    _order = "id desc"

    # Set by the connector and the exception's own actions only (see write(): the payload
    # is the one field besides the assignee a person writes, and only a Connector
    # Manager, which marks it edited and may require a second manager's approval).
    _psa_workflow_fields = (
        "name",
        "category",
        "state",
        "backend_id",
        "event_id",
        "object_type",
        "external_id",
        "correlation_id",
        "technical_detail",
        "payload_edited",
        "payload_edited_by_id",
        "payload_edited_date",
        "payload_received",
        "incoming_values",
        "current_values",
        "res_model",
        "res_id",
        "waiting_type",
        "waiting_external_id",
        "retry_count",
        "ignore_reason",
        "resolved_date",
        "age_bucket",
        "approval_state",
        "approved_by_id",
        "approved_date",
        "reason_pattern",
        "group_key",
    )

    name = fields.Char(string="Problem", required=True, tracking=True)
    category = fields.Selection(CATEGORIES, required=True, index=True, tracking=True)
    state = fields.Selection(
        [
            ("open", "Open"),
            ("retrying", "Retrying"),
            ("resolved", "Resolved"),
            ("ignored", "Ignored"),
        ],
        default="open",
        required=True,
        index=True,
        tracking=True,
    )
    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    event_id = fields.Many2one("psa.event", ondelete="set null", index=True)
    event_type = fields.Char(related="event_id.event_type")
    object_type = fields.Char(index=True)
    external_id = fields.Char(string="External ID", index=True)
    correlation_id = fields.Char(index=True)
    technical_detail = fields.Text()
    payload = fields.Text(
        help="The payload as received; a Connector Manager may edit it and replay."
    )
    payload_edited = fields.Boolean(readonly=True)
    payload_edited_by_id = fields.Many2one(
        "res.users",
        string="Payload edited by",
        readonly=True,
        index=True,
        help="The Connector Manager who last edited the payload. Segregation of duties "
        "checks (e.g. payroll approval) read it: an editor may not approve the outcome.",
    )
    payload_edited_date = fields.Datetime(readonly=True)
    payload_received = fields.Text(
        string="Payload as received",
        readonly=True,
        help="The payload before its first edit; a rejected edit restores it.",
    )
    approval_state = fields.Selection(
        APPROVAL_STATES,
        readonly=True,
        index=True,
        tracking=True,
        help="Four-eyes rule: an edited payload of money or pay (see Configuration > "
        "Four-eyes rules) is replayed only after a Connector Manager other than its "
        "editor approved it.",
    )
    approved_by_id = fields.Many2one(
        "res.users", string="Edit approved by", readonly=True, tracking=True
    )
    approved_date = fields.Datetime(string="Edit approved on", readonly=True)
    incoming_values = fields.Text(help="For conflicts: the values the remote system sent.")
    current_values = fields.Text(help="For conflicts: the values Odoo holds.")
    res_model = fields.Char(string="Odoo model")
    res_id = fields.Many2oneReference(string="Odoo record", model_field="res_model")
    waiting_type = fields.Char(index=True)
    waiting_external_id = fields.Char(index=True)
    retry_count = fields.Integer(readonly=True)
    ignore_reason = fields.Text(tracking=True)
    user_id = fields.Many2one("res.users", string="Assigned to", tracking=True)
    resolved_date = fields.Datetime(readonly=True)
    age_days = fields.Integer(string="Age (days)", compute="_compute_age", search="_search_age")
    age_bucket = fields.Selection(
        AGE_BUCKETS,
        string="Age",
        default="today",
        index=True,
        readonly=True,
        group_expand="_group_expand_age_bucket",
        help="How long the exception has been waiting; kept up to date hourly, to group "
        "the queue by age.",
    )
    explanation = fields.Html(
        string="What to do",
        compute="_compute_explanation",
        sanitize=False,
        help="What the category means and how a finance user resolves it.",
    )
    payload_pretty = fields.Text(
        string="Payload (formatted)",
        compute="_compute_payload_pretty",
        help="The payload as received, indented for reading.",
    )
    conflict_html = fields.Html(
        string="Incoming and current values",
        compute="_compute_conflict_html",
        sanitize=False,
        help="For conflicts: each field the remote system sent next to the value Odoo "
        "holds; differing values are highlighted.",
    )
    job_id = fields.Many2one(
        "queue.job",
        string="Related job",
        compute="_compute_job_id",
        compute_sudo=True,
        groups="queue_job.group_queue_job_manager",
        help="The queue job that last processed the event.",
    )
    # The cause, fixed when the exception is raised (computed at creation only: the
    # compute has no dependencies), so that a refresh by _record() rewriting the message
    # keeps the exception in its group. Derived, never taken from the caller (workflow
    # fields: see _psa_workflow_fields).
    reason_pattern = fields.Char(
        string="Cause",
        compute="_compute_group_key",
        store=True,
        precompute=True,
        readonly=True,
        help="The problem with ids, numbers, dates, amounts and quoted values replaced by "
        "placeholders: the exceptions of one backend, category and object type with the "
        "same cause form one group.",
    )
    group_key = fields.Char(
        compute="_compute_group_key",
        store=True,
        precompute=True,
        readonly=True,
        help="A short hash of backend, category, object type and cause; indexed with the "
        "id (see init()).",
    )
    group_id = fields.Many2one(
        "psa.exception.group",
        string="Group",
        compute="_compute_group_id",
        search="_search_group_id",
        help="The exceptions with the same cause: retry or ignore them together.",
    )
    can_map_reference = fields.Boolean(
        compute="_compute_can_map_reference",
        help="A missing reference that a person may map to an existing Odoo record.",
    )
    suggestion_best = fields.Char(
        string="Best suggestion",
        compute="_compute_suggestion_best",
        help="For a missing reference: the Odoo record most like the object it names, "
        "with the evidence. Never mapped on its own: review it under Map to Odoo record.",
    )
    suggestion_best_score = fields.Integer(
        string="Suggestion score",
        compute="_compute_suggestion_best",
        help="How much the best suggestion resembles the missing object (0-100).",
    )

    def init(self):
        super().init()
        # One index for the group lookups: the members of a group (group_key = ...),
        # its first and latest members (ORDER BY id) and its id (min(id)).
        create_index(
            self.env.cr,
            "psa_exception_group_key_id_index",
            self._table,
            ["group_key", "id"],
        )

    @api.depends()
    def _compute_group_key(self):
        # No dependencies on purpose: computed once, when the exception is created.
        for exception in self:
            pattern = reason_pattern(exception.name)
            exception.reason_pattern = pattern
            exception.group_key = group_key(
                exception.backend_id.id, exception.category, exception.object_type, pattern
            )

    def _compute_group_id(self):
        keys = tuple({key for key in self.mapped("group_key") if key})
        groups = {}
        if keys:
            self.flush_model(["group_key"])
            self.env.cr.execute(
                "SELECT group_key, min(id) FROM psa_exception WHERE group_key IN %s"
                " GROUP BY group_key",
                [keys],
            )
            groups = dict(self.env.cr.fetchall())
        for exception in self:
            exception.group_id = groups.get(exception.group_key, False)

    def _search_group_id(self, operator, value):
        Group = self.env["psa.exception.group"]
        if operator in ("=", "!=") and not value:  # with or without a group
            return [("group_key", "=" if operator == "=" else "!=", False)]
        ids = value if isinstance(value, list | tuple) else [value]
        if operator in ("=", "!=", "in", "not in") and all(isinstance(i, int) for i in ids):
            keys = Group.search([("id", "in", ids)]).mapped("group_key")
            return [("group_key", "not in" if operator in ("!=", "not in") else "in", keys)]
        # A text typed in the search view: the groups whose cause matches it.
        keys = Group.search([("reason_pattern", operator, value)]).mapped("group_key")
        return [("group_key", "in", keys)]

    @api.depends("create_date")
    def _compute_age(self):
        now = fields.Datetime.now()
        for exception in self:
            exception.age_days = (now - (exception.create_date or now)).days

    def _search_age(self, operator, value):
        # age > n days  <=>  created before now - n days
        threshold = fields.Datetime.now() - timedelta(days=value)
        flipped = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "="}.get(operator)
        if not flipped:
            raise UserError(_("Unsupported search on age."))
        return [("create_date", flipped, threshold)]

    @api.model
    def _group_expand_age_bucket(self, buckets, domain):
        return [key for key, _label in AGE_BUCKETS]

    @api.model
    def _cron_refresh_age_buckets(self):
        """Move waiting exceptions to their current age bucket (one UPDATE per bucket)."""
        now = fields.Datetime.now()
        moved = 0
        upper = None
        for bucket, days in AGE_BUCKET_DAYS:
            since = now - timedelta(days=days)
            query = """UPDATE psa_exception SET age_bucket = %s
                        WHERE state IN ('open', 'retrying') AND create_date <= %s
                          AND age_bucket IS DISTINCT FROM %s"""
            params = [bucket, since, bucket]
            if upper is not None:
                query += " AND create_date > %s"
                params.append(upper)
            self.env.cr.execute(query, params)
            moved += self.env.cr.rowcount
            upper = since
        self.invalidate_model(["age_bucket"])
        return moved

    @api.depends("category", "waiting_type", "waiting_external_id", "backend_id")
    def _compute_explanation(self):
        guidance = self._category_guidance()
        for exception in self:
            text = guidance.get(exception.category, "")
            if exception.category == "missing_reference" and exception.waiting_external_id:
                text = Markup(
                    _(
                        "This change names %(type)s %(ref)s of %(backend)s, which Odoo does "
                        "not know yet. It is retried automatically when that record arrives. "
                        "If it already exists in Odoo under another name, use <b>Map to Odoo "
                        "record</b>: the link is created and the change applied."
                    )
                ) % {
                    "type": (exception.waiting_type or "").replace("_", " "),
                    "ref": exception.waiting_external_id,
                    "backend": exception.backend_id.name or "",
                }
            exception.explanation = Markup("<p>%s</p>") % text if text else False

    @api.model
    def _category_guidance(self):
        return {
            "missing_reference": _(
                "The change points to a record Odoo does not hold yet. It is retried "
                "automatically when that record arrives."
            ),
            "validation": _(
                "Odoo refused the values. Correct them in the remote system (the next "
                "change is applied), or ask a Connector Manager to correct the payload "
                "and retry."
            ),
            "invalid_payload": _(
                "The data received could not be read. Nothing was changed in Odoo. Ask "
                "a Connector Manager to look at the payload below."
            ),
            "conflict": _(
                "The remote system changed a value that Odoo owns or that was changed "
                "in Odoo too. Compare the values below, correct the side that is wrong, "
                "then ignore this exception with a reason."
            ),
            "ambiguous_match": _(
                "More than one Odoo record matches. Merge the duplicates or map the "
                "right one, then retry."
            ),
            "remote_error": _(
                "The remote system could not be reached or answered with an error, "
                "after several attempts. Retry once it is available again."
            ),
            "job_failure": _(
                "A background job failed unexpectedly. Retry; if it fails again, hand "
                "the technical detail to your administrator."
            ),
        }

    @api.depends("payload")
    def _compute_payload_pretty(self):
        for exception in self:
            exception.payload_pretty = _pretty_text(exception.payload)

    @api.depends("incoming_values", "current_values")
    def _compute_conflict_html(self):
        for exception in self:
            incoming = _loads(exception.incoming_values)
            current = _loads(exception.current_values)
            if not isinstance(incoming, dict) or not isinstance(current, dict):
                exception.conflict_html = False
                continue
            rows = Markup("")
            for key in sorted(incoming.keys() | current.keys()):
                new, old = incoming.get(key), current.get(key)
                rows += Markup('<tr class="%s"><th>%s</th><td>%s</td><td>%s</td></tr>') % (
                    "table-warning" if new != old else "",
                    key,
                    _cell(new),
                    _cell(old),
                )
            exception.conflict_html = Markup(
                '<table class="table table-sm o_psa_conflict"><thead><tr><th>%s</th>'
                "<th>%s</th><th>%s</th></tr></thead><tbody>%s</tbody></table>"
            ) % (_("Field"), _("Incoming (remote system)"), _("Current (Odoo)"), rows)

    @api.depends("event_id.job_uuid")
    def _compute_job_id(self):
        uuids = [u for u in self.sudo().event_id.mapped("job_uuid") if u]
        jobs = {
            job.uuid: job for job in self.env["queue.job"].sudo().search([("uuid", "in", uuids)])
        }
        for exception in self:
            exception.job_id = jobs.get(exception.sudo().event_id.job_uuid, False)

    @api.depends("category", "state", "waiting_type", "waiting_external_id")
    def _compute_can_map_reference(self):
        for exception in self:
            exception.can_map_reference = bool(
                exception.category == "missing_reference"
                and exception.state in ("open", "retrying")
                and exception.waiting_external_id
                and exception._mapping_model()
            )

    @api.depends("can_map_reference", "payload")
    def _compute_suggestion_best(self):
        for exception in self:
            best = exception._suggest_references(limit=1) if exception.can_map_reference else []
            exception.suggestion_best = (
                f"{best[0]['display_name']}: {best[0]['evidence']}" if best else False
            )
            exception.suggestion_best_score = best[0]["score"] if best else 0

    def _suggest_references(self, limit=5):
        """Odoo records that may be the object this missing reference names, best first:
        [{res_model, res_id, display_name, score, evidence}]. Only suggestions: mapping
        one is a person's decision (the map wizard).

        Candidates are the records the user may read, of the exception's company (or
        shared), that are not bound to another object of the type on this backend (the
        map refuses those).
        """
        self.ensure_one()
        model = self._mapping_model() if self.waiting_external_id else None
        if not model or not self.env[model].has_access("read"):
            return []
        backend = self.backend_id
        importer = self.env["psa.importer"]._for_object_type(self.waiting_type)
        hints = self._suggestion_hints(importer)
        Model = self.env[model]
        records = Model.search(importer._suggestion_domain(backend, hints))
        bound = self.env["psa.binding"]._external_ids_of(backend, self.waiting_type, records)
        records = records.filtered(lambda record: record.id not in bound)
        ranked = rank(hints, importer._suggestion_values(records), limit=limit)
        names = {record.id: record.display_name for record in Model.browse(r[0] for r in ranked)}
        return [
            {
                "res_model": model,
                "res_id": res_id,
                "display_name": names[res_id],
                "score": score,
                "evidence": evidence,
            }
            for res_id, score, evidence in ranked
        ]

    def _suggestion_hints(self, importer):
        """What is known of the missing object, from (first wins): the object's own last
        event on this backend (e.g. a customer that failed validation), the referring
        payload's embedded object (``"customer": {...}``) and ``<type>_<field>`` keys
        (``employee_email``), and its external id. Nothing is asked from the remote
        system: opening an exception must not depend on it, nor raise a remote error."""
        self.ensure_one()
        prefix = f"{self.waiting_type}_"
        referring = (_loads(self.payload) or {}).get("data")
        referring = referring if isinstance(referring, dict) else {}
        known = {
            key[len(prefix) :]: value
            for key, value in referring.items()
            if key.startswith(prefix) and key != f"{prefix}id"
        }
        embedded = referring.get(self.waiting_type)
        if isinstance(embedded, dict):
            known.update(embedded)
        # As the user: the events' record rules keep HR data from those not to see it.
        own_event = self.env["psa.event"].search(
            [
                ("backend_id", "=", self.backend_id.id),
                ("object_type", "=", self.waiting_type),
                ("external_id", "=", self.waiting_external_id),
            ],
            order="id desc",
            limit=1,
        )
        own = (_loads(own_event.payload) or {}).get("data") if own_event else None
        if isinstance(own, dict):
            known.update(own)
        known.setdefault("id", self.waiting_external_id)
        hints = importer._suggestion_hints(self.backend_id, known, referring)
        return {key: value for key, value in hints.items() if value}

    def _mapping_model(self):
        """The Odoo model a waiting reference maps to (from its importer), or None."""
        self.ensure_one()
        importer = self.env["psa.importer"]._for_object_type_or_none(self.waiting_type)
        model = importer._psa_odoo_model if importer is not None else None
        return model if model and model in self.env else None

    # Recording -------------------------------------------------------------------

    @api.model
    def _exception_values(
        self,
        error,
        event=None,
        backend=None,
        object_type=None,
        external_id=None,
        detail=None,
        message=None,
    ):
        backend = backend or event.backend_id
        return {
            "name": message or error.message,
            "category": error.category,
            "backend_id": backend.id,
            "event_id": event.id if event else False,
            "object_type": object_type or (event.object_type if event else False),
            "external_id": external_id or (event.external_id if event else False),
            "correlation_id": event.correlation_id if event else False,
            "technical_detail": detail
            or (json.dumps(error.details, default=str, indent=2) if error.details else False),
            "waiting_type": getattr(error, "missing_type", False),
            "waiting_external_id": getattr(error, "missing_external_id", False),
            "incoming_values": _pretty(getattr(error, "incoming", None)),
            "current_values": _pretty(getattr(error, "current", None)),
            "res_model": error.details.get("res_model") or False,
            "res_id": error.details.get("res_id") or False,
            "state": "open",
            **error.exception_values,
        }

    @api.model
    def _record(self, error, event=None, **kwargs):
        """Open (or refresh) the exception for ``error``; one open exception per event."""
        values = self._exception_values(error, event=event, **kwargs)
        existing = event and event.exception_ids.filtered(
            lambda e: e.state in ("open", "retrying") and e.category != "conflict"
        )
        if existing:
            existing = existing[0]
            existing.sudo().write({**values, "retry_count": existing.retry_count + 1})
            return existing
        values["payload"] = event.payload if event else False
        return self.sudo().create(values)

    @api.model
    def _record_invalid_webhook(self, backend, raw_body, reason):
        """Signed input we cannot read is kept whole, for a person to look at."""
        return self.sudo().create(
            {
                "name": _(
                    "A webhook from %(backend)s could not be read: %(reason)s",
                    backend=backend.name,
                    reason=reason,
                ),
                "category": "invalid_payload",
                "backend_id": backend.id,
                "payload": decode_raw_body(raw_body),
                "technical_detail": reason,
            }
        )

    # References that identify one thing across all backends of a company (an employee
    # bound by the HR system is the one the PSA's time entries name).
    _shared_reference_types = ("employee",)

    @api.model
    def _wake_waiting(self, bindings):
        """Retry the events that waited for the objects these bindings bring."""
        # A binding without a record only remembers a removal: nothing arrived.
        bindings = bindings.filtered("res_id")
        if not bindings:
            return
        waiting = self.sudo().search(
            [
                ("state", "=", "open"),
                ("category", "=", "missing_reference"),
                ("waiting_external_id", "in", list(set(bindings.mapped("external_id")))),
            ]
        )
        keys = {(b.backend_id.id, b.external_type, b.external_id) for b in bindings}
        shared_keys = {
            (b.company_id.id, b.external_type, b.external_id)
            for b in bindings
            if b.external_type in self._shared_reference_types
        }
        waiting.filtered(
            lambda e: (e.backend_id.id, e.waiting_type, e.waiting_external_id) in keys
            or (e.company_id.id, e.waiting_type, e.waiting_external_id) in shared_keys
        )._retry(automatic=True)

    @api.model
    def _wake_waiting_for_keys(self, keys):
        """Retry the events that waited for configuration now in place (a service or
        tax code mapped): ``keys`` is a set of (backend id, waiting type, code), taken
        from the mapping records themselves, never from a payload. One search for all."""
        if not keys:
            return
        # sudo: only to find the exceptions; the values searched are the caller's records'.
        waiting = self.sudo().search(
            [
                ("state", "=", "open"),
                ("category", "=", "missing_reference"),
                ("backend_id", "in", list({key[0] for key in keys})),
                ("waiting_external_id", "in", list({key[2] for key in keys})),
            ]
        )
        waiting.filtered(
            lambda e: (e.backend_id.id, e.waiting_type, e.waiting_external_id) in keys
        )._retry(automatic=True)

    @api.model
    def _cron_retry_arrived_references(self):
        """Retry waiting events whose reference has arrived meanwhile.

        Binding creation wakes waiters at once, but a waiter recorded by a concurrent
        job that had not committed yet is invisible to it; this sweep closes that gap.
        """
        self.env.cr.execute(
            """
            SELECT e.id FROM psa_exception e
              JOIN psa_binding b ON b.external_type = e.waiting_type
                                AND b.external_id = e.waiting_external_id
                                AND (b.backend_id = e.backend_id
                                     OR (b.external_type IN %s AND b.company_id = e.company_id))
             WHERE e.state = 'open' AND e.category = 'missing_reference'
               AND b.res_id IS NOT NULL
        """,
            [tuple(self._shared_reference_types)],
        )
        arrived = self.browse(list({row[0] for row in self.env.cr.fetchall()}))
        arrived._retry(automatic=True)
        return len(arrived)

    # Actions ---------------------------------------------------------------------

    def _retry(self, automatic=False):
        # Access is decided on the exception; its events are the connector's business.
        # Plain retries are queued together: an employee arriving at month-end may
        # release thousands of waiting time entries, which should become a few chunk
        # jobs, not one job each.
        # An edited payload awaiting its second approval is never replayed, whoever or
        # whatever (a reference arriving) asks for the retry.
        to_queue = self.env["psa.event"].sudo()
        for exception in self:
            if exception.state not in ("open", "retrying"):
                continue
            if exception.approval_state == "awaiting":
                continue
            with workflow_write():
                exception.write({"state": "retrying", "retry_count": exception.retry_count + 1})
            event = exception.event_id.sudo()
            if exception.payload_edited:
                event._replay_with_payload(exception.payload)
            elif event:
                to_queue |= event
            else:
                with workflow_write():
                    exception.state = "open"
                continue
            exception.message_post(
                body=_("Retried automatically: the missing reference arrived.")
                if automatic
                else _("Retry requested.")
            )
        to_queue._retry()

    @requires_group(USER)
    def action_retry(self):
        candidates = self.filtered(lambda e: e.event_id and e.state in ("open", "retrying"))
        retriable = candidates.filtered(lambda e: e.approval_state != "awaiting")
        if not retriable:
            if candidates:
                raise UserError(
                    _(
                        "The edited payload must first be approved by a Connector Manager "
                        "other than the one who edited it."
                    )
                )
            raise UserError(_("None of the selected exceptions can be retried."))
        retriable._retry()
        return True

    @requires_group(USER)
    def action_ignore(self, reason):
        if not (reason or "").strip():
            raise UserError(_("Say why the exception is ignored."))
        for exception in self.filtered(lambda e: e.state in ("open", "retrying")):
            with workflow_write():
                exception.write(
                    {
                        "state": "ignored",
                        "ignore_reason": reason,
                        "resolved_date": fields.Datetime.now(),
                    }
                )
            if exception.event_id.state in ("failed", "waiting"):
                exception.event_id.sudo().state = "ignored"
            exception._audit("ignore", _("Ignored: %s", reason), {"reason": reason})
        return True

    # Four eyes on edited payloads ------------------------------------------------------

    def _audit(self, operation, message, values=None):
        """An audit row for a person's decision on this exception (who: create_uid)."""
        self.ensure_one()
        return self.env["psa.audit.log"]._log(
            self.backend_id,
            "internal",
            operation,
            object_type=self.object_type,
            external_id=self.external_id,
            res_model=self._name,
            res_id=self.id,
            event=self.event_id.sudo(),
            message=message,
            values={"exception_id": self.id, **(values or {})},
        )

    @requires_group(MANAGER)
    def action_approve_payload(self):
        """The second Connector Manager approves an edited payload; it is then replayed."""
        for exception in self:
            if exception.approval_state != "awaiting":
                raise UserError(
                    _("Exception #%s has no edited payload awaiting approval.", exception.id)
                )
            if exception.payload_edited_by_id == self.env.user:
                raise AccessError(
                    _(
                        "Four eyes: %(user)s edited this payload and cannot approve it; "
                        "another Connector Manager must.",
                        user=self.env.user.name,
                    )
                )
            with workflow_write():
                exception.write(
                    {
                        "approval_state": "approved",
                        "approved_by_id": self.env.user.id,
                        "approved_date": fields.Datetime.now(),
                    }
                )
            exception._audit(
                "payload_approve",
                _(
                    "Edited payload approved by %(approver)s (edited by %(editor)s)",
                    approver=self.env.user.name,
                    editor=exception.payload_edited_by_id.name,
                ),
                {
                    "editor_id": exception.payload_edited_by_id.id,
                    "payload_sha256": _sha256(exception.payload),
                },
            )
            exception.message_post(body=_("Edited payload approved; replaying it."))
        retriable = self.filtered(lambda e: e.event_id and e.state in ("open", "retrying"))
        retriable._retry()
        return True

    @requires_group(MANAGER)
    def action_reject_payload(self):
        """Drop an edit awaiting approval: the payload goes back to what was received."""
        for exception in self:
            if exception.approval_state != "awaiting":
                raise UserError(
                    _("Exception #%s has no edited payload awaiting approval.", exception.id)
                )
            editor = exception.payload_edited_by_id
            rejected = exception.payload
            # Inside the workflow: restoring the payload as received is not an edit.
            with workflow_write():
                exception.write(
                    {
                        "payload": exception.payload_received,
                        "payload_edited": False,
                        "payload_edited_by_id": False,
                        "payload_edited_date": False,
                        "approval_state": False,
                        "approved_by_id": False,
                        "approved_date": False,
                    }
                )
            exception._audit(
                "payload_reject",
                _(
                    "Edited payload of %(editor)s rejected by %(user)s; the payload as "
                    "received is restored",
                    editor=editor.name,
                    user=self.env.user.name,
                ),
                {"editor_id": editor.id, "payload_sha256": _sha256(rejected)},
            )
            exception.message_post(
                body=_("Edited payload rejected; the payload as received is restored.")
            )
        return True

    @requires_group(USER)
    def action_open_map_wizard(self):
        self.ensure_one()
        if not self.can_map_reference:
            raise UserError(_("Only a waiting missing reference can be mapped."))
        return {
            "type": "ir.actions.act_window",
            "name": _("Map to an Odoo record"),
            "res_model": "psa.exception.map.wizard",
            # Created here, so its suggestion lines exist and their buttons can run.
            "res_id": self.env["psa.exception.map.wizard"].create({"exception_id": self.id}).id,
            "view_mode": "form",
            "target": "new",
        }

    @requires_group(USER)
    def action_open_job(self):
        self.ensure_one()
        if not self.job_id:
            raise UserError(_("No job is linked to this exception."))
        return {
            "type": "ir.actions.act_window",
            "res_model": "queue.job",
            "res_id": self.job_id.id,
            "view_mode": "form",
        }

    @requires_group(USER)
    def action_open_ignore_wizard(self):
        return {
            "type": "ir.actions.act_window",
            "name": _("Ignore exceptions"),
            "res_model": "psa.exception.ignore.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_exception_ids": self.ids},
        }

    @requires_group(USER)
    def action_open_record(self):
        self.ensure_one()
        if not (self.res_model and self.res_id):
            raise UserError(_("This exception is not linked to an Odoo record."))
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    @api.model
    def _payload_editors_of(self, records):
        """{record id: users} who edited a payload whose replay created or changed it.

        Follows the audit log from ``records`` to the replayed events that touched them,
        and from each replay back through ``replay_of_id`` to the edited exceptions.
        """
        result = {}
        if not records:
            return result
        logs = (
            self.env["psa.audit.log"]
            .sudo()
            .search(
                [
                    ("res_model", "=", records._name),
                    ("res_id", "in", records.ids),
                    ("event_id.source", "=", "replay"),
                ]
            )
        )
        for log in logs:
            event = log.event_id.sudo()
            seen = set()
            while event and event.id not in seen:
                seen.add(event.id)
                editors = event.replay_of_id.exception_ids.filtered("payload_edited_by_id")
                for editor in editors.payload_edited_by_id:
                    result.setdefault(log.res_id, self.env["res.users"])
                    result[log.res_id] |= editor
                event = event.replay_of_id
        return result

    def _mark_resolved(self, note):
        for exception in self:
            with workflow_write():
                exception.write({"state": "resolved", "resolved_date": fields.Datetime.now()})
            exception.message_post(body=note)

    def write(self, vals):
        if "payload" not in vals or self.env.su or in_workflow():
            return super().write(vals)
        # A person edits a payload: only a Connector Manager, only while the exception
        # waits, and the edit is stamped (who, when) and audited by the server, never
        # taken from the request. Whatever else the request sends is checked by the
        # workflow guard first, as any write is.
        if not self.env.user.has_group(MANAGER):
            raise AccessError(_("Only a Connector Manager may edit a payload."))
        if self._psa_workflow_locked():
            refused = set(self._psa_workflow_fields).intersection(vals)
            if refused:
                self._psa_refuse_workflow_fields(refused)
        closed = self.filtered(lambda e: e.state not in ("open", "retrying"))
        if closed:
            raise UserError(_("Only the payload of an open exception can be corrected."))
        now = fields.Datetime.now()
        for exception in self:
            old_payload = exception.payload
            needs_approval = self.env["psa.four.eyes.rule"]._approval_required(
                exception.object_type, exception.company_id
            )
            stamped = {
                **vals,
                "payload_edited": True,
                "payload_edited_by_id": self.env.user.id,
                "payload_edited_date": now,
                # Editing again after an approval needs a new approval.
                "approval_state": "awaiting" if needs_approval else False,
                "approved_by_id": False,
                "approved_date": False,
            }
            if not exception.payload_edited:
                stamped["payload_received"] = old_payload
            with workflow_write():
                super(PsaException, exception).write(stamped)
            exception._audit(
                "payload_edit",
                _("Payload edited by %s", self.env.user.name)
                + (_("; awaiting a second approval") if needs_approval else ""),
                {
                    "payload_sha256_before": _sha256(old_payload),
                    "payload_sha256_after": _sha256(exception.payload),
                    "approval_required": needs_approval,
                },
            )
        return True


def _sha256(text):
    return hashlib.sha256((text or "").encode()).hexdigest() if text else False


def _loads(text):
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _pretty_text(text):
    """Indented JSON when the text is JSON; otherwise the text unchanged."""
    data = _loads(text)
    if data is None:
        return text or False
    return json.dumps(data, indent=2, ensure_ascii=False)


def _cell(value):
    if value is None:
        return Markup('<span class="text-muted">—</span>')
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _pretty(values):
    return (
        json.dumps(values, indent=2, sort_keys=True, default=str, ensure_ascii=False)
        if values
        else False
    )
