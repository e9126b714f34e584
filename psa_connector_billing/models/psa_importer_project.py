from odoo import models


class PsaImporterProject(models.AbstractModel):
    _inherit = "psa.importer.project"

    def _map_values(self, backend, data):
        """The project's budget amount lands on the project (budget hours: see
        psa_connector_timesheet); absent leaves it, null clears it."""
        values = super()._map_values(backend, data)
        if "budget_amount" in data:
            values["psa_budget_amount"] = data["budget_amount"] or 0.0
        return values
