from odoo import fields, models


class HrEmployee(models.Model):
    _inherit = "hr.employee"

    def write(self, vals):
        changed = (
            self.filtered(lambda e: e.psa_billable != bool(vals["psa_billable"]))
            if "psa_billable" in vals
            else self.browse()
        )
        result = super().write(vals)
        if changed:
            # The capacity already computed follows the flag; so do the pushed actuals.
            # sudo: whoever may change the flag (HR) keeps the derived rows in step; only
            # these employees' rows, with the flag just written.
            days = self.env["psa.capacity.day"].sudo()
            for billable, employees in changed.grouped("psa_billable").items():
                days.search([("employee_id", "in", employees.ids)]).write({"billable": billable})
            lines = (
                self.env["account.analytic.line"]
                .sudo()
                .search([("employee_id", "in", changed.ids), ("project_id", "!=", False)])
            )
            lines._psa_forecast_touch()
        return result

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
