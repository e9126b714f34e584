from odoo import models

from ..adapters.productive import ProductiveAdapter


class PsaAdapterProductive(models.AbstractModel):
    _name = "psa.adapter.productive"
    _inherit = "psa.adapter"
    _description = "PSA Connector Adapter: Productive.io"
    _psa_adapter_class = ProductiveAdapter
