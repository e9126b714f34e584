from odoo import api, models

from ..adapters.canonical import CanonicalRestAdapter


class PsaAdapterCanonical(models.AbstractModel):
    _name = "psa.adapter.canonical"
    _inherit = "psa.adapter"
    _description = "PSA Connector Adapter: Canonical REST"

    @api.model
    def _adapter_class(self):
        return CanonicalRestAdapter
