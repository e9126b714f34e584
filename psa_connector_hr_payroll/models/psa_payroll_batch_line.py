from odoo import fields, models

from .psa_payroll_batch import CATEGORIES


class PsaPayrollBatchLine(models.Model):
    """One employee and pay category of a batch: what the payroll system receives."""

    _name = "psa.payroll.batch.line"
    _description = "PSA Connector Payroll Batch Line"
    _order = "batch_id, employee_id, category"

    batch_id = fields.Many2one(
        "psa.payroll.batch", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one(related="batch_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    employee_id = fields.Many2one("hr.employee", required=True, readonly=True)
    payroll_id = fields.Char(
        string="Payroll ID",
        readonly=True,
        help="The employee's payroll ID when the batch was built.",
    )
    category = fields.Selection(CATEGORIES, required=True, readonly=True)
    hours = fields.Float(readonly=True, help="Hours; negative in an adjustment reduces.")
    amount = fields.Monetary(readonly=True, help="Reimbursable expenses, in company currency.")
    late_hours = fields.Float(
        readonly=True, help="Part of the hours approved after an earlier period's cut-off."
    )
