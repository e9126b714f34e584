from odoo import api, fields, models, tools
from odoo.tools import SQL

# Ratios cannot be summed: read_group recomputes them from the summed hours.
RATIOS = {
    "utilisation_pct": ("actual_hours", "capacity_hours"),
    # Over the capacity of billable people only: a non-billable person's hours are not
    # for sale, so they do not dilute the ratio.
    "billable_utilisation_pct": ("billable_hours", "billable_capacity_hours"),
    "forecast_utilisation_pct": ("forecast_hours", "capacity_hours"),
}


class PsaUtilisationReport(models.Model):
    """Capacity, forecast and actual hours per employee, project and ISO week.

    Two kinds of rows, so that no figure is counted twice when grouping: one capacity
    row per employee and week (no project), and one row per employee, project and week
    with forecast and actual hours. Capacity and forecast need the capacity table of
    the period (*Recompute utilisation*); actual hours are always live.
    """

    _name = "psa.utilisation.report"
    _description = "PSA Utilisation and Forecast Variance"
    _auto = False
    _order = "week_start desc, employee_id, project_id"
    _rec_name = "employee_id"

    employee_id = fields.Many2one("hr.employee", readonly=True)
    department_id = fields.Many2one("hr.department", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    project_id = fields.Many2one("project.project", readonly=True)
    week_start = fields.Date(string="Week", readonly=True, help="Monday of the ISO week.")
    capacity_hours = fields.Float(string="Capacity", readonly=True)
    billable_capacity_hours = fields.Float(
        string="Billable capacity",
        readonly=True,
        help="Capacity of billable employees only: the base of billable utilisation.",
    )
    forecast_hours = fields.Float(string="Forecast", readonly=True)
    confirmed_forecast_hours = fields.Float(string="Forecast (confirmed)", readonly=True)
    actual_hours = fields.Float(string="Actual", readonly=True)
    billable_hours = fields.Float(string="Billable", readonly=True)
    variance_hours = fields.Float(
        string="Variance", readonly=True, help="Actual minus forecast hours."
    )
    utilisation_pct = fields.Float(string="Utilisation (%)", readonly=True, aggregator="avg")
    billable_utilisation_pct = fields.Float(
        string="Billable utilisation (%)", readonly=True, aggregator="avg"
    )
    forecast_utilisation_pct = fields.Float(
        string="Forecast utilisation (%)", readonly=True, aggregator="avg"
    )
    project_over_budget = fields.Boolean(
        readonly=True, help="The project's allocations plan more hours than its budget."
    )

    def init(self):
        self._create_view(self._billable_line_sql())

    @api.model
    def _billable_line_sql(self):
        """When a timesheet line ``l`` is billable hours: its own flag here;
        psa_connector_forecast_hr adds the employee's billability (as in the push)."""
        return SQL("l.psa_billable")

    @api.model
    def _create_view(self, billable_line):
        tools.drop_view_if_exists(self.env.cr, self._table)
        query = SQL(
            """
            CREATE OR REPLACE VIEW %s AS (
            WITH actual AS (
                SELECT l.employee_id, l.project_id,
                       date_trunc('week', l.date)::date AS week_start,
                       SUM(l.unit_amount) AS hours,
                       COALESCE(SUM(l.unit_amount) FILTER (WHERE %s), 0) AS billable
                  FROM account_analytic_line l
                 WHERE l.project_id IS NOT NULL AND l.employee_id IS NOT NULL
                   -- Time off booked as timesheets is already out of the capacity.
                   AND l.holiday_id IS NULL AND l.global_leave_id IS NULL
                 GROUP BY 1, 2, 3
            ), forecast AS (
                -- Planned days are the schedule's days that are not public holidays,
                -- as for psa_allocation.planned_hours.
                SELECT a.employee_id, a.project_id, d.week_start,
                       SUM(a.hours_per_day) AS hours,
                       COALESCE(SUM(a.hours_per_day)
                                FILTER (WHERE a.status = 'confirmed'), 0) AS confirmed
                  FROM psa_allocation a
                  JOIN psa_capacity_day d ON d.employee_id = a.employee_id
                                         AND d.date BETWEEN a.date_from AND a.date_to
                                         AND d.work_hours > d.holiday_hours
                 GROUP BY 1, 2, 3
            ), capacity AS (
                SELECT employee_id, week_start, SUM(capacity_hours) AS hours,
                       COALESCE(SUM(capacity_hours) FILTER (WHERE billable), 0) AS billable
                  FROM psa_capacity_day
                 GROUP BY 1, 2
            ), over_budget AS (
                SELECT p.id AS project_id
                  FROM project_project p
                  JOIN psa_allocation a ON a.project_id = p.id
                 WHERE p.allocated_hours > 0
                 GROUP BY p.id, p.allocated_hours
                HAVING SUM(a.planned_hours) > p.allocated_hours
            ), project_rows AS (
                SELECT COALESCE(f.employee_id, ac.employee_id) AS employee_id,
                       COALESCE(f.project_id, ac.project_id) AS project_id,
                       COALESCE(f.week_start, ac.week_start) AS week_start,
                       0.0 AS capacity_hours,
                       0.0 AS billable_capacity_hours,
                       COALESCE(f.hours, 0) AS forecast_hours,
                       COALESCE(f.confirmed, 0) AS confirmed_forecast_hours,
                       COALESCE(ac.hours, 0) AS actual_hours,
                       COALESCE(ac.billable, 0) AS billable_hours
                  FROM forecast f
                  FULL JOIN actual ac ON ac.employee_id = f.employee_id
                                     AND ac.project_id = f.project_id
                                     AND ac.week_start = f.week_start
            ), all_rows AS (
                SELECT * FROM project_rows
                UNION ALL
                SELECT employee_id, NULL, week_start, hours, billable, 0, 0, 0, 0
                  FROM capacity
            )
            SELECT row_number() OVER (
                       ORDER BY r.week_start, r.employee_id, r.project_id NULLS FIRST
                   ) AS id,
                   r.employee_id, e.department_id, e.company_id, r.project_id, r.week_start,
                   r.capacity_hours, r.billable_capacity_hours, r.forecast_hours, r.confirmed_forecast_hours,
                   r.actual_hours, r.billable_hours,
                   r.actual_hours - r.forecast_hours AS variance_hours,
                   0.0 AS utilisation_pct,
                   0.0 AS billable_utilisation_pct,
                   0.0 AS forecast_utilisation_pct,
                   ob.project_id IS NOT NULL AS project_over_budget
              FROM all_rows r
              JOIN hr_employee e ON e.id = r.employee_id
              LEFT JOIN over_budget ob ON ob.project_id = r.project_id
            )
            """,
            SQL.identifier(self._table),
            billable_line,
        )
        self.env.cr.execute(query)

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        """Ratios of each group from its summed hours (an average of ratios is wrong)."""
        wanted = [r for r in RATIOS if any(f.split(":")[0] == r for f in fields)]
        extra = {name for r in wanted for name in RATIOS[r]}
        fields = [f for f in fields if f.split(":")[0] not in extra] + [
            f"{name}:sum" for name in sorted(extra)
        ]
        groups = super().read_group(
            domain, fields, groupby, offset=offset, limit=limit, orderby=orderby, lazy=lazy
        )
        for group in groups:
            for ratio in wanted:
                numerator, denominator = RATIOS[ratio]
                base = group.get(denominator) or 0.0
                group[ratio] = 100.0 * (group.get(numerator) or 0.0) / base if base else 0.0
        return groups

    @api.model
    def _totals(self, domain):
        """{field: value} over ``domain``, ratios included (for tests and callers)."""
        names = [
            "capacity_hours",
            "billable_capacity_hours",
            "forecast_hours",
            "actual_hours",
            "billable_hours",
            "variance_hours",
            *RATIOS,
        ]
        groups = self.read_group(domain, names, [], lazy=False)
        return {name: round(groups[0].get(name) or 0.0, 4) for name in names} if groups else {}
