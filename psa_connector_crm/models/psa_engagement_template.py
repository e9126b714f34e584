from odoo import api, fields, models

from odoo.addons.psa_connector_billing.models.sale_order import CONTRACT_TYPES


class PsaEngagementTemplate(models.Model):
    """What a won opportunity becomes on the PSA: a project and its contract.

    The template names the PSA backend the engagement is created on, the PSA project
    template it starts from, the contract's billing model and its rate card (or fixed fee
    / retainer). ``code`` is what other systems (a CRM backend's deal property) refer to.
    """

    _name = "psa.engagement.template"
    _description = "PSA engagement template"
    _order = "sequence, name"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        help="Short identifier, unique per company: what a CRM deal names to pick this template.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    backend_id = fields.Many2one(
        "psa.backend",
        string="PSA backend",
        required=True,
        ondelete="restrict",
        domain="[('kind', '=', 'psa'), ('company_id', '=', company_id)]",
        help="The PSA the engagement is created on.",
    )
    psa_project_template = fields.Char(
        string="PSA project template",
        help="The PSA's own project template code (its phases and tasks); sent as "
        "template_code when the project is created. Empty: a project without tasks.",
    )
    contract_type = fields.Selection(
        CONTRACT_TYPES,
        string="Billing model",
        required=True,
        default="time_and_materials",
        help="The contract created with the project, as the billing import knows it.",
    )
    currency_id = fields.Many2one(
        "res.currency",
        required=True,
        default=lambda self: self.env.company.currency_id,
        help="The contract's currency.",
    )
    rate_ids = fields.One2many(
        "psa.engagement.template.rate",
        "template_id",
        string="Rate card",
        copy=True,
        help="Time and materials: the hourly rate per role the contract is priced at.",
    )
    fixed_amount = fields.Monetary(
        currency_field="currency_id", help="Fixed fee: the amount of the contract."
    )
    retainer_amount = fields.Monetary(
        currency_field="currency_id", help="Retainer: the amount per period."
    )
    retainer_period = fields.Selection(
        [("month", "Month"), ("quarter", "Quarter"), ("year", "Year")], default="month"
    )
    duration_months = fields.Integer(
        default=0, help="Months from the start date to the end date; 0: open-ended."
    )
    budget_hours = fields.Float(help="Budgeted hours of the project (its Allocated Time).")
    note = fields.Text(help="What the engagement covers; sent as the project's description.")

    _sql_constraints = [
        (
            "code_company_uniq",
            "unique(code, company_id)",
            "An engagement template code is unique per company.",
        ),
    ]

    @api.depends("code")
    def _compute_display_name(self):
        for template in self:
            template.display_name = (
                f"[{template.code}] {template.name}" if template.code else template.name
            )

    def _rate_card(self):
        """The rate card in the canonical contract schema."""
        self.ensure_one()
        return [
            {
                "role": rate.role,
                "hourly_rate": rate.hourly_rate,
                "default": rate.is_default,
                **({"service_item": rate.service_item} if rate.service_item else {}),
            }
            for rate in self.rate_ids
        ]
