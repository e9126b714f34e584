from odoo import api, models
from odoo.tools import SQL

# A line of a non-billable person is not billable, whatever the PSA entry said.
BILLABLE_PERSON = """(%s AND NOT EXISTS (SELECT 1 FROM hr_employee e
                                   WHERE e.id = l.employee_id AND e.psa_billable IS NOT TRUE))"""


class PsaForecastPush(models.Model):
    _inherit = "psa.forecast.push"

    @api.model
    def _billable_line_sql(self):
        """A non-billable person's time is pushed as non-billable: the forecasting tool
        plans billable work on billable people."""
        return SQL(BILLABLE_PERSON, super()._billable_line_sql())
