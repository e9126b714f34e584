from odoo import api, fields, models, tools
from odoo.tools import SQL
from odoo.tools.sql import table_kind

from .psa_project_financial import SUMMED

# psa_project_financial (per project and month, in the project company's currency) once
# per possible reporting company, converted into that company's currency as Odoo's
# res.currency._get_conversion_rate(from, to, reporting company, date) does: the rates of
# the reporting company's root company (else the shared ones) in force at the month's
# end (the last rate on or before that day; none before it: the first one after; none at
# all: 1), amount x rate(to) / rate(from).
CONSOLIDATED_QUERY = """
SELECT ROW_NUMBER() OVER (ORDER BY f.id, rc.id) AS id,
       f.id AS financial_id,
       f.project_id,
       f.partner_id,
       f.company_id,
       f.currency_id AS company_currency_id,
       rc.id AS reporting_company_id,
       rc.currency_id,
       f.date,
       (f.date + interval '1 month' - interval '1 day')::date AS rate_date,
       x.factor AS rate,
       f.revenue * x.factor AS revenue,
       f.hours,
       f.labour_cost * x.factor AS labour_cost,
       f.expense_cost * x.factor AS expense_cost,
       f.vendor_bill_cost * x.factor AS vendor_bill_cost,
       f.cost * x.factor AS cost,
       f.margin * x.factor AS margin,
       f.margin_pct,
       f.committed_cost * x.factor AS committed_cost,
       f.wip * x.factor AS wip,
       f.backlog * x.factor AS backlog,
       f.cash_collected * x.factor AS cash_collected,
       f.open_receivable * x.factor AS open_receivable,
       f.overdue_receivable * x.factor AS overdue_receivable,
       f.overdue_0_30 * x.factor AS overdue_0_30,
       f.overdue_31_60 * x.factor AS overdue_31_60,
       f.overdue_61_90 * x.factor AS overdue_61_90,
       f.overdue_90_plus * x.factor AS overdue_90_plus,
       f.invoiced_recent * x.factor AS invoiced_recent,
       f.dso_days,
       f.dso
  FROM psa_project_financial f
 CROSS JOIN res_company rc
 CROSS JOIN LATERAL (
       SELECT split_part(rc.parent_path, '/', 1)::int AS root_id,
              (f.date + interval '1 month' - interval '1 day')::date AS day
 ) k
 CROSS JOIN LATERAL (
       SELECT CASE WHEN f.currency_id = rc.currency_id THEN 1.0 ELSE
              COALESCE(
                  (SELECT r.rate FROM res_currency_rate r
                    WHERE r.currency_id = rc.currency_id AND r.name <= k.day
                      AND (r.company_id IS NULL OR r.company_id = k.root_id)
                    ORDER BY r.company_id NULLS LAST, r.name DESC LIMIT 1),
                  (SELECT r.rate FROM res_currency_rate r
                    WHERE r.currency_id = rc.currency_id
                      AND (r.company_id IS NULL OR r.company_id = k.root_id)
                    ORDER BY r.company_id NULLS LAST, r.name ASC LIMIT 1),
                  1.0)
              / COALESCE(
                  (SELECT r.rate FROM res_currency_rate r
                    WHERE r.currency_id = f.currency_id AND r.name <= k.day
                      AND (r.company_id IS NULL OR r.company_id = k.root_id)
                    ORDER BY r.company_id NULLS LAST, r.name DESC LIMIT 1),
                  (SELECT r.rate FROM res_currency_rate r
                    WHERE r.currency_id = f.currency_id
                      AND (r.company_id IS NULL OR r.company_id = k.root_id)
                    ORDER BY r.company_id NULLS LAST, r.name ASC LIMIT 1),
                  1.0)
              END AS factor
 ) x
"""

# The money figures of the per-company view (all it sums but hours), in the reporting
# currency here.
CONVERTED = tuple(name for name in SUMMED if name != "hours")


class PsaProjectFinancialConsolidated(models.Model):
    """Project financials of every company the user may see, in one reporting currency.

    The reporting company is the user's current company (the company switcher): its
    currency is the reporting currency and its rates convert each row, at the end of
    the row's month. Record rules keep the rows to the companies the user has selected.
    """

    _name = "psa.project.financial.consolidated"
    _inherit = ["psa.sql.report.mixin"]
    _description = "PSA Connector Consolidated Project Financials"
    _auto = False
    _order = "date desc, project_id"
    _rec_name = "project_id"

    financial_id = fields.Many2one("psa.project.financial", readonly=True)
    project_id = fields.Many2one("project.project", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    company_currency_id = fields.Many2one("res.currency", string="Company currency", readonly=True)
    reporting_company_id = fields.Many2one(
        "res.company",
        readonly=True,
        help="Whose currency and rates the figures are in: the current company.",
    )
    currency_id = fields.Many2one("res.currency", string="Reporting currency", readonly=True)
    date = fields.Date(string="Month", readonly=True)
    rate_date = fields.Date(
        readonly=True, help="The month's last day: the rates in force then convert the row."
    )
    rate = fields.Float(
        readonly=True,
        digits=(16, 6),
        aggregator=None,
        help="Reporting currency per unit of the company currency, at the rate date.",
    )
    revenue = fields.Monetary(readonly=True)
    hours = fields.Float(string="Hours worked", readonly=True)
    labour_cost = fields.Monetary(readonly=True)
    expense_cost = fields.Monetary(string="Expenses", readonly=True)
    vendor_bill_cost = fields.Monetary(string="Vendor bills", readonly=True)
    cost = fields.Monetary(readonly=True)
    margin = fields.Monetary(readonly=True)
    margin_pct = fields.Float(string="Margin (%)", readonly=True, aggregator="avg")
    committed_cost = fields.Monetary(readonly=True)
    wip = fields.Monetary(string="WIP", readonly=True)
    backlog = fields.Monetary(readonly=True)
    cash_collected = fields.Monetary(readonly=True)
    open_receivable = fields.Monetary(readonly=True)
    overdue_receivable = fields.Monetary(readonly=True)
    overdue_0_30 = fields.Monetary(string="Overdue 0-30 days", readonly=True)
    overdue_31_60 = fields.Monetary(string="Overdue 31-60 days", readonly=True)
    overdue_61_90 = fields.Monetary(string="Overdue 61-90 days", readonly=True)
    overdue_90_plus = fields.Monetary(string="Overdue over 90 days", readonly=True)
    invoiced_recent = fields.Monetary(string="Invoiced in DSO window", readonly=True)
    dso_days = fields.Integer(string="DSO window (days)", readonly=True, aggregator="max")
    dso = fields.Float(
        string="DSO (days)",
        readonly=True,
        aggregator="avg",
        digits=(16, 1),
        help="Open receivable / invoiced in the DSO window x the window's days; for a "
        "group, from the group's totals.",
    )

    def init(self):
        # The view reads psa_project_financial, which psa.project.financial (re)creates
        # and then recreates this one (_create_view); here only if it exists already.
        if table_kind(self.env.cr, "psa_project_financial"):
            self._create_view()

    def _create_view(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (%s)",
                SQL.identifier(self._table),
                SQL(CONSOLIDATED_QUERY),
            )
        )

    @api.model
    def _search(self, domain, *args, **kwargs):
        # One reporting company: the current one (rows exist for each).
        domain = [*domain, ("reporting_company_id", "=", self.env.company.id)]
        return super()._search(domain, *args, **kwargs)

    @api.model
    def _totals(self, domain=None):
        """{figure: total} over ``domain`` in the reporting currency."""
        self.env.flush_all()
        aggregates = [f"{name}:sum" for name in CONVERTED]
        [values] = self._read_group(domain or [], [], aggregates)
        return dict(zip(CONVERTED, values, strict=True))
