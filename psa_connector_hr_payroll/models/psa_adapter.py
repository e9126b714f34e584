from odoo import api, models


class PayrollAdapterFeature:
    """What payroll asks of an adapter (mixed into every adapter class, see psa.adapter)."""

    def push_payroll_batch(self, payload):
        """Send a payroll batch (``schemas/payroll_batch.json``) to a payroll system.

        Keyed by ``payload["reference"]``: sending the same batch twice must replace it on
        the remote side, never pay it twice. An adjustment batch has its own reference and
        carries only differences.
        """
        raise NotImplementedError(f"{self.label or self.name} does not receive payroll batches")


class PsaAdapter(models.AbstractModel):
    _inherit = "psa.adapter"

    @api.model
    def _adapter_features(self):
        return [*super()._adapter_features(), PayrollAdapterFeature]
