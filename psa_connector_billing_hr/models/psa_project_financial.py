from odoo import models
from odoo.tools import SQL


class PsaProjectFinancial(models.Model):
    _inherit = "psa.project.financial"

    def _labour_cost_sql(self):
        # Hours x the employee's hourly cost in force on the day of the work: the latest
        # rate effective then; before the first rate, the first. Without any rate in the
        # history, Odoo's own timesheet cost.
        return (
            SQL(
                """
                LEFT JOIN LATERAL (
                      SELECT h.hourly_cost
                        FROM psa_employee_cost_history h
                       WHERE h.employee_id = t.employee_id
                       ORDER BY h.effective_date <= t.date DESC,
                                CASE WHEN h.effective_date <= t.date THEN h.effective_date END DESC,
                                h.effective_date, h.id DESC
                       LIMIT 1
                ) rate ON TRUE
                """
            ),
            SQL("COALESCE(t.unit_amount * rate.hourly_cost, -t.amount)"),
        )
