from odoo import api, models

from ..adapters.productive import ProductiveAdapter


class PsaAdapterProductive(models.AbstractModel):
    _name = "psa.adapter.productive"
    _inherit = "psa.adapter"
    _description = "PSA Connector Adapter: Productive.io"

    @api.model
    def _adapter_class(self):
        return ProductiveAdapter
