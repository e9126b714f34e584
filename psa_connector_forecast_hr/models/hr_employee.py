from odoo import fields, models


class HrEmployee(models.Model):
    _inherit = "hr.employee"

    def _psa_end_future_allocations(self, end_date):
        """A leaver's plan ends with them: cut allocations at ``end_date``.

        Allocations starting after it are removed. The forecasting tool keeps its own
        plan; this only stops Odoo's forecast from counting work nobody will do.
        """
        result = super()._psa_end_future_allocations(end_date)
        end_date = fields.Date.to_date(end_date)
        allocations = (
            self.env["psa.allocation"]
            .sudo()
            .search([("employee_id", "in", self.ids), ("date_to", ">", end_date)])
        )
        later = allocations.filtered(lambda a: a.date_from > end_date)
        later.unlink()
        (allocations - later).write({"date_to": end_date})
        return result
