from odoo import models


class PsaImporterProject(models.AbstractModel):
    _inherit = "psa.importer.project"

    def _map_values(self, backend, data):
        """The PSA's budget hours are the project's Allocated Time (hr_timesheet), which
        the forecast push reports consumption against; absent leaves it, null clears it."""
        values = super()._map_values(backend, data)
        if "budget_hours" in data:
            values["allocated_hours"] = data["budget_hours"] or 0.0
        return values
