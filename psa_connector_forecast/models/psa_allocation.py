from odoo import api, fields, models


class PsaAllocation(models.Model):
    """Planned work of one person on one project over a period (forecasting tool).

    The forecasting tool owns allocations: they arrive through the connector and are
    changed or removed there, not in Odoo.
    """

    _name = "psa.allocation"
    _description = "PSA Resource Allocation"
    _order = "date_from desc, employee_id, id"
    _check_company_auto = True
    _inherit = ["psa.workflow.guard.mixin"]
    # The forecasting tool owns allocations: the import (and a leaver's end date) writes them.
    _psa_workflow_fields = (
        "employee_id",
        "project_id",
        "company_id",
        "date_from",
        "date_to",
        "hours_per_day",
        "role",
        "status",
    )

    employee_id = fields.Many2one(
        "hr.employee", required=True, ondelete="cascade", index=True, check_company=True
    )
    project_id = fields.Many2one(
        "project.project", required=True, ondelete="cascade", index=True, check_company=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    department_id = fields.Many2one(related="employee_id.department_id", store=True)
    date_from = fields.Date(string="Start", required=True)
    date_to = fields.Date(string="End", required=True)
    hours_per_day = fields.Float(required=True)
    planned_hours = fields.Float(
        compute="_compute_planned_hours",
        store=True,
        help="Hours per day times the working days of the employee's schedule in the "
        "period; public holidays are not working days, personal time off is.",
    )
    role = fields.Char()
    status = fields.Selection(
        [("tentative", "Tentative"), ("confirmed", "Confirmed")],
        required=True,
        default="confirmed",
        index=True,
    )

    _sql_constraints = [
        (
            "dates_ordered",
            "CHECK(date_to >= date_from)",
            "An allocation cannot end before it starts.",
        ),
        ("hours_positive", "CHECK(hours_per_day >= 0)", "Hours per day cannot be negative."),
    ]

    @api.depends("employee_id", "project_id", "date_from", "date_to")
    def _compute_display_name(self):
        for allocation in self:
            allocation.display_name = (
                f"{allocation.employee_id.name or ''} - {allocation.project_id.name or ''} "
                f"({allocation.date_from or ''} to {allocation.date_to or ''})"
            )

    @api.depends("employee_id.resource_calendar_id", "date_from", "date_to", "hours_per_day")
    def _compute_planned_hours(self):
        Capacity = self.env["psa.capacity.day"]
        for allocation in self:
            if not (allocation.employee_id and allocation.date_from and allocation.date_to):
                allocation.planned_hours = 0.0
                continue
            days = Capacity._planned_days(
                allocation.employee_id, allocation.date_from, allocation.date_to
            )[allocation.employee_id.id]
            allocation.planned_hours = len(days) * allocation.hours_per_day
