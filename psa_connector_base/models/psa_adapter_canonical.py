from odoo import models

from ..adapters.canonical import CanonicalRestAdapter


class PsaAdapterCanonical(models.AbstractModel):
    _name = "psa.adapter.canonical"
    _inherit = "psa.adapter"
    _description = "PSA Connector Adapter: Canonical REST"
    _psa_adapter_class = CanonicalRestAdapter
