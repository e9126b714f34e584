from odoo import fields, models


class HrEmployeePublic(models.Model):
    _inherit = "hr.employee.public"

    # Staffing needs the flag without HR rights; employees without them read this view.
    psa_billable = fields.Boolean(string="Billable", readonly=True)
