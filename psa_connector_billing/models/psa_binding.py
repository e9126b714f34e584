from odoo import api, models


class PsaBinding(models.Model):
    _inherit = "psa.binding"

    @api.model
    def _psa_bindable_models(self):
        result = super()._psa_bindable_models()
        # A PSA purchase's vendor is bound to the partner it created or matched.
        result["vendor"].add("res.partner")
        # An invoice status pushed to the PSA (keyed there by number): its binding keeps
        # the sequence of the last push sent (psa.backend._push_invoice_status_job).
        result["invoice"].add("account.move")
        return result
