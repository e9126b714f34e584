import statistics
from collections import defaultdict
from datetime import timedelta

from psycopg2 import OperationalError

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare, float_round

from odoo.addons.psa_connector_base.tools.access import USER, requires_group, workflow_write
from odoo.addons.psa_connector_base.tools.jobs import execute_racing, is_concurrency_error

ANOMALY_KINDS = [
    ("hours_per_day", "Hours per day far above normal"),
    ("public_holiday", "Work on a public holiday"),
    ("leave", "Work on approved leave"),
    ("rate", "Rate differs from the rate card"),
    ("over_remaining", "Billing event above the contract remaining"),
]
# Kinds a time entry's line can carry; re-detected whenever the line is imported again.
TIME_KINDS = ("hours_per_day", "public_holiday", "leave", "rate")
HOURS_TOLERANCE = 0.001


class PsaAnomaly(models.Model):
    """An incoming entry that deviates from its own history or from its contract.

    A flag, never a block: importing and invoicing go on; finance sees the flag on the
    draft invoice and on the contract, and acknowledges it with a note. Detection is the
    import path's (``_detect_time_lines`` for time, ``_detect_billing_event`` for billing
    events); one open flag per kind and record (``detection_key``), so re-importing the
    same entry does not duplicate it and an entry corrected back to normal clears it.
    """

    _name = "psa.anomaly"
    _description = "PSA Connector Anomaly Flag"
    _inherit = ["psa.workflow.guard.mixin"]
    _order = "id desc"
    # What was detected and who acknowledged it is the detection's and the acknowledge
    # action's to write, never a form's: a flag edited by hand would hide the evidence.
    _psa_workflow_fields = (
        "kind",
        "detection_key",
        "message",
        "backend_id",
        "company_id",
        "analytic_line_id",
        "billing_event_record_id",
        "employee_id",
        "date",
        "project_id",
        "sale_order_id",
        "state",
        "acknowledged_by_id",
        "acknowledged_date",
        "acknowledge_note",
    )

    kind = fields.Selection(ANOMALY_KINDS, required=True, readonly=True, index=True)
    detection_key = fields.Char(
        required=True,
        readonly=True,
        help="Kind and flagged record: one flag per kind and record, whatever the re-imports.",
    )
    message = fields.Text(
        readonly=True, help="What deviates, with the figures compared (the evidence)."
    )
    backend_id = fields.Many2one(
        "psa.backend", readonly=True, ondelete="cascade", index=True, required=True
    )
    company_id = fields.Many2one("res.company", readonly=True, required=True, index=True)
    analytic_line_id = fields.Many2one(
        "account.analytic.line",
        string="Timesheet line",
        readonly=True,
        ondelete="cascade",
        index=True,
        help="The flagged timesheet line (time anomalies).",
    )
    billing_event_record_id = fields.Many2one(
        "psa.billing.event.record",
        string="Billing event",
        readonly=True,
        ondelete="cascade",
        index=True,
        help="The flagged billing event (billing anomalies).",
    )
    employee_id = fields.Many2one("hr.employee", readonly=True, ondelete="set null")
    date = fields.Date(readonly=True)
    project_id = fields.Many2one("project.project", readonly=True, ondelete="set null", index=True)
    sale_order_id = fields.Many2one(
        "sale.order",
        string="Contract",
        readonly=True,
        ondelete="set null",
        index=True,
        help="The PSA contract (sale order) whose invoicing the flag concerns.",
    )
    state = fields.Selection(
        [("open", "Open"), ("acknowledged", "Acknowledged")],
        default="open",
        required=True,
        readonly=True,
        index=True,
    )
    acknowledged_by_id = fields.Many2one("res.users", readonly=True, ondelete="set null")
    acknowledged_date = fields.Datetime(readonly=True)
    acknowledge_note = fields.Text(
        readonly=True, help="Why the deviation is fine (or what was done about it)."
    )

    _sql_constraints = [
        (
            "detection_key_unique",
            "unique(detection_key)",
            "One flag per kind and record.",
        ),
    ]

    @api.depends("kind", "date", "employee_id")
    def _compute_display_name(self):
        labels = dict(self._fields["kind"]._description_selection(self.env))
        for flag in self:
            parts = [labels.get(flag.kind) or _("Anomaly flag")]
            if flag.employee_id:
                parts.append(flag.employee_id.name)
            if flag.date:
                parts.append(str(flag.date))
            flag.display_name = " — ".join(parts)

    # Acknowledgement --------------------------------------------------------------------

    @requires_group(USER)
    def action_acknowledge(self, reason):
        """Finance has looked at the flags: they stay, marked acknowledged, with the reason."""
        if not (reason or "").strip():
            raise UserError(_("Say why the flag is acknowledged."))
        flags = self.filtered(lambda f: f.state == "open")
        with workflow_write():
            flags.write(
                {
                    "state": "acknowledged",
                    "acknowledged_by_id": self.env.uid,
                    "acknowledged_date": fields.Datetime.now(),
                    "acknowledge_note": reason.strip(),
                }
            )
        return True

    # Time -------------------------------------------------------------------------------

    @api.model
    def _detect_time_lines(self, backend, lines, days=()):
        """(Re)detect the time anomalies of ``lines`` and of their employees' same days
        (and of the (employee id, date) ``days``, where lines were moved or removed).

        Batched for month-end chunks: a fixed number of grouped queries, whatever the
        number of lines. Open flags that no longer hold are removed; acknowledged ones
        stay as they were.
        """
        internal = self._internal_project_ids(backend)
        lines = lines.exists().filtered(
            lambda line: line.employee_id and line.project_id and line.project_id.id not in internal
        )
        pairs = {(line.employee_id.id, line.date) for line in lines} | set(days)
        if not pairs:
            return self.browse()
        AnalyticLine = self.env["account.analytic.line"]
        AnalyticLine.flush_model()
        # A day's total changes with each of its lines: every line of the day is re-checked.
        self.env.cr.execute(
            """SELECT l.id FROM account_analytic_line l
                 JOIN unnest(%s::int[], %s::date[]) AS p(employee_id, day)
                   ON l.employee_id = p.employee_id AND l.date = p.day
                WHERE l.project_id IS NOT NULL AND NOT l.project_id = ANY(%s)""",
            ([p[0] for p in pairs], [p[1] for p in pairs], internal),
        )
        lines = AnalyticLine.browse([row[0] for row in self.env.cr.fetchall()]) | lines
        if not lines:
            return self.browse()
        wanted = {}
        for detect in (
            self._detect_hours_per_day,
            self._detect_public_holidays,
            self._detect_leave,
            self._detect_rates,
        ):
            for values in detect(backend, lines):
                wanted[values["detection_key"]] = values
        existing = self.search([("analytic_line_id", "in", lines.ids), ("kind", "in", TIME_KINDS)])
        return self._sync_flags(backend, existing, wanted)

    def _detect_time_days_job(self, backend_id, days):
        """Job: (re)detect the time anomalies of ``days`` [(employee id, "YYYY-MM-DD")]
        of a backend, in a snapshot that sees every chunk committed so far (lanes)."""
        backend = self.env["psa.backend"].browse(backend_id).exists()
        if not backend:
            return "backend removed: nothing to detect"
        merged = self._merge_pending_detections(backend_id)
        pairs = {
            (employee_id, fields.Date.to_date(day))
            for employee_id, day in [*days, *(pair for _uuid, more in merged for pair in more)]
        }
        flags = self.with_company(backend.company_id)._detect_time_lines(
            backend, self.env["account.analytic.line"], days=pairs
        )
        also = f" (with {len(merged)} detection(s) queued after this one)" if merged else ""
        return f"{len(pairs)} employee day(s) checked{also}, {len(flags)} flag(s) raised"

    def _merge_pending_detections(self, backend_id):
        """Take over the days of the backend's other detections queued and committed
        (their chunks are, so their lines are seen here) but not started: each would go
        over the lines of the same days again (a burst's chunks in three lanes name every
        day of the month, `make bench`: 3.6 s a detection over 54,000 lines). They are
        cancelled, as merged; [(uuid, days)]. Best effort, as psa.event's drains: a job
        the runner is handing out right now is left alone and runs."""
        try:
            with self.env.cr.savepoint(flush=False):
                execute_racing(
                    self.env.cr,
                    # queue_job keeps the arguments as a JSON text in its jsonb column.
                    """WITH queued AS (
                              SELECT id, args FROM (
                                     SELECT id, uuid, state, model_name, method_name,
                                            CASE jsonb_typeof(args)
                                            WHEN 'string' THEN (args #>> '{}')::jsonb
                                            ELSE args END AS args
                                       FROM queue_job
                                      WHERE state = 'pending' AND model_name = 'psa.anomaly'
                                        AND method_name = '_detect_time_days_job'
                                        AND uuid IS DISTINCT FROM %s) decoded
                               WHERE args->>0 = %s)
                       UPDATE queue_job j
                          SET state = 'cancelled', date_cancelled = now() at time zone 'UTC',
                              result = %s
                         FROM (SELECT q.id, q.args FROM queued q
                                 JOIN queue_job l ON l.id = q.id
                                  FOR UPDATE OF l SKIP LOCKED) q
                        WHERE j.id = q.id
                    RETURNING j.uuid, q.args->1""",
                    [
                        self.env.context.get("job_uuid"),
                        str(backend_id),
                        f"merged into the detection {self.env.context.get('job_uuid')}",
                    ],
                )
                return self.env.cr.fetchall()
        except OperationalError as err:
            if not is_concurrency_error(err):
                raise
            return []

    def _internal_project_ids(self, backend):
        """The company's internal project (time off, training): its time is never billed,
        and the time-off lines Odoo writes there on leave and public holidays are the
        absence itself, not work on it."""
        project = backend.company_id.sudo().internal_project_id
        return project.ids

    def _sync_flags(self, backend, existing, wanted):
        """Create the wanted flags that are missing, refresh the open ones, drop the rest."""
        by_key = {flag.detection_key: flag for flag in existing}
        with workflow_write():
            existing.filtered(
                lambda f: f.state == "open" and f.detection_key not in wanted
            ).unlink()
            for key, values in wanted.items():
                flag = by_key.get(key)
                if flag and flag.state == "open" and flag.message != values["message"]:
                    flag.message = values["message"]
            to_create = [
                # A flag is in its line's company (entity routing), else the backend's.
                {"company_id": backend.company_id.id, **values, "backend_id": backend.id}
                for key, values in wanted.items()
                if key not in by_key
            ]
            return self.create(to_create)

    def _line_flag(self, kind, line, message):
        return {
            "kind": kind,
            "detection_key": f"{kind}:account.analytic.line:{line.id}",
            "message": message,
            "analytic_line_id": line.id,
            "company_id": line.company_id.id,
            "employee_id": line.employee_id.id,
            "date": line.date,
            "project_id": line.project_id.id,
            "sale_order_id": self._contract_of_line(line).id,
        }

    def _contract_of_line(self, line):
        order = line.so_line.order_id
        if order.psa_backend_id:
            return order
        return line.project_id.sale_line_id.order_id.filtered("psa_backend_id")

    def _detect_hours_per_day(self, backend, lines):
        """Days whose hours exceed the employee's own median day times the backend's factor.

        "Normal" is the median of the employee's daily totals over the weeks before the
        day (``anomaly_history_weeks``), only once there are ``anomaly_min_history_days``
        such days: a newcomer has no normal yet and is not flagged.
        """
        factor = backend.anomaly_hours_factor
        weeks = backend.anomaly_history_weeks
        if factor <= 0 or weeks <= 0:
            return []
        # Each line's employee and day, read in SQL: a month-end detection goes over tens
        # of thousands of lines, whose ORM records would each load every stored field.
        lines.flush_recordset(["employee_id", "date"])
        self.env.cr.execute(
            "SELECT id, employee_id, date FROM account_analytic_line WHERE id = ANY(%s)",
            [lines.ids],
        )
        key_of = {
            line_id: (employee_id, day) for line_id, employee_id, day in self.env.cr.fetchall()
        }
        if not key_of:
            return []
        employee_ids = list({employee_id for employee_id, _day in key_of.values()})
        first = min(day for _employee, day in key_of.values()) - timedelta(weeks=weeks)
        last = max(day for _employee, day in key_of.values())
        self.env.cr.execute(
            """SELECT employee_id, date, SUM(unit_amount) FROM account_analytic_line
                WHERE project_id IS NOT NULL AND employee_id = ANY(%s)
                  AND NOT project_id = ANY(%s) AND date >= %s AND date <= %s
                GROUP BY employee_id, date""",
            (employee_ids, self._internal_project_ids(backend), first, last),
        )
        daily = defaultdict(dict)
        for employee_id, day, hours in self.env.cr.fetchall():
            daily[employee_id][day] = hours
        results, cache = [], {}
        for line_id in lines.ids:
            key = key_of.get(line_id)
            if key is None or not key[0]:
                continue
            if key not in cache:
                # Decided once per employee and day (a day has hundreds of lines at
                # month-end), not once per line: None when the day is not flagged.
                employee_id, line_date = key
                days = daily[employee_id]
                start = line_date - timedelta(weeks=weeks)
                history = [h for day, h in days.items() if start <= day < line_date and h > 0]
                total, verdict = days.get(line_date, 0.0), None
                if len(history) >= backend.anomaly_min_history_days:
                    median = statistics.median(history)
                    threshold = float_round(median * factor, precision_digits=2)
                    if float_compare(total, threshold, precision_digits=2) > 0:
                        verdict = (total, history, median, threshold)
                cache[key] = verdict
            if cache[key] is None:
                continue
            total, history, median, threshold = cache[key]
            line = lines.browse(line_id)
            message = _(
                "%(employee)s logged %(total).2f h on %(date)s (this line: %(hours).2f h). "
                "Their median day over the %(weeks)s weeks before is %(median).2f h "
                "(%(days)s days with time); the threshold is %(factor)s x %(median).2f = "
                "%(threshold).2f h.",
                employee=line.employee_id.name,
                total=total,
                date=line.date,
                hours=line.unit_amount,
                weeks=weeks,
                median=median,
                days=len(history),
                factor=factor,
                threshold=threshold,
            )
            results.append(self._line_flag("hours_per_day", line, message))
        return results

    def _detect_public_holidays(self, backend, lines):
        """Time on a company-wide closing of the employee's working calendar.

        Public holidays are resource.calendar.leaves without a resource, for the
        employee's calendar or for all calendars; the day is read in the calendar's
        time zone (the leaves are stored in UTC).
        """
        pairs = {(line.employee_id.id, line.date) for line in lines}
        self.env["resource.calendar.leaves"].flush_model()
        self.env["hr.employee"].flush_model(["resource_calendar_id", "company_id"])
        self.env.cr.execute(
            """SELECT DISTINCT ON (p.employee_id, p.day) p.employee_id, p.day, l.name
                 FROM unnest(%s::int[], %s::date[]) AS p(employee_id, day)
                 JOIN hr_employee e ON e.id = p.employee_id
                 LEFT JOIN resource_calendar c ON c.id = e.resource_calendar_id
                 JOIN resource_calendar_leaves l
                   ON l.resource_id IS NULL
                  AND (l.calendar_id = e.resource_calendar_id OR l.calendar_id IS NULL)
                  AND (l.company_id = e.company_id OR l.company_id IS NULL)
                  AND (l.date_from AT TIME ZONE 'UTC'
                       AT TIME ZONE COALESCE(c.tz, 'UTC'))::date <= p.day
                  AND (l.date_to AT TIME ZONE 'UTC'
                       AT TIME ZONE COALESCE(c.tz, 'UTC'))::date >= p.day
                ORDER BY p.employee_id, p.day, l.id""",
            ([p[0] for p in pairs], [p[1] for p in pairs]),
        )
        holidays = {(row[0], row[1]): row[2] for row in self.env.cr.fetchall()}
        results = []
        for line in lines:
            name = holidays.get((line.employee_id.id, line.date))
            if name is None:
                continue
            message = _(
                "%(employee)s logged %(hours).2f h on %(date)s, a public holiday of their "
                "working calendar (%(holiday)s).",
                employee=line.employee_id.name,
                hours=line.unit_amount,
                date=line.date,
                holiday=name or _("closed"),
            )
            results.append(self._line_flag("public_holiday", line, message))
        return results

    def _detect_leave(self, backend, lines):
        """Time on the employee's approved leave; ``_approved_leave`` says which days are."""
        leaves = self._approved_leave({(line.employee_id.id, line.date) for line in lines})
        results = []
        for line in lines:
            leave = leaves.get((line.employee_id.id, line.date))
            if leave is None:
                continue
            message = _(
                "%(employee)s logged %(hours).2f h on %(date)s, during their approved "
                "leave (%(leave)s).",
                employee=line.employee_id.name,
                hours=line.unit_amount,
                date=line.date,
                leave=leave,
            )
            results.append(self._line_flag("leave", line, message))
        return results

    @api.model
    def _approved_leave(self, pairs):
        """{(employee id, date): description} of approved leave among ``pairs``.

        Leave is the HR side's (hr_holidays, which billing does not depend on): the glue
        addon psa_connector_billing_hr answers; without it, no day is known as leave.
        """
        return {}

    def _detect_rates(self, backend, lines):
        """Time priced otherwise than the contract's rate card gives its employee.

        The rate card's per-person entries are the project's employee mappings to the
        contract's lines: billable time of a mapped employee must be priced at that line's
        rate, and time must not be priced on a line of another order than the contract.
        """
        results, verdicts = [], {}
        billable = lines.filtered(lambda line: line.psa_billable and line.so_line)
        for line in billable:
            # The verdict depends on the project, employee and sale line only: decided once
            # for each of them, not for every line (hundreds a day at month-end).
            key = (line.project_id.id, line.employee_id.id, line.so_line.id)
            if key not in verdicts:
                verdicts[key] = self._rate_verdict(line)
            if verdicts[key] is None:
                continue
            contract, expected = verdicts[key]
            actual = line.so_line
            if expected:
                message = _(
                    "%(employee)s's time on %(date)s is priced at %(actual).2f/h "
                    "(%(line)s), but the rate card of %(contract)s gives them "
                    "%(expected).2f/h.",
                    employee=line.employee_id.name,
                    date=line.date,
                    actual=actual.price_unit,
                    line=actual.name,
                    contract=contract.name,
                    expected=expected.price_unit,
                )
                results.append(self._line_flag("rate", line, message))
            else:
                message = _(
                    "%(employee)s's time on %(date)s is priced at %(actual).2f/h on "
                    "%(order)s, not on the project's contract %(contract)s.",
                    employee=line.employee_id.name,
                    date=line.date,
                    actual=actual.price_unit,
                    order=actual.order_id.name,
                    contract=contract.name,
                )
                results.append(self._line_flag("rate", line, message))
        return results

    def _rate_verdict(self, line):
        """None when the line's price is right, else (contract, the sale line its rate
        card gives the employee, or an empty one when the line is on another order)."""
        contract = self._contract_of_line(line)
        if not contract:
            return None
        mapping = line.project_id.sale_line_employee_ids.filtered(
            lambda m, line=line, contract=contract: m.employee_id == line.employee_id
            and m.sale_line_id.order_id == contract
        )[:1]
        expected = mapping.sale_line_id
        actual = line.so_line
        if expected:
            rounding = contract.currency_id.rounding or 0.01
            if float_compare(actual.price_unit, expected.price_unit, precision_rounding=rounding):
                return contract, expected
            return None
        if actual.order_id != contract:
            return contract, expected
        return None

    # Billing events ------------------------------------------------------------------

    @api.model
    def _detect_billing_event(self, backend, record, amount, remaining, what):
        """Flag a billing event whose amount exceeds what the contract has left to bill.

        ``remaining`` is measured before the event took effect (the caller's); ``what``
        names the ceiling in the message (contract remaining, retainer per period).
        """
        order = record.sale_order_id
        rounding = order.currency_id.rounding or 0.01
        if remaining is None or float_compare(amount, remaining, precision_rounding=rounding) <= 0:
            return self.browse()
        message = _(
            "Billing event %(event)s (%(kind)s) bills %(amount).2f %(currency)s, more than "
            "%(what)s of %(contract)s: %(remaining).2f %(currency)s (%(excess).2f above).",
            event=record.idempotency_key,
            kind=record.kind,
            amount=amount,
            currency=order.currency_id.name,
            what=what,
            contract=order.name,
            remaining=remaining,
            excess=amount - remaining,
        )
        wanted = {
            f"over_remaining:psa.billing.event.record:{record.id}": {
                "kind": "over_remaining",
                "detection_key": f"over_remaining:psa.billing.event.record:{record.id}",
                "message": message,
                "billing_event_record_id": record.id,
                "project_id": order.psa_project_id.id,
                "sale_order_id": order.id,
                "date": fields.Date.context_today(self),
            }
        }
        existing = self.search([("billing_event_record_id", "=", record.id)])
        return self._sync_flags(backend, existing, wanted)
