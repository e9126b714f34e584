from odoo import models

from odoo.addons.psa_connector_base.tools.access import MANAGER, requires_group


class PsaBackend(models.Model):
    _inherit = "psa.backend"

    def _pull_object_types(self):
        types = super()._pull_object_types()
        if self.kind == "forecast":
            types.append("allocation")
        return types

    @requires_group(MANAGER)
    def action_push_actuals_now(self):
        """Re-send the actuals of every active project (what the nightly batch does)."""
        for backend in self.filtered(lambda b: b.kind == "forecast"):
            self.env["psa.forecast.push"]._enqueue_push_all(backend)
        return True

    def _psa_push_all_actuals_job(self):
        """Send the actuals of every active project the forecasting tool knows."""
        self.ensure_one()
        states = self.env["psa.forecast.push"]._states_for_all(self)
        return states._push() if states else "no project to send"
