from odoo import models

from ..adapters.harvest import HarvestAdapter


class PsaAdapterHarvest(models.AbstractModel):
    _name = "psa.adapter.harvest"
    _inherit = "psa.adapter"
    _description = "PSA Connector Adapter: Harvest"
    _psa_adapter_class = HarvestAdapter
