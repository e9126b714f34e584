from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.psa_connector_base.tools.access import requires_group

from .psa_payroll_batch import CATEGORIES, READER_GROUPS

SOURCE_MODELS = [
    ("account.analytic.line", "Timesheet line"),
    ("hr.leave", "Time off"),
    ("hr.expense", "Expense"),
]


class PsaPayrollEntry(models.Model):
    """One source record (timesheet line, time off, expense) as a batch pays it.

    Entries are what makes an export happen once: a record in an active batch is not
    collected again, and corrections compare the record now with its entries.
    """

    _name = "psa.payroll.entry"
    _description = "PSA Connector Payroll Entry"
    _order = "batch_id, employee_id, category, date, id"
    _rec_name = "source_name"

    batch_id = fields.Many2one(
        "psa.payroll.batch", required=True, ondelete="cascade", index=True, readonly=True
    )
    period_id = fields.Many2one(related="batch_id.period_id", store=True, index=True)
    company_id = fields.Many2one(related="batch_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    employee_id = fields.Many2one("hr.employee", required=True, index=True, readonly=True)
    category = fields.Selection(CATEGORIES, required=True, readonly=True)
    date = fields.Date(readonly=True)
    hours = fields.Float(readonly=True)
    amount = fields.Monetary(readonly=True)
    source_model = fields.Selection(SOURCE_MODELS, required=True, readonly=True, index=True)
    source_id = fields.Many2oneReference(
        string="Source record", model_field="source_model", readonly=True, index=True
    )
    source_name = fields.Char(string="Source", readonly=True)
    approved_at = fields.Datetime(readonly=True, help="When the source was approved.")
    late = fields.Boolean(
        readonly=True,
        help="Approved after the cut-off of the period it is dated in: paid in this later "
        "period instead.",
    )
    origin_period_id = fields.Many2one(
        "psa.payroll.period",
        string="Dated in period",
        readonly=True,
        ondelete="set null",
        help="For late entries: the period the work or expense is dated in.",
    )

    def write(self, vals):
        if any(e.batch_id.state in ("approved", "sent") for e in self):
            raise UserError(_("Entries of an approved payroll batch do not change."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_if_not_approved(self):
        if any(e.batch_id.state in ("approved", "sent") for e in self):
            raise UserError(_("Entries of an approved payroll batch do not change."))

    @requires_group(*READER_GROUPS)
    def action_open_source(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.source_model,
            "res_id": self.source_id,
            "view_mode": "form",
        }
