from odoo import models

from ..adapters.hubspot import HubSpotAdapter


class PsaAdapterHubspot(models.AbstractModel):
    _name = "psa.adapter.hubspot"
    _inherit = "psa.adapter"
    _description = "PSA Connector Adapter: HubSpot CRM"
    _psa_adapter_class = HubSpotAdapter
