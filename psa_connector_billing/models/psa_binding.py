from odoo import api, models


class PsaBinding(models.Model):
    _inherit = "psa.binding"

    @api.model
    def _psa_bindable_models(self):
        result = super()._psa_bindable_models()
        # A PSA purchase's vendor is bound to the partner it created or matched.
        result["vendor"].add("res.partner")
        return result
