from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

from odoo import api, fields, models


class PsaCapacityDay(models.Model):
    """Working hours of one employee on one day, as the resource calendar gives them.

    The utilisation report is SQL; calendars, public holidays and time off are not.
    This table is the bridge: it is computed per period from Odoo's calendar API
    (one batched call per calendar, not a loop per day) and the report's view joins it.
    Only days the calendar has work on are stored.
    """

    _name = "psa.capacity.day"
    _description = "PSA Employee Capacity per Day"
    _order = "date, employee_id"
    _rec_name = "date"

    employee_id = fields.Many2one("hr.employee", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    date = fields.Date(required=True, index=True)
    week_start = fields.Date(
        required=True, index=True, help="Monday of the ISO week the day belongs to."
    )
    work_hours = fields.Float(help="Hours the working schedule has on this day.")
    holiday_hours = fields.Float(help="Working hours falling on a public holiday.")
    leave_hours = fields.Float(help="Working hours of approved time off (not public holidays).")
    capacity_hours = fields.Float(
        help="Hours the employee can work: schedule minus public holidays minus time off."
    )
    billable = fields.Boolean(
        default=True,
        index=True,
        help="The employee's time is sold to customers: their capacity counts in the "
        "billable utilisation (with the HR connector, the billable flag the HR system "
        "sends; without it, everyone is billable).",
    )

    _sql_constraints = [
        ("employee_date_unique", "unique(employee_id, date)", "One capacity row per day."),
    ]

    # Calendar ----------------------------------------------------------------------

    @api.model
    def _day_hours(self, employees, date_from, date_to):
        """{employee id: {date: (work, holiday, leave hours)}} for days with work.

        Public holidays are the calendar leaves without a resource; time off is the
        employee's own (hr_holidays writes one per validated leave). Leave falling on
        a public holiday counts as holiday only, so nothing is subtracted twice.
        """
        result = {employee.id: {} for employee in employees}
        # A day either side: intervals are in each resource's time zone.
        start = datetime.combine(date_from - timedelta(days=1), time.min, tzinfo=UTC)
        end = datetime.combine(date_to + timedelta(days=2), time.min, tzinfo=UTC)
        by_calendar = employees.grouped(
            lambda e: e.resource_calendar_id or e.company_id.resource_calendar_id
        )
        for calendar, group in by_calendar.items():
            if not calendar:
                continue
            resources = group.resource_id
            attendance = calendar._attendance_intervals_batch(start, end, resources)
            holidays = calendar._leave_intervals_batch(
                start,
                end,
                resources,
                domain=[("time_type", "=", "leave"), ("resource_id", "=", False)],
            )
            leaves = calendar._leave_intervals_batch(
                start,
                end,
                resources,
                domain=[("time_type", "=", "leave"), ("resource_id", "!=", False)],
            )
            for employee in group:
                rid = employee.resource_id.id
                work = attendance[rid]
                on_holiday = work & holidays[rid]
                on_leave = (work - holidays[rid]) & leaves[rid]
                days = defaultdict(lambda: [0.0, 0.0, 0.0])
                for index, intervals in enumerate((work, on_holiday, on_leave)):
                    for begin, stop, _records in intervals:
                        days[begin.date()][index] += (stop - begin).total_seconds() / 3600
                result[employee.id] = {
                    day: tuple(round(v, 4) for v in hours)
                    for day, hours in days.items()
                    if date_from <= day <= date_to and hours[0] > 0
                }
        return result

    @api.model
    def _planned_days(self, employees, date_from, date_to):
        """{employee id: set of dates} a forecast plans work on: schedule minus holidays.

        Personal time off is deliberately not subtracted: the plan belongs to the
        forecasting tool, and a plan over someone's leave should show as over-allocation.
        """
        return {
            employee_id: {
                day for day, (work, holiday, _leave) in days.items() if work - holiday > 1e-6
            }
            for employee_id, days in self._day_hours(employees, date_from, date_to).items()
        }

    # Period (re)computation -------------------------------------------------------------

    @api.model
    def _compute_period(self, date_from, date_to, employees=None):
        """Replace the capacity rows of ``employees`` (default: all active) in the period."""
        if employees is None:
            employees = self.env["hr.employee"].sudo().search([])
        employees = employees.sudo().filtered("resource_id")
        self = self.sudo()
        self.search(
            [
                ("employee_id", "in", employees.ids),
                ("date", ">=", date_from),
                ("date", "<=", date_to),
            ]
        ).unlink()
        rows = []
        billable_ids = self._billable_employee_ids(employees)
        for employee_id, days in self._day_hours(employees, date_from, date_to).items():
            company = employees.browse(employee_id).company_id
            for day, (work, holiday, leave) in sorted(days.items()):
                rows.append(
                    {
                        "employee_id": employee_id,
                        "company_id": company.id,
                        "date": day,
                        "week_start": day - timedelta(days=day.weekday()),
                        "work_hours": work,
                        "holiday_hours": holiday,
                        "leave_hours": leave,
                        "capacity_hours": max(0.0, work - holiday - leave),
                        "billable": employee_id in billable_ids,
                    }
                )
        return self.create(rows)

    @api.model
    def _billable_employee_ids(self, employees):
        """Ids of ``employees`` whose capacity is billable: all of them here;
        psa_connector_forecast_hr narrows it to the HR system's billable people."""
        return set(employees.ids)

    @api.model
    def _cron_compute_upcoming(self, weeks=8):
        """Keep last, current and the coming weeks fresh: time off keeps changing."""
        today = fields.Date.context_today(self)
        monday = today - timedelta(days=today.weekday())
        return self._compute_period(
            monday - timedelta(weeks=1), monday + timedelta(weeks=weeks, days=-1)
        )
