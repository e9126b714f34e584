from odoo import api, models
from odoo.tools import SQL

from .psa_forecast_push import BILLABLE_PERSON


class PsaUtilisationReport(models.Model):
    _inherit = "psa.utilisation.report"

    @api.model
    def _billable_line_sql(self):
        """Billable hours are a billable person's billable time, over billable capacity."""
        return SQL(BILLABLE_PERSON, super()._billable_line_sql())
