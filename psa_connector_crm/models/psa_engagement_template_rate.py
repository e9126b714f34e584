from odoo import fields, models


class PsaEngagementTemplateRate(models.Model):
    """One role of a template's rate card (the canonical contract's rate_card entry)."""

    _name = "psa.engagement.template.rate"
    _description = "PSA engagement template rate"
    _order = "template_id, sequence, id"

    template_id = fields.Many2one(
        "psa.engagement.template", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="template_id.company_id", store=True)
    currency_id = fields.Many2one(related="template_id.currency_id")
    sequence = fields.Integer(default=10)
    role = fields.Char(required=True, help="The PSA role the rate applies to.")
    service_item = fields.Char(
        help="The PSA service item of this role (picks the product through the "
        "backend's service catalogue); empty: the role."
    )
    hourly_rate = fields.Monetary(required=True, currency_field="currency_id")
    is_default = fields.Boolean(
        string="Default", help="The rate for time whose role the card does not name."
    )
