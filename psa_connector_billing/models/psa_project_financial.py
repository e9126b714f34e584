from odoo import api, fields, models, tools
from odoo.tools import SQL

# Per project and month, from Odoo's own records, in the company currency. Flows are
# dated when they happen (invoice and bill dates, work and expense dates); balances
# (committed cost, WIP, backlog) are today's, in the month they arose (order date,
# work date, milestone acceptance, contract date), so every column sums over months.
FINANCIAL_QUERY = """
WITH project_account AS (
    SELECT p.id AS project_id, p.account_id,
           COALESCE(p.company_id, a.company_id) AS company_id, p.partner_id
      FROM project_project p
      JOIN account_analytic_account a ON a.id = p.account_id
),
figures AS (
    -- Revenue and vendor bills: posted invoice and bill lines on the project's account
    -- (their analytic lines, in company currency). Expense reports are counted below.
    SELECT pa.project_id, aal.date,
           CASE WHEN m.move_type IN ('out_invoice', 'out_refund') THEN aal.amount ELSE 0 END
               AS revenue,
           0 AS hours, 0 AS labour_cost, 0 AS expense_cost,
           CASE WHEN m.move_type IN ('in_invoice', 'in_refund') THEN -aal.amount ELSE 0 END
               AS vendor_bill_cost,
           0 AS committed_cost, 0 AS wip, 0 AS backlog
      FROM account_analytic_line aal
      JOIN project_account pa ON pa.account_id = aal.account_id
      JOIN account_move_line aml ON aml.id = aal.move_line_id
      JOIN account_move m ON m.id = aml.move_id
     WHERE m.state = 'posted'
       AND m.expense_sheet_id IS NULL
       AND m.move_type IN ('out_invoice', 'out_refund', 'in_invoice', 'in_refund')
    UNION ALL
    -- Labour: the cost of each timesheet line of employee e (_labour_cost_sql).
    SELECT t.project_id, t.date, 0, t.unit_amount, %(labour_cost)s, 0, 0, 0, 0, 0
      FROM account_analytic_line t
      JOIN project_account pa ON pa.project_id = t.project_id
      JOIN hr_employee e ON e.id = t.employee_id
      %(labour_cost_join)s
     WHERE t.move_line_id IS NULL
    UNION ALL
    -- Expenses: approved or posted expenses, untaxed, by their share on the project's account.
    SELECT pa.project_id, x.date, 0, 0, 0,
           (x.total_amount - COALESCE(x.tax_amount, 0)) * d.share::numeric / 100, 0, 0, 0, 0
      FROM hr_expense x
     CROSS JOIN LATERAL jsonb_each_text(x.analytic_distribution) d(accounts, share)
      JOIN project_account pa
        ON pa.account_id::text = ANY(string_to_array(d.accounts, ','))
     WHERE x.state IN ('approved', 'done')
    UNION ALL
    -- Committed: confirmed, not closed purchase lines, less what posted bills charged;
    -- in the order's month (the PSA's order date), not the day a sync confirmed it.
    SELECT pa.project_id, po.date_order::date, 0, 0, 0, 0, 0,
           GREATEST(
               pol.price_subtotal / COALESCE(NULLIF(po.currency_rate, 0), 1)
                   - COALESCE(billed.amount, 0),
               0
           ) * d.share::numeric / 100,
           0, 0
      FROM purchase_order_line pol
      JOIN purchase_order po ON po.id = pol.order_id
     CROSS JOIN LATERAL jsonb_each_text(pol.analytic_distribution) d(accounts, share)
      JOIN project_account pa
        ON pa.account_id::text = ANY(string_to_array(d.accounts, ','))
      LEFT JOIN LATERAL (
            SELECT SUM(bl.balance) AS amount
              FROM account_move_line bl
              JOIN account_move bm ON bm.id = bl.move_id
             WHERE bl.purchase_line_id = pol.id AND bm.state = 'posted'
      ) billed ON TRUE
     WHERE po.state IN ('purchase', 'done')
       AND COALESCE(po.psa_purchase_state, '') != 'closed'
       AND pol.display_type IS NULL
    UNION ALL
    -- WIP from time: hours priced on a contract line, not on a posted invoice yet.
    SELECT t.project_id, t.date, 0, 0, 0, 0, 0, 0,
           t.unit_amount * sol.price_unit / COALESCE(NULLIF(so.currency_rate, 0), 1), 0
      FROM account_analytic_line t
      JOIN project_account pa ON pa.project_id = t.project_id
      JOIN sale_order_line sol ON sol.id = t.so_line
      JOIN sale_order so ON so.id = sol.order_id
      LEFT JOIN account_move inv ON inv.id = t.timesheet_invoice_id
     WHERE t.move_line_id IS NULL
       AND so.state = 'sale'
       AND (inv.id IS NULL OR inv.state != 'posted')
    UNION ALL
    -- Contract lines: WIP for what was delivered (milestones accepted, instalments due,
    -- change orders, retainer periods) and not invoiced; backlog for all not invoiced.
    SELECT so.psa_project_id,
           CASE WHEN c.kind = 'wip' THEN COALESCE(accepted.day, so.date_order::date)
                ELSE so.date_order::date END,
           0, 0, 0, 0, 0, 0,
           CASE WHEN c.kind = 'wip' THEN GREATEST(
               (sol.qty_delivered - COALESCE(inv.quantity, 0)) * sol.price_unit, 0)
               / COALESCE(NULLIF(so.currency_rate, 0), 1) ELSE 0 END,
           CASE WHEN c.kind = 'backlog' THEN GREATEST(
               sol.product_uom_qty * sol.price_unit - COALESCE(inv.amount, 0), 0)
               / COALESCE(NULLIF(so.currency_rate, 0), 1) ELSE 0 END
      FROM sale_order_line sol
      JOIN sale_order so ON so.id = sol.order_id
      JOIN project_account pa ON pa.project_id = so.psa_project_id
      JOIN product_product pp ON pp.id = sol.product_id
      JOIN product_template pt ON pt.id = pp.product_tmpl_id
     CROSS JOIN (VALUES ('wip'), ('backlog')) c(kind)
      LEFT JOIN LATERAL (
            SELECT SUM(CASE WHEN im.move_type = 'out_refund' THEN -il.quantity
                            ELSE il.quantity END) AS quantity,
                   SUM(CASE WHEN im.move_type = 'out_refund' THEN -il.price_subtotal
                            ELSE il.price_subtotal END) AS amount
              FROM sale_order_line_invoice_rel rel
              JOIN account_move_line il ON il.id = rel.invoice_line_id
              JOIN account_move im ON im.id = il.move_id
             WHERE rel.order_line_id = sol.id AND im.state = 'posted'
      ) inv ON TRUE
      LEFT JOIN LATERAL (
            SELECT MIN(r.create_date)::date AS day
              FROM psa_billing_event_record r
             WHERE r.sale_line_id = sol.id AND r.state = 'applied'
      ) accepted ON TRUE
     WHERE so.psa_backend_id IS NOT NULL
       AND so.state = 'sale'
       AND sol.display_type IS NULL
       AND COALESCE(pt.service_type, '') != 'timesheet'
       AND (c.kind = 'backlog' OR pt.invoice_policy = 'delivery')
),
invoice_share AS (
    -- Each posted customer invoice's share on a project: its revenue on the project's
    -- account over its untaxed total (both signed, company currency).
    SELECT pa.project_id, m.id AS move_id,
           SUM(aal.amount) / NULLIF(m.amount_untaxed_signed, 0) AS share
      FROM account_analytic_line aal
      JOIN project_account pa ON pa.account_id = aal.account_id
      JOIN account_move_line aml ON aml.id = aal.move_line_id
      JOIN account_move m ON m.id = aml.move_id
     WHERE m.state = 'posted'
       AND m.move_type IN ('out_invoice', 'out_refund')
     GROUP BY pa.project_id, m.id, m.amount_untaxed_signed
),
receivables AS (
    -- Open receivable (today's residual) in the invoice's month, by days past due
    -- (UTC today); what was invoiced (tax included) in the company's DSO window.
    SELECT s.project_id, m.invoice_date AS date, 0 AS cash_collected,
           m.amount_residual_signed * s.share AS open_receivable,
           CASE WHEN m.move_type = 'out_invoice' AND late.days BETWEEN 1 AND 30 THEN m.amount_residual_signed * s.share
                ELSE 0 END AS overdue_0_30,
           CASE WHEN m.move_type = 'out_invoice' AND late.days BETWEEN 31 AND 60 THEN m.amount_residual_signed * s.share
                ELSE 0 END AS overdue_31_60,
           CASE WHEN m.move_type = 'out_invoice' AND late.days BETWEEN 61 AND 90 THEN m.amount_residual_signed * s.share
                ELSE 0 END AS overdue_61_90,
           CASE WHEN m.move_type = 'out_invoice' AND late.days > 90 THEN m.amount_residual_signed * s.share
                ELSE 0 END AS overdue_90_plus,
           CASE WHEN m.invoice_date > late.today - COALESCE(rc.psa_dso_days, 90)
                THEN m.amount_total_signed * s.share ELSE 0 END AS invoiced_recent
      FROM invoice_share s
      JOIN account_move m ON m.id = s.move_id
      JOIN res_company rc ON rc.id = m.company_id
     CROSS JOIN LATERAL (
           SELECT (now() AT TIME ZONE 'UTC')::date AS today,
                  (now() AT TIME ZONE 'UTC')::date
                      - COALESCE(m.invoice_date_due, m.invoice_date) AS days
     ) late
    UNION ALL
    -- Cash collected: the invoice's receivable settled by a payment or a bank
    -- statement line (not by a credit note), on the later of the two dates; a refund
    -- paid out counts negative.
    SELECT s.project_id, apr.max_date, CASE WHEN m.move_type = 'out_refund'
                THEN -apr.amount ELSE apr.amount END * s.share,
           0, 0, 0, 0, 0, 0
      FROM invoice_share s
      JOIN account_move m ON m.id = s.move_id
      JOIN account_move_line rl ON rl.move_id = m.id AND rl.display_type = 'payment_term'
      JOIN account_partial_reconcile apr
        ON apr.debit_move_id = rl.id OR apr.credit_move_id = rl.id
      JOIN account_move_line cl
        ON cl.id = CASE WHEN apr.debit_move_id = rl.id THEN apr.credit_move_id
                        ELSE apr.debit_move_id END
      JOIN account_move cm ON cm.id = cl.move_id
     WHERE cm.origin_payment_id IS NOT NULL OR cm.statement_line_id IS NOT NULL
),
all_figures AS (
    SELECT f.*, 0 AS cash_collected, 0 AS open_receivable, 0 AS overdue_0_30,
           0 AS overdue_31_60, 0 AS overdue_61_90, 0 AS overdue_90_plus, 0 AS invoiced_recent
      FROM figures f
    UNION ALL
    SELECT r.project_id, r.date, 0, 0, 0, 0, 0, 0, 0, 0,
           r.cash_collected, r.open_receivable, r.overdue_0_30, r.overdue_31_60,
           r.overdue_61_90, r.overdue_90_plus, r.invoiced_recent
      FROM receivables r
)
SELECT ROW_NUMBER() OVER (ORDER BY f.project_id, date_trunc('month', f.date)) AS id,
       f.project_id,
       pa.account_id,
       pa.partner_id,
       pa.company_id,
       company.currency_id,
       date_trunc('month', f.date)::date AS date,
       SUM(f.revenue) AS revenue,
       SUM(f.hours) AS hours,
       SUM(f.labour_cost) AS labour_cost,
       SUM(f.expense_cost) AS expense_cost,
       SUM(f.vendor_bill_cost) AS vendor_bill_cost,
       SUM(f.labour_cost + f.expense_cost + f.vendor_bill_cost) AS cost,
       SUM(f.revenue - f.labour_cost - f.expense_cost - f.vendor_bill_cost) AS margin,
       CASE WHEN SUM(f.revenue) != 0
            THEN 100 * SUM(f.revenue - f.labour_cost - f.expense_cost - f.vendor_bill_cost)
                 / SUM(f.revenue) END AS margin_pct,
       SUM(f.committed_cost) AS committed_cost,
       SUM(f.wip) AS wip,
       SUM(f.backlog) AS backlog,
       SUM(f.cash_collected) AS cash_collected,
       SUM(f.open_receivable) AS open_receivable,
       SUM(f.overdue_0_30 + f.overdue_31_60 + f.overdue_61_90 + f.overdue_90_plus)
           AS overdue_receivable,
       SUM(f.overdue_0_30) AS overdue_0_30,
       SUM(f.overdue_31_60) AS overdue_31_60,
       SUM(f.overdue_61_90) AS overdue_61_90,
       SUM(f.overdue_90_plus) AS overdue_90_plus,
       SUM(f.invoiced_recent) AS invoiced_recent,
       COALESCE(company.psa_dso_days, 90) AS dso_days,
       COALESCE(SUM(f.open_receivable) * COALESCE(company.psa_dso_days, 90)
                / NULLIF(SUM(f.invoiced_recent), 0), 0) AS dso
  FROM all_figures f
  JOIN project_account pa ON pa.project_id = f.project_id
  JOIN res_company company ON company.id = pa.company_id
 GROUP BY f.project_id, pa.account_id, pa.partner_id, pa.company_id, company.currency_id,
          company.psa_dso_days, date_trunc('month', f.date)
"""

# _labour_cost_sql() of Odoo's own timesheet cost.
STANDARD_LABOUR_COST = (SQL(""), SQL("-t.amount"))

SUMMED = (
    "revenue",
    "hours",
    "labour_cost",
    "expense_cost",
    "vendor_bill_cost",
    "cost",
    "margin",
    "committed_cost",
    "wip",
    "backlog",
    "cash_collected",
    "open_receivable",
    "overdue_receivable",
    "overdue_0_30",
    "overdue_31_60",
    "overdue_61_90",
    "overdue_90_plus",
    "invoiced_recent",
)


class PsaProjectFinancial(models.Model):
    """Project financials per project and month, read live from the accounting.

    A database view: nothing is stored or copied, so the figures always reconcile with
    the posted invoices, bills, timesheets, expenses and purchase orders they come from.
    """

    _name = "psa.project.financial"
    _inherit = ["psa.sql.report.mixin"]
    _description = "PSA Connector Project Financials"
    _auto = False
    _order = "date desc, project_id"
    _rec_name = "project_id"

    project_id = fields.Many2one("project.project", readonly=True)
    account_id = fields.Many2one(
        "account.analytic.account", string="Analytic account", readonly=True
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    date = fields.Date(string="Month", readonly=True)
    revenue = fields.Monetary(
        readonly=True, help="Posted customer invoice lines on the project's analytic account."
    )
    hours = fields.Float(string="Hours worked", readonly=True)
    labour_cost = fields.Monetary(
        readonly=True,
        help="The timesheets' cost: hours x the employee's hourly cost (with the HR "
        "connector, the cost in force on the day of the work).",
    )
    expense_cost = fields.Monetary(string="Expenses", readonly=True)
    vendor_bill_cost = fields.Monetary(
        string="Vendor bills", readonly=True, help="Posted vendor bills on the project's account."
    )
    cost = fields.Monetary(readonly=True, help="Labour, expenses and vendor bills.")
    margin = fields.Monetary(readonly=True, help="Revenue less cost.")
    # "avg" names the measure for the pivot and graph views (which refuse a measure
    # without an aggregator); _read_group_select computes it as the group's margin over
    # its revenue, which is the revenue-weighted average of the rows' percentages.
    margin_pct = fields.Float(
        string="Margin (%)",
        readonly=True,
        aggregator="avg",
        help="Margin as a share of revenue; for a group, its margin over its revenue.",
    )
    committed_cost = fields.Monetary(
        readonly=True,
        help="Approved purchase orders not billed yet (posted bills only reduce it), "
        "as of today, in the month the order was approved.",
    )
    wip = fields.Monetary(
        string="WIP",
        readonly=True,
        help="Work in progress as of today: approved time and delivered milestones, at "
        "contract rates, not on a posted invoice yet.",
    )
    backlog = fields.Monetary(
        readonly=True,
        help="Contract value not on a posted invoice yet, as of today, in the contract's month.",
    )

    cash_collected = fields.Monetary(
        readonly=True,
        help="Customer payments (payments and bank statement lines, not credit notes) "
        "settling the project's invoices, in the month they were reconciled; refunds paid "
        "out count negative. An invoice is shared between projects by its revenue on each.",
    )
    open_receivable = fields.Monetary(
        readonly=True,
        help="What the project's posted customer invoices still owe today (credit notes "
        "negative), in the month of the invoice date.",
    )
    overdue_receivable = fields.Monetary(
        readonly=True, help="Open receivable past its due date today: the four ageing buckets."
    )
    overdue_0_30 = fields.Monetary(
        string="Overdue 0-30 days", readonly=True, help="Open receivable 1 to 30 days past due."
    )
    overdue_31_60 = fields.Monetary(
        string="Overdue 31-60 days", readonly=True, help="Open receivable 31 to 60 days past due."
    )
    overdue_61_90 = fields.Monetary(
        string="Overdue 61-90 days", readonly=True, help="Open receivable 61 to 90 days past due."
    )
    overdue_90_plus = fields.Monetary(
        string="Overdue over 90 days", readonly=True, help="Open receivable over 90 days past due."
    )
    invoiced_recent = fields.Monetary(
        string="Invoiced in DSO window",
        readonly=True,
        help="Customer invoices (tax included, credit notes negative) dated within the "
        "company's DSO window (the last N days, N a setting, 90 by default).",
    )
    dso_days = fields.Integer(string="DSO window (days)", readonly=True, aggregator="max")
    # Like margin_pct: for a group, computed from the group's sums (_read_group_select).
    dso = fields.Float(
        string="DSO (days)",
        readonly=True,
        aggregator="avg",
        digits=(16, 1),
        help="Days sales outstanding: open receivable / invoiced in the DSO window x the "
        "window's days (N). For a group, from the group's totals; 0 when nothing was "
        "invoiced in the window.",
    )

    def init(self):
        self._create_view(*self._labour_cost_sql())

    def _labour_cost_sql(self):
        """(join, cost): the labour cost of a timesheet line ``t`` of employee ``e``.

        Odoo's own: the line's cost (``amount``, negative), hours x the employee's
        hourly cost when the line was written. psa_connector_billing_hr, installed with
        the HR connector, prices it at the rate in force on the day of the work.
        """
        return STANDARD_LABOUR_COST

    def _create_view(self, labour_cost_join, labour_cost):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (%s)",
                SQL.identifier(self._table),
                SQL(FINANCIAL_QUERY, labour_cost_join=labour_cost_join, labour_cost=labour_cost),
            )
        )
        # Dropping this view dropped the consolidated one reading it (CASCADE).
        self.env["psa.project.financial.consolidated"]._create_view()

    @api.model
    def _totals(self, domain):
        """{project id: {figure: total}} over ``domain``, margin % from the totals."""
        # The view reads the tables underneath: pending ORM writes must be in them.
        self.env.flush_all()
        names = (*SUMMED, "margin_pct", "dso")
        aggregates = [f"{name}:sum" for name in SUMMED] + ["margin_pct:avg", "dso:avg"]
        rows = self._read_group(domain, ["project_id"], aggregates)
        return {project.id: dict(zip(names, values, strict=True)) for project, *values in rows}
