import logging
from collections import defaultdict
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_is_zero

from odoo.addons.psa_connector_base.tools.access import requires_group, workflow_write

from .psa_payroll_batch import READER_GROUPS

_logger = logging.getLogger(__name__)

# Fields of a period that may still change once it is sent (none of its content).
UNLOCKED_FIELDS = {"state", "message_main_attachment_id"}


class PsaPayrollPeriod(models.Model):
    """A payroll period of one company: its dates, its cut-off and what was sent for it.

    The regular batch of a period takes the approved hours and reimbursable expenses
    dated up to the period's end and approved by its cut-off; what is approved later
    goes to the next period, marked as late. A sent period is locked: a correction of
    its content becomes an adjustment batch with the difference only.
    """

    _name = "psa.payroll.period"
    _description = "PSA Connector Payroll Period"
    _inherit = ["mail.thread", "psa.workflow.guard.mixin"]
    _order = "company_id, date_start desc"
    # Set by sending the regular batch; a period set back to open would unlock its content.
    _psa_workflow_fields = ("state",)

    name = fields.Char(
        compute="_compute_name",
        store=True,
        readonly=False,
        help="Defaults to the month (2026-11) or the date range.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date_start = fields.Date(required=True, tracking=True, help="First day of the period.")
    date_end = fields.Date(required=True, tracking=True, help="Last day of the period.")
    cutoff = fields.Datetime(
        string="Cut-off",
        required=True,
        tracking=True,
        help="Approvals up to this moment count for this period; hours and expenses "
        "approved later move to the next period and are marked as late. The scheduled "
        "export builds the batch once the cut-off has passed.",
    )
    hour_ceiling = fields.Float(
        string="Hour ceiling",
        default=200.0,
        tracking=True,
        help="Employees with more hours than this in one batch are listed at the "
        "validation checkpoint.",
    )
    backend_id = fields.Many2one(
        "psa.backend",
        string="Payroll backend",
        domain="[('kind', '=', 'payroll'), ('company_id', '=', company_id)]",
        tracking=True,
        groups="psa_connector_base.group_connector_user",
        help="The payroll system approved batches are sent to. Without one, approving a "
        "batch produces a file to download and hand to payroll.",
    )
    has_backend = fields.Boolean(
        compute="_compute_has_backend", help="Whether batches go to a payroll backend."
    )
    export_format = fields.Selection(
        [("csv", "CSV"), ("xlsx", "Excel (XLSX)")],
        default="csv",
        required=True,
        help="File format of the download when there is no payroll backend.",
    )
    state = fields.Selection(
        [("open", "Open"), ("sent", "Sent (locked)")],
        default="open",
        required=True,
        readonly=True,
        tracking=True,
        help="A sent period is locked: its dates and regular batch no longer change.",
    )
    batch_ids = fields.One2many("psa.payroll.batch", "period_id", string="Batches")
    entry_ids = fields.One2many("psa.payroll.entry", "period_id", string="Entries")
    batch_count = fields.Integer(compute="_compute_batch_count")

    @api.depends("date_start", "date_end")
    def _compute_name(self):
        for period in self:
            if not (period.date_start and period.date_end):
                period.name = period.name or False
                continue
            start, end = period.date_start, period.date_end
            if start.day == 1 and end == start + relativedelta(day=31):
                period.name = start.strftime("%Y-%m")
            else:
                period.name = f"{start} - {end}"

    def _compute_has_backend(self):
        for period in self:
            period.has_backend = bool(period.sudo().backend_id)

    def _compute_batch_count(self):
        for period in self:
            period.batch_count = len(period.batch_ids)

    @api.constrains("date_start", "date_end", "cutoff", "company_id")
    def _check_dates(self):
        for period in self:
            if period.date_end < period.date_start:
                raise ValidationError(_("A payroll period cannot end before it starts."))
            if period.cutoff.date() < period.date_end:
                raise ValidationError(_("The cut-off cannot be before the period's last day."))
            overlap = self.search_count(
                [
                    ("id", "!=", period.id),
                    ("company_id", "=", period.company_id.id),
                    ("date_start", "<=", period.date_end),
                    ("date_end", ">=", period.date_start),
                ]
            )
            if overlap:
                raise ValidationError(
                    _("Payroll period %s overlaps another period of the company.", period.name)
                )

    def write(self, vals):
        if set(vals) - UNLOCKED_FIELDS and any(p.state == "sent" for p in self):
            raise UserError(
                _("A sent payroll period is locked; correct it with an adjustment batch.")
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_if_never_sent(self):
        if any(p.state == "sent" or p.batch_ids.filtered("sent_date") for p in self):
            raise UserError(_("A payroll period that was sent cannot be deleted."))

    # Sources ---------------------------------------------------------------------------

    def _first_start(self):
        first = self.search([("company_id", "=", self.company_id.id)], order="date_start", limit=1)
        return first.date_start

    def _origin_period(self, on_date):
        return self.search(
            [
                ("company_id", "=", self.company_id.id),
                ("date_start", "<=", on_date),
                ("date_end", ">=", on_date),
            ],
            limit=1,
        )

    def _taken(self, model, exclude_batch=None):
        """Ids of ``model`` records already in an active batch of this company."""
        domain = [
            ("company_id", "=", self.company_id.id),
            ("source_model", "=", model),
            ("batch_id.state", "!=", "cancelled"),
        ]
        if exclude_batch:
            domain.append(("batch_id", "!=", exclude_batch.id))
        return set(self.env["psa.payroll.entry"].sudo().search(domain).mapped("source_id"))

    def _timesheet_lines(self, domain):
        """Timesheet lines of approved PSA time entries (bound to a time entry)."""
        bound = (
            self.env["psa.binding"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company_id.id),
                    ("external_type", "=", "time_entry"),
                    ("res_model", "=", "account.analytic.line"),
                ]
            )
        )
        return (
            self.env["account.analytic.line"]
            .sudo()
            .search([*domain, ("id", "in", bound.mapped("res_id")), ("project_id", "!=", False)])
        )

    @api.model
    def _timesheet_entry(self, line):
        return {
            "source_model": line._name,
            "source_id": line.id,
            "source_name": f"{line.date} {line.project_id.name}: {line.name}",
            "employee_id": line.employee_id.id,
            "category": line.psa_pay_category or "normal",
            "date": line.date,
            "hours": line.unit_amount,
            "amount": 0.0,
            "approved_at": line.psa_approved_date or line.create_date,
        }

    @api.model
    def _leave_entry(self, leave):
        return {
            "source_model": leave._name,
            "source_id": leave.id,
            "source_name": f"{leave.date_from.date()} {leave.holiday_status_id.name}",
            "employee_id": leave.employee_id.id,
            "category": "leave",
            "date": leave.date_from.date(),
            "hours": leave.number_of_hours,
            "amount": 0.0,
            "approved_at": leave.create_date,
        }

    @api.model
    def _expense_entry(self, expense):
        return {
            "source_model": expense._name,
            "source_id": expense.id,
            "source_name": f"{expense.date} {expense.name}",
            "employee_id": expense.employee_id.id,
            "category": "expense",
            "date": expense.date,
            "hours": 0.0,
            "amount": expense.total_amount,
            "approved_at": expense.approved_on or expense.create_date,
        }

    def _collect_entries(self, exclude_batch=None):
        """Entry values of what the regular batch of this period pays.

        Approved hours, validated leave and approved reimbursable expenses of the
        company's employees dated up to the period's end, approved by its cut-off and not
        in another batch yet. Those dated before the period were approved too late for
        their own period and are marked as late.
        """
        self.ensure_one()
        first_start = self._first_start()
        company = self.company_id
        entries = []
        taken = self._taken("account.analytic.line", exclude_batch)
        lines = self._timesheet_lines(
            [
                ("employee_id.company_id", "=", company.id),
                ("date", ">=", first_start),
                ("date", "<=", self.date_end),
            ]
        )
        entries += [self._timesheet_entry(line) for line in lines if line.id not in taken]
        taken = self._taken("hr.leave", exclude_batch)
        leaves = (
            self.env["hr.leave"]
            .sudo()
            .search(
                [
                    ("employee_id.company_id", "=", company.id),
                    ("state", "=", "validate"),
                    ("date_from", ">=", fields.Datetime.to_datetime(first_start)),
                    ("date_from", "<", fields.Datetime.to_datetime(self.date_end + timedelta(1))),
                ]
            )
        )
        entries += [self._leave_entry(leave) for leave in leaves if leave.id not in taken]
        taken = self._taken("hr.expense", exclude_batch)
        expenses = (
            self.env["hr.expense"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("payment_mode", "=", "own_account"),
                    ("state", "in", ("approved", "done")),
                    ("date", ">=", first_start),
                    ("date", "<=", self.date_end),
                ]
            )
        )
        entries += [self._expense_entry(e) for e in expenses if e.id not in taken]
        result = []
        for values in entries:
            if values["approved_at"] and values["approved_at"] > self.cutoff:
                continue  # approved after the cut-off: the next period pays it
            if values["date"] < self.date_start:
                values["late"] = True
                values["origin_period_id"] = self._origin_period(values["date"]).id
            result.append(values)
        return result

    def _current_values(self, model, ids):
        """{(source id, employee id, category): (hours, amount)} as the sources are now."""
        records = self.env[model].sudo().browse(ids).exists()
        builder = {
            "account.analytic.line": self._timesheet_entry,
            "hr.leave": self._leave_entry,
            "hr.expense": self._expense_entry,
        }[model]
        if model == "account.analytic.line":
            records = records & self._timesheet_lines([("id", "in", records.ids)])
        elif model == "hr.leave":
            records = records.filtered(lambda r: r.state == "validate")
        elif model == "hr.expense":
            records = records.filtered(
                lambda r: r.state in ("approved", "done") and r.payment_mode == "own_account"
            )
        result = {}
        for record in records:
            values = builder(record)
            result[(record.id, values["employee_id"], values["category"])] = values
        return result

    def _collect_differences(self):
        """Entry values of the differences between the sources now and what was sent."""
        self.ensure_one()
        sent = defaultdict(lambda: [0.0, 0.0])
        details = {}
        for entry in self.entry_ids.filtered(lambda e: e.batch_id.state in ("approved", "sent")):
            key = (entry.source_model, entry.source_id, entry.employee_id.id, entry.category)
            sent[key][0] += entry.hours
            sent[key][1] += entry.amount
            details[key] = entry
        by_model = defaultdict(set)
        for model, source_id, _employee, _category in sent:
            by_model[model].add(source_id)
        current = {}
        for model, ids in by_model.items():
            for (source_id, employee, category), values in self._current_values(
                model, list(ids)
            ).items():
                current[(model, source_id, employee, category)] = values
        result = []
        for key in sorted(set(sent) | set(current), key=str):
            now = current.get(key)
            hours = (now["hours"] if now else 0.0) - sent[key][0]
            amount = (now["amount"] if now else 0.0) - sent[key][1]
            if float_is_zero(hours, precision_digits=4) and float_is_zero(
                amount, precision_digits=2
            ):
                continue
            entry = details.get(key)
            result.append(
                {
                    "source_model": key[0],
                    "source_id": key[1],
                    "source_name": now["source_name"] if now else entry.source_name,
                    "employee_id": key[2],
                    "category": key[3],
                    "date": now["date"] if now else entry.date,
                    "hours": hours,
                    "amount": amount,
                    "approved_at": now["approved_at"] if now else False,
                }
            )
        return result

    # Actions ---------------------------------------------------------------------------

    def _regular_batch(self):
        return self.batch_ids.filtered(lambda b: b.kind == "regular" and b.state != "cancelled")

    @requires_group("hr.group_hr_user")
    def action_compute_batch(self):
        """Build (or rebuild, while it waits for approval) the period's regular batch."""
        Batch = self.env["psa.payroll.batch"]
        batches = Batch
        for period in self:
            if period.state == "sent":
                raise UserError(
                    _(
                        "Payroll period %s is sent and locked; use Compute corrections.",
                        period.name,
                    )
                )
            if period.cutoff > fields.Datetime.now():
                raise UserError(
                    _(
                        "Payroll period %(name)s is exported after its cut-off (%(cutoff)s): "
                        "approvals may still come in until then.",
                        name=period.name,
                        cutoff=period.cutoff,
                    )
                )
            batch = period._regular_batch()
            if batch and batch.state != "to_approve":
                raise UserError(_("The regular batch of %s is approved already.", period.name))
            with workflow_write():
                if not batch:
                    batch = Batch.create({"period_id": period.id, "kind": "regular"})
                batch._fill(period._collect_entries(exclude_batch=batch))
            batches |= batch
        return batches

    @requires_group("hr.group_hr_user")
    def action_compute_adjustment(self):
        """An adjustment batch with only what changed since the period was sent."""
        Batch = self.env["psa.payroll.batch"]
        batches = Batch
        for period in self:
            if period.state != "sent":
                raise UserError(
                    _("Payroll period %s is not sent yet: recompute its batch.", period.name)
                )
            pending = period.batch_ids.filtered(
                lambda b: b.kind == "adjustment" and b.state == "to_approve"
            )
            if pending:
                raise UserError(
                    _("An adjustment batch of %s is waiting for approval already.", period.name)
                )
            differences = period._collect_differences()
            if not differences:
                raise UserError(_("Nothing changed since %s was sent.", period.name))
            with workflow_write():
                batch = Batch.create(
                    {
                        "period_id": period.id,
                        "kind": "adjustment",
                        "adjusts_batch_id": period._regular_batch().id,
                    }
                )
                batch._fill(differences)
            batches |= batch
        return batches

    @requires_group(*READER_GROUPS)
    def action_view_batches(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_connector_hr_payroll.action_psa_payroll_batch"
        )
        action["domain"] = [("period_id", "=", self.id)]
        action["context"] = {"default_period_id": self.id}
        return action

    # Schedule --------------------------------------------------------------------------

    def _next_period_values(self):
        """The period after this one, of the same length and cut-off delay."""
        self.ensure_one()
        start = self.date_end + timedelta(days=1)
        if self.date_start.day == 1 and self.date_end == self.date_start + relativedelta(day=31):
            end = start + relativedelta(day=31)
        else:
            end = start + (self.date_end - self.date_start)
        return {
            "company_id": self.company_id.id,
            "date_start": start,
            "date_end": end,
            "cutoff": self.cutoff + (end - self.date_end),
            "hour_ceiling": self.hour_ceiling,
            "backend_id": self.backend_id.id,
            "export_format": self.export_format,
        }

    def _run_guarded(self, action):
        """Run ``action`` for the daily export; one period's problem does not stop others."""
        try:
            with self.env.cr.savepoint():
                action()
        except UserError as error:
            _logger.warning("Payroll export of period %s: %s", self.display_name, error)
            self.message_post(body=_("Scheduled export: %s", error))

    @api.model
    def _cron_payroll_export(self):
        """Build the batches that are due; send the approved ones that are not yet sent.

        Nothing is sent without approval: batches wait at the validation checkpoint.
        """
        now = fields.Datetime.now()
        periods = self.sudo().search([])
        for period in periods.filtered(lambda p: p.state == "open" and p.cutoff <= now):
            if not period._regular_batch():
                period._run_guarded(period.action_compute_batch)
        for period in periods.filtered(lambda p: p.state == "sent"):
            pending = period.batch_ids.filtered(
                lambda b: b.kind == "adjustment" and b.state == "to_approve"
            )
            if not pending and period._collect_differences():
                period._run_guarded(period.action_compute_adjustment)
        # Every company keeps a period open after the last one that ended.
        for company in periods.company_id:
            last = periods.filtered(lambda p, c=company: p.company_id == c).sorted("date_end")[-1]
            if last.date_end < now.date():
                self.sudo().create(last._next_period_values())
        self.env["psa.payroll.batch"].sudo().search(
            [("state", "=", "approved"), ("period_id.backend_id", "!=", False)]
        )._send()
