from odoo import models
from odoo.tools import SQL

# The rate of currency %(currency)s on the work day t.date for company c, as Odoo's
# res.currency._get_rates reads it: the company's (root company's) own rate before a
# shared one, the latest on or before the day, else the first ever, else 1.
RATE_AT_WORK_DATE = """
    COALESCE(
        (SELECT r.rate FROM res_currency_rate r
          WHERE r.currency_id = {currency} AND r.name <= t.date
            AND (r.company_id IS NULL
                 OR r.company_id = split_part(c.parent_path, '/', 1)::int)
          ORDER BY r.company_id, r.name DESC LIMIT 1),
        (SELECT r.rate FROM res_currency_rate r
          WHERE r.currency_id = {currency}
            AND (r.company_id IS NULL
                 OR r.company_id = split_part(c.parent_path, '/', 1)::int)
          ORDER BY r.company_id, r.name ASC LIMIT 1),
        1.0)
"""


class PsaProjectFinancial(models.Model):
    _inherit = "psa.project.financial"

    def _labour_cost_sql(self):
        # Hours x the employee's hourly cost in force on the day of the work: the latest
        # rate effective then; before the first rate, the first. A rate in another
        # currency than the project company's is converted at that company's rate of
        # the work day. Without any rate in the history, Odoo's own timesheet cost.
        return (
            SQL(
                """
                LEFT JOIN LATERAL (
                      SELECT h.hourly_cost, h.currency_id
                        FROM psa_employee_cost_history h
                       WHERE h.employee_id = t.employee_id
                       ORDER BY h.effective_date <= t.date DESC,
                                CASE WHEN h.effective_date <= t.date THEN h.effective_date END DESC,
                                h.effective_date, h.id DESC
                       LIMIT 1
                ) rate ON TRUE
                JOIN res_company c ON c.id = COALESCE(pa.company_id, e.company_id)
                LEFT JOIN LATERAL (
                      SELECT CASE
                             WHEN rate.currency_id IS NULL OR rate.currency_id = c.currency_id
                             THEN 1.0
                             ELSE %s / %s
                             END AS factor
                ) fx ON TRUE
                """,
                SQL(RATE_AT_WORK_DATE.format(currency="c.currency_id")),
                SQL(RATE_AT_WORK_DATE.format(currency="rate.currency_id")),
            ),
            SQL("COALESCE(t.unit_amount * rate.hourly_cost * fx.factor, -t.amount)"),
        )
