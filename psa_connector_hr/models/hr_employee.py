from odoo import _, api, fields, models
from odoo.tools import float_compare

from odoo.addons.psa_connector_base.tools.errors import PayloadInvalid

COST_CENTRE_PLAN = "psa_connector_hr.analytic_plan_cost_centres"

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
        # Billable unless the HR system says otherwise (several HR systems never send it).
        default=True,
        help="Set by the HR system: whether this person's time is sold to customers. "
        "Only billable people's capacity counts in billable utilisation, and the time of "
        "a non-billable person is pushed to the forecasting tool as non-billable.",
    )
    psa_cost_centre_id = fields.Many2one(
        "account.analytic.account",
        string="Cost centre",
        index=True,
        check_company=True,
        domain=lambda self: self._psa_cost_centre_domain(),
        help="Set by the HR system (cost_centre): an analytic account of the Cost centres "
        "plan. Timesheet lines of the employee carry it on that plan's column, so labour "
        "cost can be read per cost centre. Changing it does not move past lines.",
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

    def _psa_cost_rate_at(self, on_date):
        """The cost history row in force on ``on_date`` (before the first, the first)."""
        self.ensure_one()
        history = self.env["psa.employee.cost.history"]
        return history.search(
            [("employee_id", "=", self.id), ("effective_date", "<=", on_date)],
            order="effective_date desc, id desc",
            limit=1,
        ) or history.search(
            [("employee_id", "=", self.id)], order="effective_date asc, id asc", limit=1
        )

    def _psa_hourly_cost_at(self, on_date):
        """The hourly cost in force on ``on_date``, in the company currency, for margins
        of past work.

        Before the first known rate that rate applies: nothing better is known. A rate
        in another currency (the HR system pays some people in theirs) is converted at
        the rate of ``on_date``. Runs with the caller's rights, so only HR and finance
        get an answer.
        """
        self.ensure_one()
        rate = self._psa_cost_rate_at(on_date)
        if not rate:
            return self.hourly_cost
        company = self.company_id or self.env.company
        return rate.currency_id._convert(
            rate.hourly_cost, company.currency_id, company, on_date, round=False
        )

    def _psa_set_hourly_cost(self, amount, effective_date, currency, backend=None):
        """Record a rate from ``effective_date`` on; return whether anything changed.

        Rates are never overwritten for other dates, so margins of past periods keep
        the cost they were earned at. A second rate for the same date is a correction.
        The rate keeps its own currency (``currency``); margins convert it at the date
        of the work.
        """
        self.ensure_one()
        employee = self.sudo()
        history = self.env["psa.employee.cost.history"].sudo()
        rows = history.search([("employee_id", "=", self.id)])
        in_force = employee._psa_cost_rate_at(effective_date)
        if (
            in_force
            and in_force.currency_id == currency
            and float_compare(in_force.hourly_cost, amount, precision_digits=6) == 0
        ):
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

    def _psa_terminate(self, end_date, backend=None):
        """Archive leavers; never delete them: their timesheets and costs stay valid.

        With the HR ``backend`` that reported the leave, their Odoo user is deactivated
        as the backend says (``psa.leaver``): never, now, or once their last approved
        time is in.
        """
        leaving = self.filtered("active")
        if not leaving:
            return leaving
        leaving.write({"departure_date": end_date})
        # no_wizard: the departure wizard is for people, not for a sync job.
        leaving.with_context(no_wizard=True).action_archive()
        leaving._psa_end_future_allocations(end_date)
        if backend:
            self.env["psa.leaver"]._psa_register(leaving, end_date, backend)
        return leaving

    def _psa_rehire(self):
        """Back from the HR system as active: the same person, the same history."""
        self.with_context(no_wizard=True).action_unarchive()
        self.env["psa.leaver"]._psa_cancel(self)

    def _psa_end_future_allocations(self, end_date):
        """Hook for the forecasting addon: release planned work after ``end_date``."""
        return True

    # Role, skills and cost centre ---------------------------------------------------

    @api.model
    def _psa_cost_centre_plan(self):
        """The Cost centres plan (empty when its XML id is gone). Asked for every
        timesheet line written, a month-end batch being thousands of lines: the XML id
        is resolved through ir.model.data's cache, not ``env.ref``, whose ``exists()``
        costs a query per line (a third of a batch's time, `make bench` profile). An
        unlinked record takes its XML ids with it, so the id found is a live plan's."""
        plan_id = self.env["ir.model.data"]._xmlid_to_res_id(
            COST_CENTRE_PLAN, raise_if_not_found=False
        )
        return self.env["account.analytic.plan"].browse(plan_id or [])

    @api.model
    def _psa_cost_centre_domain(self):
        plan = self._psa_cost_centre_plan()
        return [("plan_id", "=", plan.id if plan else False)]

    def _psa_set_role(self, role):
        """The HR system's role is the employee's job position (``hr.job``) in their
        company, created on demand; the job title follows it."""
        self.ensure_one()
        if not role:
            if self.job_id:
                self.job_id = False
            return
        Job = self.env["hr.job"].with_context(active_test=False)
        company = self.company_id
        job = Job.search(
            [("name", "=ilike", role.strip()), ("company_id", "in", [company.id, False])],
            order="company_id, id",
            limit=1,
        ) or Job.create({"name": role.strip(), "company_id": company.id})
        if self.job_id != job:
            self.job_id = job

    def _psa_set_cost_centre(self, code, name=None):
        """The analytic account of code ``code`` in the Cost centres plan of the
        employee's company; an unknown code is created there (the HR system owns the
        list of cost centres)."""
        self.ensure_one()
        if not code:
            self.psa_cost_centre_id = False
            return
        plan = self._psa_cost_centre_plan()
        if not plan:
            raise PayloadInvalid(_("The Cost centres analytic plan was deleted; reinstall it."))
        company = self.company_id
        Account = self.env["account.analytic.account"].with_context(active_test=False)
        account = Account.search(
            [
                ("plan_id", "=", plan.id),
                ("code", "=", code),
                ("company_id", "in", [company.id, False]),
            ],
            order="company_id, id",
            limit=1,
        ) or Account.create(
            {"name": name or code, "code": code, "plan_id": plan.id, "company_id": company.id}
        )
        if self.psa_cost_centre_id != account:
            self.psa_cost_centre_id = account

    def _psa_set_skills(self, skills):
        """Make the employee's HR-system skills those of ``skills``.

        The HR system owns the skills it sent (``psa_from_hr``): they are updated, and
        removed when it stops sending them. Skills added by hand in Odoo are never
        touched, unless the HR system starts sending the same skill: then it owns it.
        Skill types, skills and levels are created as needed (they are shared by all
        companies in Odoo).
        """
        self.ensure_one()
        EmployeeSkill = self.env["hr.employee.skill"]
        wanted = {}
        for item in skills:
            skill_type = self._psa_skill_type(item["type"])
            skill = self._psa_skill(skill_type, item["name"])
            level = self._psa_skill_level(skill_type, item.get("level"), item.get("level_progress"))
            wanted[skill.id] = (skill_type, skill, level)
        current = self.employee_skill_ids
        for line in current:
            if line.skill_id.id in wanted:
                skill_type, _skill, level = wanted.pop(line.skill_id.id)
                values = {}
                if line.skill_level_id != level:
                    values["skill_level_id"] = level.id
                if not line.psa_from_hr:
                    values["psa_from_hr"] = True
                if values:
                    line.write(values)
            elif line.psa_from_hr:
                line.unlink()
        if wanted:
            EmployeeSkill.create(
                [
                    {
                        "employee_id": self.id,
                        "skill_type_id": skill_type.id,
                        "skill_id": skill.id,
                        "skill_level_id": level.id,
                        "psa_from_hr": True,
                    }
                    for skill_type, skill, level in wanted.values()
                ]
            )

    @api.model
    def _psa_skill_type(self, name):
        SkillType = self.env["hr.skill.type"].with_context(active_test=False)
        return SkillType.search([("name", "=ilike", name)], limit=1) or SkillType.create(
            {"name": name}
        )

    @api.model
    def _psa_skill(self, skill_type, name):
        Skill = self.env["hr.skill"]
        return Skill.search(
            [("skill_type_id", "=", skill_type.id), ("name", "=ilike", name)], limit=1
        ) or Skill.create({"name": name, "skill_type_id": skill_type.id})

    @api.model
    def _psa_skill_level(self, skill_type, name, progress=None):
        Level = self.env["hr.skill.level"]
        levels = Level.search([("skill_type_id", "=", skill_type.id)])
        if not name:
            # No level sent: the type's default, else its first, else a plain one.
            level = levels.filtered("default_level")[:1] or levels.sorted("level_progress")[:1]
            if level:
                return level
            name = _("Not rated")
        level = levels.filtered(lambda lv: lv.name.lower() == name.lower())[:1]
        if level:
            if progress is not None and level.level_progress != int(progress):
                level.level_progress = int(progress)
            return level
        return Level.create(
            {
                "name": name,
                "skill_type_id": skill_type.id,
                "level_progress": int(progress or 0),
            }
        )
