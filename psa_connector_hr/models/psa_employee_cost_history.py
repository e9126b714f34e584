from odoo import fields, models


class PsaEmployeeCostHistory(models.Model):
    """One hourly cost rate of an employee and the day it took effect.

    Rates are kept rather than overwritten so a margin report on past work uses the
    cost of that time (``hr.employee._psa_hourly_cost_at``).
    """

    _name = "psa.employee.cost.history"
    _description = "PSA Connector Employee Cost History"
    _order = "employee_id, effective_date desc, id desc"
    _rec_name = "employee_id"
    _inherit = ["psa.workflow.guard.mixin"]
    # Rates come from the HR system (written by the employee import under sudo): a rate
    # typed in here would change every margin of past work.
    _psa_workflow_fields = (
        "employee_id",
        "effective_date",
        "hourly_cost",
        "currency_id",
        "backend_id",
    )

    employee_id = fields.Many2one(
        "hr.employee", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one(related="employee_id.company_id", store=True, index=True)
    effective_date = fields.Date(required=True, readonly=True, help="First day the rate applies.")
    hourly_cost = fields.Monetary(required=True, readonly=True, currency_field="currency_id")
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    backend_id = fields.Many2one(
        "psa.backend", string="Source", ondelete="set null", readonly=True, index=True
    )

    _sql_constraints = [
        (
            "employee_date_unique",
            "unique(employee_id, effective_date)",
            "An employee has one hourly cost per effective date.",
        ),
    ]
