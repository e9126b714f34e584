from odoo import api, models


class PsaCapacityDay(models.Model):
    _inherit = "psa.capacity.day"

    @api.model
    def _billable_employee_ids(self, employees):
        """Only the people the HR system marks billable sell their capacity."""
        super()._billable_employee_ids(employees)
        return set(employees.sudo().filtered("psa_billable").ids)
