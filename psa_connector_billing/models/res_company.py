from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    psa_dso_days = fields.Integer(
        string="DSO window (days)",
        default=90,
        help="N in DSO = open receivable / customer invoices of the last N days x N.",
    )
    psa_health_watch_days = fields.Integer(
        string="Watch: days overdue",
        default=30,
        help="A customer is on watch when one of its open invoices is more than this many "
        "days past due.",
    )
    psa_health_at_risk_days = fields.Integer(
        string="At risk: days overdue",
        default=90,
        help="A customer is at risk when one of its open invoices is more than this many "
        "days past due.",
    )
    psa_health_watch_dso = fields.Float(
        string="Watch: DSO",
        default=60.0,
        help="A customer is on watch when its DSO reaches this many days.",
    )
    psa_health_at_risk_dso = fields.Float(
        string="At risk: DSO",
        default=90.0,
        help="A customer is at risk when its DSO reaches this many days.",
    )
