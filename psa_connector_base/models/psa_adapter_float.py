from odoo import models

from ..adapters.float import FloatAdapter


class PsaAdapterFloat(models.AbstractModel):
    _name = "psa.adapter.float"
    _inherit = "psa.adapter"
    _description = "PSA Connector Adapter: Float"
    _psa_adapter_class = FloatAdapter
