from odoo import fields, models


class HrEmployee(models.Model):
    _inherit = "hr.employee"

    psa_allocation_ids = fields.One2many("psa.allocation", "employee_id", string="Allocations")
