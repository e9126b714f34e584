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
    psa_tax_code = fields.Char(
        string="PSA tax code",
        copy=False,
        help="The tax code the PSA sent with the expense: the line re-invoicing it to the "
        "client gets the taxes the backend's tax mapping gives it (else the contract's).",
    )
