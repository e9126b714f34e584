from odoo import api, models

from ..adapters.bamboohr import BambooHrAdapter


class PsaAdapterBamboohr(models.AbstractModel):
    _name = "psa.adapter.bamboohr"
    _inherit = "psa.adapter"
    _description = "PSA Connector Adapter: BambooHR"

    @api.model
    def _adapter_class(self):
        return BambooHrAdapter
