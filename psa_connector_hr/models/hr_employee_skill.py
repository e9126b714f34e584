from odoo import fields, models


class HrEmployeeSkill(models.Model):
    _inherit = "hr.employee.skill"

    psa_from_hr = fields.Boolean(
        string="From the HR system",
        readonly=True,
        copy=False,
        help="The HR system sent this skill: the next employee update changes or removes "
        "it. Skills added in Odoo are left as they are.",
    )
