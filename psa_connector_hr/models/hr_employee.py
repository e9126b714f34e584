from odoo import api, fields, models
from odoo.tools import float_compare

# Cost rates and payroll IDs are payroll-grade data: HR officers keep them; the
# dedicated "Connector: read employee cost" group (finance people who need cost for
# margins) reads them. Invoicing users and accountants read them only once granted that
# group. Field ``groups`` is what the server enforces on read, search, order and
# read_group over RPC (AccessError), not only what the views show.
COST_READER = "psa_connector_base.group_cost_reader"
COST_GROUPS = f"hr.group_hr_user,{COST_READER}"


class HrEmployee(models.Model):
    _inherit = "hr.employee"

    hourly_cost = fields.Monetary(groups=COST_GROUPS)
    # The monetary widget needs the currency next to the cost for the same readers.
    currency_id = fields.Many2one(groups=COST_GROUPS)
    psa_billable = fields.Boolean(
        string="Billable",
        help="Set by the HR system: whether this person's time is sold to customers.",
    )
    psa_payroll_id = fields.Char(
        string="Payroll ID",
        groups=COST_GROUPS,
        copy=False,
        index=True,
        help="The employee's number in the payroll system (payroll_id from the HR "
        "system). Payroll batches name employees by it; an employee without one is "
        "listed at the validation checkpoint.",
    )
    psa_start_date = fields.Date(
        string="Start date",
        groups="hr.group_hr_user",
        help="First working day as the HR system knows it. Odoo's own first contract date "
        "is computed from contracts, which the connector does not create.",
    )
    psa_cost_history_ids = fields.One2many(
        "psa.employee.cost.history", "employee_id", string="Cost history", groups=COST_GROUPS
    )
    psa_binding_ids = fields.Many2many(
        "psa.binding",
        string="External IDs",
        compute="_compute_psa_binding_ids",
        # Bindings are readable by connector users only.
        groups="psa_connector_base.group_connector_user",
    )

    def _compute_psa_binding_ids(self):
        bindings = self.env["psa.binding"].search(
            [("res_model", "=", self._name), ("res_id", "in", self.ids)]
        )
        for employee in self:
            employee.psa_binding_ids = bindings.filtered(lambda b, e=employee: b.res_id == e.id)

    # Canonical identity ---------------------------------------------------------------

    @api.model
    def _psa_from_external_id(self, company, external_id):
        """The employee bound to a canonical employee id on any backend of ``company``.

        Canonical employee ids are shared between the HR system and the PSA, so a time
        entry from a PSA backend finds the employee the HR backend created.
        """
        binding = self.env["psa.binding"].search(
            [
                ("company_id", "=", company.id),
                ("external_type", "=", "employee"),
                ("external_id", "=", str(external_id)),
                ("res_model", "=", self._name),
            ],
            limit=1,
        )
        return self.with_context(active_test=False).browse(binding.res_id).exists()

    # Cost history -------------------------------------------------------------------

    def _psa_hourly_cost_at(self, on_date):
        """The hourly cost in force on ``on_date``, for margins of past work.

        Before the first known rate that rate applies: nothing better is known. Runs
        with the caller's rights, so only HR and finance get an answer.
        """
        self.ensure_one()
        history = self.env["psa.employee.cost.history"]
        rate = history.search(
            [("employee_id", "=", self.id), ("effective_date", "<=", on_date)],
            order="effective_date desc, id desc",
            limit=1,
        ) or history.search(
            [("employee_id", "=", self.id)], order="effective_date asc, id asc", limit=1
        )
        return rate.hourly_cost if rate else self.hourly_cost

    def _psa_set_hourly_cost(self, amount, effective_date, currency, backend=None):
        """Record a rate from ``effective_date`` on; return whether anything changed.

        Rates are never overwritten for other dates, so margins of past periods keep
        the cost they were earned at. A second rate for the same date is a correction.
        """
        self.ensure_one()
        employee = self.sudo()
        history = self.env["psa.employee.cost.history"].sudo()
        rows = history.search([("employee_id", "=", self.id)])
        in_force = employee._psa_hourly_cost_at(effective_date)
        if rows and float_compare(in_force, amount, precision_digits=6) == 0:
            return False
        same_day = rows.filtered(lambda r: r.effective_date == effective_date)
        values = {"hourly_cost": amount, "currency_id": currency.id}
        if backend:
            values["backend_id"] = backend.id
        if same_day:
            same_day.write(values)
        else:
            history.create({**values, "employee_id": self.id, "effective_date": effective_date})
        employee._psa_apply_current_cost()
        return True

    def _psa_apply_current_cost(self):
        """Put today's rate on ``hourly_cost``, which new timesheets are costed with."""
        today = fields.Date.context_today(self)
        for employee in self:
            cost = employee._psa_hourly_cost_at(today)
            if float_compare(cost, employee.hourly_cost, precision_digits=6):
                employee.hourly_cost = cost

    @api.model
    def _psa_cron_apply_due_costs(self):
        """Rates dated in the future take effect on their day."""
        history = self.env["psa.employee.cost.history"].sudo()
        employees = history.search([]).employee_id.with_context(active_test=False)
        employees.sudo()._psa_apply_current_cost()

    # Lifecycle ------------------------------------------------------------------------

    def _psa_terminate(self, end_date):
        """Archive leavers; never delete them: their timesheets and costs stay valid."""
        leaving = self.filtered("active")
        if not leaving:
            return leaving
        leaving.write({"departure_date": end_date})
        # no_wizard: the departure wizard is for people, not for a sync job.
        leaving.with_context(no_wizard=True).action_archive()
        leaving._psa_end_future_allocations(end_date)
        return leaving

    def _psa_end_future_allocations(self, end_date):
        """Hook for the forecasting addon: release planned work after ``end_date``."""
        return True
