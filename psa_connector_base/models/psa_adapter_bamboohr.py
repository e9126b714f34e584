from odoo import models

from ..adapters.bamboohr import BambooHrAdapter


class PsaAdapterBamboohr(models.AbstractModel):
    _name = "psa.adapter.bamboohr"
    _inherit = "psa.adapter"
    _description = "PSA Connector Adapter: BambooHR"
    _psa_adapter_class = BambooHrAdapter
