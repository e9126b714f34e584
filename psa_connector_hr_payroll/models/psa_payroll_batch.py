import base64
import json
from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import float_compare

from odoo.addons.psa_connector_base.tools.access import requires_group, workflow_write

from ..tools import spreadsheet
from .account_analytic_line import PAY_CATEGORIES

CATEGORIES = [*PAY_CATEGORIES, ("expense", "Reimbursable expenses")]
# Who may approve a payroll export: HR officers and accounting managers.
APPROVER_GROUPS = ("hr.group_hr_user", "account.group_account_manager")
# Who may look at a batch's sources (the connector's users read batches too).
READER_GROUPS = (*APPROVER_GROUPS, "psa_connector_base.group_connector_user")
FILE_COLUMNS = [
    "payroll_id",
    "employee",
    "category",
    "hours",
    "amount",
    "currency",
    "late_hours",
]


class PsaPayrollBatch(models.Model):
    """What one export of a payroll period pays, and who approved it.

    A regular batch holds a period's approved hours and expenses; an adjustment batch
    only the differences to what was sent before. A batch waits at the validation
    checkpoint until an HR/finance user approves it; only then is it sent to the
    payroll backend (or written to a file), and from then on it does not change.
    """

    _name = "psa.payroll.batch"
    _description = "PSA Connector Payroll Batch"
    _inherit = ["mail.thread", "psa.workflow.guard.mixin"]
    _order = "id desc"
    # Built by the period's actions, approved and sent by the workflow: none of this is
    # typed in, or an editor could approve their own export or change what is paid.
    _psa_workflow_fields = (
        "name",
        "period_id",
        "kind",
        "adjusts_batch_id",
        "state",
        "entry_ids",
        "line_ids",
        "check_ids",
        "approved_by_id",
        "approved_date",
        "sent_date",
        "payload",
        "attachment_id",
    )

    name = fields.Char(string="Reference", readonly=True, copy=False, default="/")
    period_id = fields.Many2one(
        "psa.payroll.period", required=True, ondelete="restrict", index=True, readonly=True
    )
    company_id = fields.Many2one(related="period_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    kind = fields.Selection(
        [("regular", "Regular"), ("adjustment", "Adjustment")],
        required=True,
        default="regular",
        readonly=True,
        help="An adjustment batch carries only the differences to what the period sent "
        "before; negative figures reduce.",
    )
    adjusts_batch_id = fields.Many2one(
        "psa.payroll.batch", string="Adjusts", readonly=True, ondelete="restrict"
    )
    state = fields.Selection(
        [
            ("to_approve", "To approve"),
            ("approved", "Approved, not sent"),
            ("sent", "Sent"),
            ("cancelled", "Cancelled"),
        ],
        default="to_approve",
        required=True,
        readonly=True,
        tracking=True,
        index=True,
    )
    entry_ids = fields.One2many("psa.payroll.entry", "batch_id", string="Entries", readonly=True)
    line_ids = fields.One2many("psa.payroll.batch.line", "batch_id", string="Lines", readonly=True)
    check_ids = fields.One2many("psa.payroll.check", "batch_id", string="Validation", readonly=True)
    open_check_count = fields.Integer(compute="_compute_totals", string="Open checks")
    total_hours = fields.Float(compute="_compute_totals")
    total_amount = fields.Monetary(compute="_compute_totals", string="Total expenses")
    late_entry_count = fields.Integer(compute="_compute_totals", string="Late entries")
    approved_by_id = fields.Many2one("res.users", string="Approved by", readonly=True)
    approved_date = fields.Datetime(string="Approved on", readonly=True)
    sent_date = fields.Datetime(string="Sent on", readonly=True)
    payload = fields.Text(
        readonly=True, help="The batch as approved, in the canonical payroll_batch schema."
    )
    attachment_id = fields.Many2one("ir.attachment", string="File", readonly=True)

    @api.depends("line_ids.hours", "line_ids.amount", "check_ids.state", "entry_ids.late")
    def _compute_totals(self):
        for batch in self:
            batch.total_hours = sum(batch.line_ids.mapped("hours"))
            batch.total_amount = sum(batch.line_ids.mapped("amount"))
            batch.open_check_count = len(batch.check_ids.filtered(lambda c: c.state == "open"))
            batch.late_entry_count = len(batch.entry_ids.filtered("late"))

    @api.model_create_multi
    def create(self, vals_list):
        batches = super().create(vals_list)
        for batch in batches:
            number = self.search_count([("period_id", "=", batch.period_id.id)])
            with workflow_write():
                batch.name = f"PAY/{batch.period_id.name}/{number}"
        return batches

    def write(self, vals):
        if any(b.state == "sent" for b in self) and set(vals) - {"message_main_attachment_id"}:
            raise UserError(_("A sent payroll batch does not change; compute corrections."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_never_approved(self):
        if any(b.state in ("approved", "sent") for b in self):
            raise UserError(_("An approved or sent payroll batch cannot be deleted."))

    # Content ---------------------------------------------------------------------------

    def _fill(self, entry_values):
        """Replace the batch's entries, lines and checks (only while it awaits approval)."""
        self.ensure_one()
        if self.state != "to_approve":
            raise UserError(_("Batch %s is approved; its content is final.", self.name))
        accepted = {
            c._key(): (c.accepted_by_id.id, c.accepted_date)
            for c in self.check_ids
            if c.state == "accepted"
        }
        self.entry_ids.sudo().unlink()
        self.line_ids.sudo().unlink()
        self.check_ids.sudo().unlink()
        entries = (
            self.env["psa.payroll.entry"]
            .sudo()
            .create([{**values, "batch_id": self.id} for values in entry_values])
        )
        totals = defaultdict(lambda: [0.0, 0.0, 0.0])
        for entry in entries:
            key = (entry.employee_id.id, entry.category)
            totals[key][0] += entry.hours
            totals[key][1] += entry.amount
            totals[key][2] += entry.hours if entry.late else 0.0
        self.env["psa.payroll.batch.line"].sudo().create(
            [
                {
                    "batch_id": self.id,
                    "employee_id": employee_id,
                    "payroll_id": self.env["hr.employee"].sudo().browse(employee_id).psa_payroll_id,
                    "category": category,
                    "hours": hours,
                    "amount": amount,
                    "late_hours": late,
                }
                for (employee_id, category), (hours, amount, late) in sorted(totals.items())
            ]
        )
        checks = self.env["psa.payroll.check"].sudo().create(self._check_values())
        for check in checks:
            if check._key() in accepted:
                user_id, date = accepted[check._key()]
                check.write({"state": "accepted", "accepted_by_id": user_id, "accepted_date": date})
        return True

    def _check_values(self):
        """The validation checkpoint: what an HR/finance user must look at first."""
        self.ensure_one()
        period = self.period_id
        values = []
        employees = self.line_ids.employee_id.sudo()
        for employee in employees.filtered(lambda e: not e.psa_payroll_id):
            values.append(
                {
                    "batch_id": self.id,
                    "kind": "no_payroll_id",
                    "employee_id": employee.id,
                    "name": _("%s has no payroll ID.", employee.name),
                }
            )
        hours = defaultdict(float)
        for line in self.line_ids.filtered(lambda line: line.category != "expense"):
            hours[line.employee_id] += line.hours
        for employee, total in hours.items():
            if float_compare(total, period.hour_ceiling, precision_digits=2) > 0:
                values.append(
                    {
                        "batch_id": self.id,
                        "kind": "above_ceiling",
                        "employee_id": employee.id,
                        "name": _(
                            "%(employee)s has %(hours)s hours, above the ceiling of %(max)s.",
                            employee=employee.name,
                            hours=round(total, 2),
                            max=period.hour_ceiling,
                        ),
                    }
                )
        changed = self._changed_after_cutoff()
        for entry in self.entry_ids.filtered(lambda e: (e.source_model, e.source_id) in changed):
            values.append(
                {
                    "batch_id": self.id,
                    "kind": "changed_after_cutoff",
                    "employee_id": entry.employee_id.id,
                    "source_model": entry.source_model,
                    "source_id": entry.source_id,
                    "name": _(
                        "%(what)s was changed after the cut-off (%(cutoff)s).",
                        what=entry.source_name,
                        cutoff=period.cutoff,
                    ),
                }
            )
        expenses = self.entry_ids.filtered(lambda e: e.source_model == "hr.expense")
        records = self.env["hr.expense"].sudo().browse(expenses.mapped("source_id")).exists()
        has_ref = "psa_receipt_ref" in records._fields
        for expense in records:
            if expense.nb_attachment or (has_ref and expense.psa_receipt_ref):
                continue
            values.append(
                {
                    "batch_id": self.id,
                    "kind": "no_receipt",
                    "employee_id": expense.employee_id.id,
                    "source_model": expense._name,
                    "source_id": expense.id,
                    "name": _(
                        "Expense %(name)s of %(employee)s has no receipt.",
                        name=expense.name,
                        employee=expense.employee_id.name,
                    ),
                }
            )
        return values

    def _changed_after_cutoff(self):
        """(model, id) of the batch's sources the sync changed after the cut-off."""
        cutoff = self.period_id.cutoff
        result = set()
        by_model = defaultdict(list)
        for entry in self.entry_ids:
            by_model[entry.source_model].append(entry.source_id)
        for model, ids in by_model.items():
            logs = (
                self.env["psa.audit.log"]
                .sudo()
                .search(
                    [
                        ("direction", "=", "in"),
                        ("operation", "=", "update"),
                        ("outcome", "=", "success"),
                        ("res_model", "=", model),
                        ("res_id", "in", ids),
                        ("create_date", ">", cutoff),
                    ]
                )
            )
            result |= {(model, log.res_id) for log in logs}
        return result

    @requires_group("hr.group_hr_user")
    def action_refresh(self):
        """Rebuild a batch waiting for approval, after fixing what the checks listed."""
        for batch in self:
            if batch.kind == "regular":
                batch.period_id.action_compute_batch()
            else:
                batch._fill(batch.period_id._collect_differences())
        return True

    @requires_group(*APPROVER_GROUPS)
    def action_cancel(self):
        for batch in self:
            if batch.state != "to_approve":
                raise UserError(_("Only a batch waiting for approval can be cancelled."))
        with workflow_write():
            self.write({"state": "cancelled"})
        return True

    # Approval --------------------------------------------------------------------------

    def _payload_editors(self):
        """{user: source names} of Connector Managers whose edited payloads fed the batch."""
        self.ensure_one()
        Exception_ = self.env["psa.exception"].sudo()
        result = defaultdict(list)
        by_model = defaultdict(list)
        for entry in self.entry_ids:
            by_model[entry.source_model].append(entry)
        for model, entries in by_model.items():
            records = self.env[model].sudo().browse([e.source_id for e in entries])
            editors = Exception_._payload_editors_of(records)
            for entry in entries:
                for user in editors.get(entry.source_id, []):
                    result[user].append(entry.source_name)
        return result

    @requires_group(*APPROVER_GROUPS)
    def action_approve(self):
        """Approve after the checkpoint, then send; the approver is recorded.

        Segregation of duties: whoever edited a payload whose replay produced a record of
        the batch cannot approve it.
        """
        user = self.env.user
        for batch in self:
            if batch.state != "to_approve":
                raise UserError(_("Batch %s is not waiting for approval.", batch.name))
            if batch.open_check_count:
                raise UserError(
                    _(
                        "Batch %(name)s has %(count)s open validation checks: fix them and "
                        "refresh, or accept them, before approving.",
                        name=batch.name,
                        count=batch.open_check_count,
                    )
                )
            edited = batch._payload_editors().get(user)
            if edited:
                raise AccessError(
                    _(
                        "You edited the payload that produced %(records)s: another person "
                        "must approve batch %(name)s (segregation of duties).",
                        records=", ".join(edited[:5]),
                        name=batch.name,
                    )
                )
            with workflow_write():
                batch.write(
                    {
                        "state": "approved",
                        "approved_by_id": user.id,
                        "approved_date": fields.Datetime.now(),
                    }
                )
                batch.payload = json.dumps(batch._payload(), indent=2, ensure_ascii=False)
        self._send()
        return True

    # Sending ---------------------------------------------------------------------------

    def _payload(self):
        self.ensure_one()
        period = self.period_id
        return {
            "reference": self.name,
            "kind": self.kind,
            "adjusts": self.adjusts_batch_id.name or None,
            "company": self.company_id.name,
            "currency": self.currency_id.name,
            "period": {
                "name": period.name,
                "date_start": str(period.date_start),
                "date_end": str(period.date_end),
                "cutoff": fields.Datetime.to_string(period.cutoff) + "Z",
            },
            "approved_by": self.approved_by_id.name,
            "approved_at": fields.Datetime.to_string(self.approved_date) + "Z",
            "lines": [
                {
                    "employee_id": line.payroll_id or "",
                    "employee_name": line.employee_id.name,
                    "category": line.category,
                    "hours": round(line.hours, 2),
                    "amount": round(line.amount, 2),
                    "late_hours": round(line.late_hours, 2),
                }
                for line in self.line_ids
            ],
        }

    def _send(self):
        """Send approved batches to the payroll backend, or write their file."""
        for batch in self.filtered(lambda b: b.state == "approved"):
            payload = json.loads(batch.payload)
            # Approvers need no connector rights to send through the configured backend.
            backend = batch.period_id.sudo().backend_id
            if backend:
                _result, failure = backend._run_remote(
                    _("send of payroll batch %s", batch.name),
                    lambda adapter, payload=payload: adapter.push_payroll_batch(payload),
                    object_type="payroll_batch",
                    external_id=batch.name,
                    audit={
                        "operation": "push",
                        "record": batch,
                        "message": _("%s lines sent", len(payload["lines"])),
                    },
                    message=lambda error, name=batch.name: _(
                        "Payroll batch %(name)s could not be sent: %(error)s",
                        name=name,
                        error=error.message,
                    ),
                )
                if failure:
                    # Stays approved: the daily export sends it again (same reference).
                    continue
            else:
                batch._write_file(payload)
            batch.sudo().write({"state": "sent", "sent_date": fields.Datetime.now()})
            if batch.kind == "regular":
                batch.period_id.sudo().state = "sent"
        return True

    def _file_rows(self, payload):
        return [
            [
                line["employee_id"],
                line["employee_name"],
                line["category"],
                line["hours"],
                line["amount"],
                payload["currency"],
                line["late_hours"],
            ]
            for line in payload["lines"]
        ]

    def _write_file(self, payload):
        """The batch as a CSV or XLSX file attached to it.

        Names and payroll IDs come from the HR system: ``tools/spreadsheet`` writes them
        so that no cell becomes a formula (``=HYPERLINK(...)`` stays text), while hours
        and amounts stay numbers (a negative adjustment is -12.5, not text).
        """
        self.ensure_one()
        rows = self._file_rows(payload)
        stem = self.name.replace("/", "_")
        if self.period_id.export_format == "xlsx":
            content = spreadsheet.xlsx_bytes(FILE_COLUMNS, rows, sheet_name=stem)
            filename = f"{stem}.xlsx"
            mimetype = spreadsheet.XLSX_MIMETYPE
        else:
            content = spreadsheet.csv_bytes(FILE_COLUMNS, rows)
            filename = f"{stem}.csv"
            mimetype = "text/csv"
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": filename,
                    "datas": base64.b64encode(content),
                    "mimetype": mimetype,
                    "res_model": self._name,
                    "res_id": self.id,
                }
            )
        )
        self.sudo().attachment_id = attachment
        return attachment

    @requires_group(*READER_GROUPS)
    def action_download(self):
        self.ensure_one()
        if not self.attachment_id:
            raise UserError(_("Batch %s has no file: it went to the payroll backend.", self.name))
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self.attachment_id.id}?download=true",
            "target": "self",
        }
