from odoo import api, models

from ..adapters.float import FloatAdapter


class PsaAdapterFloat(models.AbstractModel):
    _name = "psa.adapter.float"
    _inherit = "psa.adapter"
    _description = "PSA Connector Adapter: Float"

    @api.model
    def _adapter_class(self):
        return FloatAdapter
