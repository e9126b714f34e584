from odoo import fields, models


class PsaBackend(models.Model):
    _inherit = "psa.backend"

    # Where approved payroll batches go; nothing is pulled from it.
    kind = fields.Selection(
        selection_add=[("payroll", "Payroll system")], ondelete={"payroll": "cascade"}
    )
