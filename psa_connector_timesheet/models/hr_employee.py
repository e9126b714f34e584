from odoo import api, models


class HrEmployee(models.Model):
    _inherit = "hr.employee"

    @api.model_create_multi
    def create(self, vals_list):
        employees = super().create(vals_list)
        self.env["psa.exception"]._wake_waiting_employees(employees)
        return employees

    def write(self, vals):
        result = super().write(vals)
        if vals.get("work_email"):
            self.env["psa.exception"]._wake_waiting_employees(self)
        return result
