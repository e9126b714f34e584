from odoo import models


class AccountAnalyticLine(models.Model):
    _inherit = "account.analytic.line"

    def _timesheet_preprocess_get_accounts(self, vals):
        """Timesheet lines carry their employee's cost centre (Cost centres plan).

        hr_timesheet copies every analytic plan from the project; on the Cost centres
        plan the employee's own cost centre wins, so the labour cost (the line's amount)
        is readable per cost centre. It is the cost centre of the day the line is
        written: a later change of the employee's cost centre does not move past cost.
        """
        accounts = super()._timesheet_preprocess_get_accounts(vals)
        plan = self.env["hr.employee"]._psa_cost_centre_plan()
        if not accounts or not plan:
            return accounts
        column = plan.sudo()._column_name()
        if column not in accounts:
            return accounts
        employee_id = vals.get("employee_id") or (len(self) == 1 and self.employee_id.id)
        if employee_id:
            # sudo: the cost centre is HR data the person logging time may not read;
            # only its id is copied onto the line.
            employee = self.env["hr.employee"].sudo().browse(employee_id)
            cost_centre = employee.psa_cost_centre_id
            # A cost centre is an account of the employee's company: time on another
            # company's project (a seconded person, entity routing) keeps that
            # project's own cost-centre column, as Odoo refuses cross-company accounts.
            line_company = vals.get("company_id") or (len(self) == 1 and self.company_id.id)
            if cost_centre and (
                not cost_centre.company_id or cost_centre.company_id.id == line_company
            ):
                accounts[column] = cost_centre.id
        elif self:
            # Several lines moved to another project: each keeps its cost centre.
            accounts.pop(column)
        return accounts
