from odoo import api, models

from ..adapters.harvest import HarvestAdapter


class PsaAdapterHarvest(models.AbstractModel):
    _name = "psa.adapter.harvest"
    _inherit = "psa.adapter"
    _description = "PSA Connector Adapter: Harvest"

    @api.model
    def _adapter_class(self):
        return HarvestAdapter
