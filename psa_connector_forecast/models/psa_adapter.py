from odoo import api, models


class ActualsAdapterFeature:
    """What the actuals push asks of an adapter (mixed into every adapter class, see
    psa.adapter)."""

    def push_actuals(self, rows):
        """Send actuals rows (``schemas/actuals.json``) to a forecasting tool."""
        raise NotImplementedError(f"{self.label or self.name} does not receive actuals")


class PsaAdapter(models.AbstractModel):
    _inherit = "psa.adapter"

    @api.model
    def _adapter_features(self):
        return [*super()._adapter_features(), ActualsAdapterFeature]
