from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.psa_connector_base.tools.access import MANAGER, requires_group


class PsaUtilisationComputeWizard(models.TransientModel):
    _name = "psa.utilisation.compute.wizard"
    _description = "PSA Recompute Utilisation"

    @api.model
    def _default_date_from(self):
        today = fields.Date.context_today(self)
        return today - timedelta(days=today.weekday())

    @api.model
    def _default_date_to(self):
        return self._default_date_from() + timedelta(weeks=4, days=-1)

    date_from = fields.Date(required=True, default=_default_date_from)
    date_to = fields.Date(required=True, default=_default_date_to)
    employee_ids = fields.Many2many(
        "hr.employee", string="Employees", help="Leave empty for every active employee."
    )

    @requires_group(MANAGER)
    def action_compute(self):
        self.ensure_one()
        if self.date_to < self.date_from:
            raise UserError(_("The period ends before it starts."))
        # Whole ISO weeks: a partial week would show part of its capacity.
        date_from = self.date_from - timedelta(days=self.date_from.weekday())
        date_to = self.date_to + timedelta(days=6 - self.date_to.weekday())
        # Only employees of the companies the user works in: the capacity rows are
        # computed under sudo, so neither an empty selection ("everyone") nor ids typed
        # into the wizard may reach another company's employees.
        companies = self.env.companies
        employees = self.sudo().employee_ids or self.env["hr.employee"].sudo().search(
            [("company_id", "in", companies.ids)]
        )
        employees = employees.filtered(lambda employee: employee.company_id in companies)
        self.env["psa.capacity.day"]._compute_period(date_from, date_to, employees)
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_connector_forecast.action_psa_utilisation_report"
        )
        action["domain"] = [("week_start", ">=", date_from), ("week_start", "<=", date_to)]
        return action
