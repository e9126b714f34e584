from odoo import api, models


class TimesheetAdapterFeature:
    """What timesheet reconciliation and billed-time reports ask of an adapter (mixed
    into every adapter class, see psa.adapter)."""

    def iter_time_entries(self, date_from, date_to, states):
        """Yield pages of canonical time entries dated in [date_from, date_to] in ``states``."""
        raise NotImplementedError(f"{self.label or self.name} lists no time entries by date")

    def mark_time_entries_billed(self, external_ids, invoice):
        """Tell the remote system these entries are billed, so it can lock them.

        Returns the ids it did not know.
        """
        raise NotImplementedError(f"{self.label or self.name} takes no billed-time report")


class PsaAdapter(models.AbstractModel):
    _inherit = "psa.adapter"

    @api.model
    def _adapter_features(self):
        return [*super()._adapter_features(), TimesheetAdapterFeature]
