from odoo import fields, models

from odoo.addons.psa_connector_timesheet.models.account_analytic_line import (
    PSA_LINE_WORKFLOW_FIELDS,
)

PAY_CATEGORIES = [
    ("normal", "Normal hours"),
    ("overtime", "Overtime"),
    ("on_call", "On-call"),
    ("leave", "Leave taken"),
]


class AccountAnalyticLine(models.Model):
    _inherit = "account.analytic.line"
    # Payroll pays by these: the PSA's category and approval time, not the employee's.
    _psa_workflow_fields = (*PSA_LINE_WORKFLOW_FIELDS, "psa_pay_category", "psa_approved_date")

    psa_pay_category = fields.Selection(
        PAY_CATEGORIES,
        string="Pay category",
        default="normal",
        help="How payroll pays these hours, as the PSA categorised the time entry "
        "(pay_category); normal when it sends none.",
    )
    psa_approved_date = fields.Datetime(
        string="Approved in the PSA",
        copy=False,
        help="When the PSA approved the time entry (approved_at). Payroll moves entries "
        "approved after a period's cut-off to the next period; without it the day the "
        "line arrived in Odoo counts.",
    )
