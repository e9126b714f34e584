from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    psa_dso_days = fields.Integer(related="company_id.psa_dso_days", readonly=False)
    psa_health_watch_days = fields.Integer(
        related="company_id.psa_health_watch_days", readonly=False
    )
    psa_health_at_risk_days = fields.Integer(
        related="company_id.psa_health_at_risk_days", readonly=False
    )
    psa_health_watch_dso = fields.Float(related="company_id.psa_health_watch_dso", readonly=False)
    psa_health_at_risk_dso = fields.Float(
        related="company_id.psa_health_at_risk_dso", readonly=False
    )
