from odoo import api, models


class EngagementAdapterFeature:
    """What the lead-to-cash glue asks of an adapter (mixed into every adapter class)."""

    def create_record(self, object_type, record, idempotency_key):
        """Create one record (canonical schema) on the remote system and return it as
        stored there. Sending the same ``idempotency_key`` again must answer the record
        it created the first time, never create a second one."""
        raise NotImplementedError(f"{self.label or self.name} cannot create {object_type}s")


class PsaAdapter(models.AbstractModel):
    _inherit = "psa.adapter"

    @api.model
    def _adapter_features(self):
        return [*super()._adapter_features(), EngagementAdapterFeature]
