from odoo import api, models


class BillingAdapterFeature:
    """What billing asks of an adapter (mixed into every adapter class, see psa.adapter)."""

    def push_project_financials(self, rows):
        """Send project financial summaries (``schemas/project_financial.json``) to the PSA.

        A row replaces the one the remote side holds for the same project, so sending
        the same rows twice must be harmless.
        """
        raise NotImplementedError(f"{self.label or self.name} does not receive project financials")

    def push_invoice_status(self, payload):
        """Tell the remote system an invoice's state (posted, paid, reversed, cancelled).

        ``payload`` carries the invoice number, amounts, currency, due date, payment
        state and the contract id(s); sending the same payload twice must be harmless.
        """
        raise NotImplementedError(f"{self.label or self.name} does not receive invoice status")

    def fetch_invoice_status(self, number):
        """The invoice status the remote system holds for invoice ``number`` (the last
        ``push_invoice_status`` payload it accepted), or None when it has none.

        Money reconciliation compares it with Odoo's payment state.
        """
        raise NotImplementedError(f"{self.label or self.name} exposes no invoice status")


class PsaAdapter(models.AbstractModel):
    _inherit = "psa.adapter"

    @api.model
    def _adapter_features(self):
        return [*super()._adapter_features(), BillingAdapterFeature]
