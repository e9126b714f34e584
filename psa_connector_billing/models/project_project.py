from odoo import _, fields, models

from odoo.addons.psa_connector_base.tools.access import requires_group

# Cost and margins reveal employees' cost rates (one person's hours x rate): the
# summary is for the group that reads employee cost (psa_connector_base), which finance
# people are granted; invoicing users and connector managers without it do not see it.
FINANCIAL_GROUPS = "psa_connector_base.group_cost_reader"


class ProjectProject(models.Model):
    _inherit = "project.project"

    psa_budget_amount = fields.Monetary(
        string="Budget amount",
        currency_field="currency_id",
        help="The engagement's budget in money, as the PSA sends it (project budget_amount, "
        "in the company currency). Its budget in hours is Odoo's Allocated Time. Shown "
        "beside the project financials and frozen with them at month end.",
    )
    psa_revenue = fields.Monetary(
        string="Revenue invoiced",
        compute="_compute_psa_financials",
        currency_field="psa_financial_currency_id",
        groups=FINANCIAL_GROUPS,
    )
    psa_cost = fields.Monetary(
        string="Cost",
        compute="_compute_psa_financials",
        currency_field="psa_financial_currency_id",
        groups=FINANCIAL_GROUPS,
        help="Labour (the timesheets' cost), expenses, vendor bills.",
    )
    psa_committed_cost = fields.Monetary(
        string="Committed cost",
        compute="_compute_psa_financials",
        currency_field="psa_financial_currency_id",
        groups=FINANCIAL_GROUPS,
        help="Approved purchase orders not billed yet.",
    )
    psa_margin = fields.Monetary(
        string="Margin",
        compute="_compute_psa_financials",
        currency_field="psa_financial_currency_id",
        groups=FINANCIAL_GROUPS,
    )
    psa_margin_pct = fields.Float(
        string="Margin (%)", compute="_compute_psa_financials", groups=FINANCIAL_GROUPS
    )
    psa_wip = fields.Monetary(
        string="WIP",
        compute="_compute_psa_financials",
        currency_field="psa_financial_currency_id",
        groups=FINANCIAL_GROUPS,
        help="Approved time and delivered milestones not invoiced yet, at contract rates.",
    )
    psa_backlog = fields.Monetary(
        string="Backlog",
        compute="_compute_psa_financials",
        currency_field="psa_financial_currency_id",
        groups=FINANCIAL_GROUPS,
        help="Contract value not invoiced yet.",
    )
    psa_financial_currency_id = fields.Many2one(
        "res.currency", compute="_compute_psa_financials", groups=FINANCIAL_GROUPS
    )

    def _compute_psa_financials(self):
        totals = self.env["psa.project.financial"]._totals([("project_id", "in", self.ids)])
        names = ("revenue", "cost", "committed_cost", "margin", "margin_pct", "wip", "backlog")
        for project in self:
            figures = totals.get(project.id, {})
            project.psa_financial_currency_id = (
                project.company_id or project.account_id.company_id or self.env.company
            ).currency_id
            for name in names:
                project[f"psa_{name}"] = figures.get(name, 0.0)

    # The same people as the figures it shows.
    @requires_group(*FINANCIAL_GROUPS.split(","))
    def action_psa_financials(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_connector_billing.action_psa_project_financial"
        )
        action["domain"] = [("project_id", "=", self.id)]
        action["context"] = {"search_default_group_date": 1}
        action["name"] = _("Financials of %s", self.display_name)
        return action
