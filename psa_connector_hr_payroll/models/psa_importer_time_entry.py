from odoo import models

from odoo.addons.psa_connector_base.tools.versions import to_odoo_datetime


class PsaImporterTimeEntry(models.AbstractModel):
    _inherit = "psa.importer.time_entry"

    def _line_values(self, data, employee, project, task):
        # Both the one-by-one and the batch path build lines here.
        values = super()._line_values(data, employee, project, task)
        values["psa_pay_category"] = data.get("pay_category") or "normal"
        if data.get("approved_at"):
            values["psa_approved_date"] = to_odoo_datetime(data["approved_at"])
        return values
