from odoo import fields, models, tools
from odoo.tools import SQL

# Per service line (the product of the sale line), month, company and contract, in the
# company currency. Revenue: posted customer invoice and credit note lines of PSA
# contracts (by invoice date). Cost: the cost of the timesheets the sale line priced
# (Odoo's timesheet cost, by work date). Other costs (expenses, vendor bills) are not
# attributable to a service line; the project financials show them.
SERVICE_REVENUE_QUERY = """
SELECT row_number() OVER (ORDER BY f.date, f.company_id, f.order_id, f.product_id) AS id,
       f.date, f.company_id, company.currency_id, f.backend_id, f.order_id, f.product_id,
       pt.categ_id AS product_categ_id,
       SUM(f.revenue) AS revenue, SUM(f.cost) AS cost, SUM(f.revenue - f.cost) AS margin,
       SUM(f.hours) AS hours
  FROM (
    SELECT date_trunc('month', m.invoice_date)::date AS date, aml.company_id,
           so.psa_backend_id AS backend_id, so.id AS order_id, sol.product_id,
           -aml.balance AS revenue, 0 AS cost, 0 AS hours
      FROM account_move_line aml
      JOIN account_move m ON m.id = aml.move_id
      JOIN sale_order_line_invoice_rel rel ON rel.invoice_line_id = aml.id
      JOIN sale_order_line sol ON sol.id = rel.order_line_id
      JOIN sale_order so ON so.id = sol.order_id
     WHERE m.state = 'posted'
       AND m.move_type IN ('out_invoice', 'out_refund')
       AND aml.display_type = 'product'
       AND so.psa_backend_id IS NOT NULL
    UNION ALL
    SELECT date_trunc('month', t.date)::date, t.company_id, so.psa_backend_id, so.id,
           sol.product_id, 0, -t.amount, t.unit_amount
      FROM account_analytic_line t
      JOIN sale_order_line sol ON sol.id = t.so_line
      JOIN sale_order so ON so.id = sol.order_id
     WHERE t.project_id IS NOT NULL
       AND so.psa_backend_id IS NOT NULL
  ) f
  JOIN res_company company ON company.id = f.company_id
  JOIN product_product pp ON pp.id = f.product_id
  JOIN product_template pt ON pt.id = pp.product_tmpl_id
 GROUP BY f.date, f.company_id, company.currency_id, f.backend_id, f.order_id, f.product_id,
          pt.categ_id
"""


class PsaServiceRevenue(models.Model):
    """Revenue and margin of PSA contracts by service line (product) and month."""

    _name = "psa.service.revenue"
    _description = "PSA Connector: Revenue and Margin by Service Line"
    _auto = False
    _order = "date desc, company_id, product_id"
    _rec_name = "product_id"

    date = fields.Date(string="Month", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    backend_id = fields.Many2one("psa.backend", string="Backend", readonly=True)
    order_id = fields.Many2one("sale.order", string="Contract", readonly=True)
    product_id = fields.Many2one("product.product", string="Service line", readonly=True)
    product_categ_id = fields.Many2one("product.category", string="Service category", readonly=True)
    revenue = fields.Monetary(
        readonly=True,
        help="Posted customer invoices less credit notes, untaxed, in the company "
        "currency, by invoice date.",
    )
    cost = fields.Monetary(
        string="Labour cost",
        readonly=True,
        help="The cost of the timesheets this service line priced (hours times the "
        "employee's hourly cost), by work date.",
    )
    margin = fields.Monetary(readonly=True, help="Revenue less labour cost.")
    hours = fields.Float(string="Hours worked", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (%s)",
                SQL.identifier(self._table),
                SQL(SERVICE_REVENUE_QUERY),
            )
        )
