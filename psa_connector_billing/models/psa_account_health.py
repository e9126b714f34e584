from odoo import fields, models, tools
from odoo.tools import SQL

# Per customer (commercial entity) and company, as of today (UTC), in the company
# currency: every posted customer invoice and credit note of the customer, with or
# without a PSA project. Same formulas as psa_project_financial's cash columns.
HEALTH_QUERY = """
WITH invoice AS (
    SELECT m.id, m.commercial_partner_id AS partner_id, m.company_id, m.move_type,
           m.invoice_date, m.amount_total_signed, m.amount_residual_signed,
           t.today,
           t.today - COALESCE(m.invoice_date_due, m.invoice_date) AS days,
           COALESCE(rc.psa_dso_days, 90) AS window_days
      FROM account_move m
      JOIN res_company rc ON rc.id = m.company_id
     CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE 'UTC')::date AS today) t
     WHERE m.state = 'posted'
       AND m.move_type IN ('out_invoice', 'out_refund')
       AND m.commercial_partner_id IS NOT NULL
),
cash AS (
    SELECT i.partner_id, i.company_id,
           SUM(CASE WHEN i.move_type = 'out_refund' THEN -apr.amount ELSE apr.amount END)
               AS cash_collected
      FROM invoice i
      JOIN account_move_line rl ON rl.move_id = i.id AND rl.display_type = 'payment_term'
      JOIN account_partial_reconcile apr
        ON apr.debit_move_id = rl.id OR apr.credit_move_id = rl.id
      JOIN account_move_line cl
        ON cl.id = CASE WHEN apr.debit_move_id = rl.id THEN apr.credit_move_id
                        ELSE apr.debit_move_id END
      JOIN account_move cm ON cm.id = cl.move_id
     WHERE (cm.origin_payment_id IS NOT NULL OR cm.statement_line_id IS NOT NULL)
       AND apr.max_date > i.today - i.window_days
     GROUP BY i.partner_id, i.company_id
),
totals AS (
    SELECT i.partner_id, i.company_id, MAX(i.window_days) AS dso_days,
           SUM(i.amount_residual_signed) AS open_receivable,
           SUM(CASE WHEN i.move_type = 'out_invoice' AND i.days BETWEEN 1 AND 30
                    THEN i.amount_residual_signed ELSE 0 END) AS overdue_0_30,
           SUM(CASE WHEN i.move_type = 'out_invoice' AND i.days BETWEEN 31 AND 60
                    THEN i.amount_residual_signed ELSE 0 END) AS overdue_31_60,
           SUM(CASE WHEN i.move_type = 'out_invoice' AND i.days BETWEEN 61 AND 90
                    THEN i.amount_residual_signed ELSE 0 END) AS overdue_61_90,
           SUM(CASE WHEN i.move_type = 'out_invoice' AND i.days > 90
                    THEN i.amount_residual_signed ELSE 0 END) AS overdue_90_plus,
           SUM(CASE WHEN i.invoice_date > i.today - i.window_days
                    THEN i.amount_total_signed ELSE 0 END) AS invoiced_recent,
           COALESCE(MAX(CASE WHEN i.move_type = 'out_invoice'
                              AND i.amount_residual_signed > 0 AND i.days > 0
                             THEN i.days END), 0) AS max_days_overdue
      FROM invoice i
     GROUP BY i.partner_id, i.company_id
),
measured AS (
    SELECT t.*,
           t.overdue_0_30 + t.overdue_31_60 + t.overdue_61_90 + t.overdue_90_plus
               AS overdue_receivable,
           COALESCE(c.cash_collected, 0) AS cash_collected,
           COALESCE(t.open_receivable * t.dso_days / NULLIF(t.invoiced_recent, 0), 0) AS dso
      FROM totals t
      LEFT JOIN cash c ON c.partner_id = t.partner_id AND c.company_id = t.company_id
)
SELECT ROW_NUMBER() OVER (ORDER BY x.partner_id, x.company_id) AS id,
       x.partner_id, x.company_id, rc.currency_id, x.dso_days, x.open_receivable,
       x.overdue_receivable, x.overdue_0_30, x.overdue_31_60, x.overdue_61_90,
       x.overdue_90_plus, x.invoiced_recent, x.cash_collected, x.dso, x.max_days_overdue,
       CASE WHEN x.max_days_overdue > COALESCE(rc.psa_health_at_risk_days, 90)
                 OR x.dso >= COALESCE(rc.psa_health_at_risk_dso, 90) THEN 'at_risk'
            WHEN x.max_days_overdue > COALESCE(rc.psa_health_watch_days, 30)
                 OR x.dso >= COALESCE(rc.psa_health_watch_dso, 60) THEN 'watch'
            ELSE 'current' END AS status
  FROM measured x
  JOIN res_company rc ON rc.id = x.company_id
"""

STATUSES = [("current", "Current"), ("watch", "Watch"), ("at_risk", "At risk")]


class PsaAccountHealth(models.Model):
    """Receivables, collections and a health status per customer, read live."""

    _name = "psa.account.health"
    _inherit = ["psa.sql.report.mixin"]
    _description = "PSA Connector Customer Account Health"
    _auto = False
    _order = "overdue_receivable desc, partner_id"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    status = fields.Selection(
        STATUSES,
        readonly=True,
        help="At risk: an open invoice more than the at-risk days past due, or DSO at "
        "the at-risk threshold; watch: the same with the watch thresholds; else current "
        "(Settings > Invoicing > PSA account health).",
    )
    open_receivable = fields.Monetary(
        readonly=True, help="What the customer's posted invoices still owe, less open credits."
    )
    overdue_receivable = fields.Monetary(readonly=True, help="Open receivable past due.")
    overdue_0_30 = fields.Monetary(string="Overdue 0-30 days", readonly=True)
    overdue_31_60 = fields.Monetary(string="Overdue 31-60 days", readonly=True)
    overdue_61_90 = fields.Monetary(string="Overdue 61-90 days", readonly=True)
    overdue_90_plus = fields.Monetary(string="Overdue over 90 days", readonly=True)
    invoiced_recent = fields.Monetary(
        string="Invoiced in DSO window",
        readonly=True,
        help="Invoices (tax included, less credit notes) dated within the last N days.",
    )
    cash_collected = fields.Monetary(
        string="Collected in DSO window",
        readonly=True,
        help="Payments received on the customer's invoices within the last N days.",
    )
    dso_days = fields.Integer(string="DSO window (days)", readonly=True, aggregator="max")
    dso = fields.Float(
        string="DSO (days)",
        readonly=True,
        aggregator="avg",
        digits=(16, 1),
        help="Open receivable / invoiced in the last N days x N (0 when nothing was "
        "invoiced in the window); for a group, from the group's totals.",
    )
    max_days_overdue = fields.Integer(
        string="Oldest overdue (days)",
        readonly=True,
        aggregator="max",
        help="Days past due of the customer's oldest open invoice.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), SQL(HEALTH_QUERY))
        )
