from odoo import fields, models


class HrExpense(models.Model):
    _inherit = "hr.expense"

    psa_receipt_ref = fields.Char(
        string="PSA receipt",
        copy=False,
        index=True,
        help="The receipt reference in the PSA, kept so the client's invoice can be "
        "traced back to the receipt.",
    )
