from datetime import date, timedelta

from odoo.tests import new_test_user

from .common import HOLIDAY, MONDAY, ForecastCase, allocation_data


def day(offset):
    """A day of the test week: 0 = Monday."""
    return MONDAY + timedelta(days=offset)


class TestCapacity(ForecastCase):
    def capacity(self, employee, monday=MONDAY):
        self.env["psa.capacity.day"]._compute_period(monday, monday + timedelta(days=6), employee)
        rows = self.env["psa.capacity.day"].search([("employee_id", "=", employee.id)])
        return sum(rows.mapped("capacity_hours"))

    def test_capacity_subtracts_public_holidays_and_approved_leave(self):
        self.assertEqual(self.capacity(self.anna), 40.0, "standard schedule")
        self.add_public_holiday()
        self.assertEqual(self.capacity(self.anna), 32.0, "one public holiday on a weekday")
        self.add_leave(self.anna, day(3))
        self.assertEqual(self.capacity(self.anna), 24.0, "plus one day of approved leave")
        rows = self.env["psa.capacity.day"].search([("employee_id", "=", self.anna.id)])
        self.assertEqual(len(rows), 5, "a row per working day")
        self.assertEqual(rows.filtered(lambda r: r.date == HOLIDAY).holiday_hours, 8.0)
        self.assertEqual(rows.filtered(lambda r: r.date == day(3)).leave_hours, 8.0)
        self.assertEqual(set(rows.mapped("week_start")), {MONDAY})
        self.assertEqual(self.capacity(self.ben), 32.0, "Anna's leave is hers only")

    def test_leave_over_a_public_holiday_is_not_subtracted_twice(self):
        self.add_public_holiday()
        self.add_leave(self.anna, day(2), day(3))
        self.assertEqual(self.capacity(self.anna), 24.0)

    def test_recompute_replaces_the_period(self):
        self.assertEqual(self.capacity(self.anna), 40.0)
        self.add_public_holiday()
        wizard = self.env["psa.utilisation.compute.wizard"].create(
            {"date_from": day(2), "date_to": day(2)}
        )
        action = wizard.action_compute()
        self.assertEqual(action["res_model"], "psa.utilisation.report")
        rows = self.env["psa.capacity.day"].search([("employee_id", "=", self.anna.id)])
        self.assertEqual(len(rows), 5, "whole ISO week, no duplicates")
        self.assertEqual(sum(rows.mapped("capacity_hours")), 32.0)

    def test_another_companys_manager_recomputes_only_their_own_employees(self):
        company_b = self.env["res.company"].create({"name": "Capacity B Ltd"})
        manager_b = new_test_user(
            self.env,
            "capacity_manager_b",
            groups="psa_connector_base.group_connector_manager",
            company_id=company_b.id,
            company_ids=[(6, 0, company_b.ids)],
        )
        Capacity = self.env["psa.capacity.day"]
        Wizard = self.env["psa.utilisation.compute.wizard"].with_user(manager_b)
        # Everyone (empty selection), and Anna's id typed into the wizard.
        Wizard.create({"date_from": day(0), "date_to": day(4)}).action_compute()
        Wizard.create(
            {"date_from": day(0), "date_to": day(4), "employee_ids": [(6, 0, self.anna.ids)]}
        ).action_compute()
        self.assertFalse(Capacity.search([("employee_id", "=", self.anna.id)]))
        # The same wizard run in Anna's company computes her week.
        self.env["psa.utilisation.compute.wizard"].create(
            {"date_from": day(0), "date_to": day(4)}
        ).action_compute()
        self.assertEqual(len(Capacity.search([("employee_id", "=", self.anna.id)])), 5)


class TestUtilisation(ForecastCase):
    """Three people, two projects, one week with a public holiday (Wednesday).

    Capacity: Anna 24 (also on leave Thursday), Ben 32, Carla 32.
    Forecast (planned days skip the holiday, not personal leave):
      Anna P-1 6 h x 4 = 24; Ben P-1 4 h x 4 = 16 (tentative), P-2 4 h x 4 = 16;
      Carla P-2 8 h x 2 (Mon, Tue) = 16.
    Actual (billable): Anna P-1 8+8 (b) + 4 = 20 (16); Ben P-1 4+4+4 (b) = 12 (12),
      P-2 4+4 (b) = 8 (8); Carla P-2 8+8 (b) + 6 = 22 (16).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.project.allocated_hours = 50.0
        cls.project_2.allocated_hours = 100.0

    def setUp(self):
        super().setUp()
        self.add_public_holiday()
        self.add_leave(self.anna, day(3))
        for data in (
            allocation_data(
                id="A-1",
                employee_id="E-1",
                project_id="P-1",
                start_date="2026-11-16",
                end_date="2026-11-20",
                hours_per_day=6.0,
            ),
            allocation_data(
                id="A-2",
                employee_id="E-2",
                project_id="P-1",
                status="tentative",
                start_date="2026-11-09",
                end_date="2026-11-27",
                hours_per_day=4.0,
            ),
            allocation_data(
                id="A-3",
                employee_id="E-2",
                project_id="P-2",
                start_date="2026-11-16",
                end_date="2026-11-20",
                hours_per_day=4.0,
            ),
            allocation_data(
                id="A-4",
                employee_id="E-3",
                project_id="P-2",
                start_date="2026-11-16",
                end_date="2026-11-17",
                hours_per_day=8.0,
            ),
        ):
            event = self.apply("allocation.created", data)
            self.assertEqual(event.state, "done", event.result)
        for employee, project, offset, hours, billable in (
            (self.anna, self.project, 0, 8, True),
            (self.anna, self.project, 1, 8, True),
            (self.anna, self.project, 4, 4, False),
            (self.ben, self.project, 0, 4, True),
            (self.ben, self.project, 1, 4, True),
            (self.ben, self.project, 3, 4, True),
            (self.ben, self.project_2, 3, 4, True),
            (self.ben, self.project_2, 4, 4, True),
            (self.carla, self.project_2, 0, 8, True),
            (self.carla, self.project_2, 1, 8, True),
            (self.carla, self.project_2, 3, 6, False),
        ):
            self.add_time(employee, project, day(offset), hours, billable)
        self.env["psa.utilisation.compute.wizard"].create(
            {"date_from": MONDAY, "date_to": day(6)}
        ).action_compute()
        self.env.flush_all()

    def totals(self, *domain):
        return self.env["psa.utilisation.report"]._totals([("week_start", "=", MONDAY), *domain])

    def test_planned_hours_of_allocations(self):
        planned = {
            a.employee_id.name + "/" + a.project_id.name: a.planned_hours
            for a in self.env["psa.allocation"].search([])
        }
        # Ben on P-1 over three weeks: 5 + 4 + 5 working days at 4 h.
        self.assertEqual(
            planned,
            {
                "Anna/ERP rollout": 24.0,
                "Ben/ERP rollout": 56.0,
                "Ben/BI platform": 16.0,
                "Carla/BI platform": 16.0,
            },
        )

    def test_utilisation_per_employee(self):
        expected = {
            # capacity, forecast, actual, billable, utilisation, billable utilisation
            self.anna: (24.0, 24.0, 20.0, 16.0, 83.3333, 66.6667),
            self.ben: (32.0, 32.0, 20.0, 20.0, 62.5, 62.5),
            self.carla: (32.0, 16.0, 22.0, 16.0, 68.75, 50.0),
        }
        for employee, figures in expected.items():
            with self.subTest(employee=employee.name):
                totals = self.totals(("employee_id", "=", employee.id))
                self.assertEqual(
                    (
                        totals["capacity_hours"],
                        totals["forecast_hours"],
                        totals["actual_hours"],
                        totals["billable_hours"],
                        round(totals["utilisation_pct"], 4),
                        round(totals["billable_utilisation_pct"], 4),
                    ),
                    figures,
                )
                self.assertEqual(totals["variance_hours"], figures[2] - figures[1])
        team = self.totals(("employee_id", "in", self.employees.ids))
        self.assertEqual((team["capacity_hours"], team["actual_hours"]), (88.0, 62.0))
        self.assertAlmostEqual(team["utilisation_pct"], 100 * 62 / 88, places=4)
        self.assertAlmostEqual(team["billable_utilisation_pct"], 100 * 52 / 88, places=4)

    def test_variance_per_project_and_budget_flag(self):
        p1 = self.totals(("project_id", "=", self.project.id))
        p2 = self.totals(("project_id", "=", self.project_2.id))
        self.assertEqual(
            (p1["forecast_hours"], p1["actual_hours"], p1["variance_hours"]), (40.0, 32.0, -8.0)
        )
        self.assertEqual(
            (p2["forecast_hours"], p2["actual_hours"], p2["variance_hours"]), (32.0, 30.0, -2.0)
        )
        Report = self.env["psa.utilisation.report"]
        # P-1 plans 24 + 56 = 80 h against a 50 h budget; P-2 32 h against 100 h.
        flagged = Report.search([("project_over_budget", "=", True)]).project_id
        self.assertEqual(flagged, self.project)

    def test_pivot_groups_compute_ratios_from_sums(self):
        groups = self.env["psa.utilisation.report"].read_group(
            [("week_start", "=", MONDAY)],
            ["utilisation_pct", "capacity_hours:sum"],
            ["employee_id"],
        )
        by_employee = {g["employee_id"][0]: g for g in groups}
        self.assertAlmostEqual(by_employee[self.anna.id]["utilisation_pct"], 83.3333, places=3)
        self.assertEqual(by_employee[self.ben.id]["capacity_hours"], 32.0)
        self.assertEqual(by_employee[self.carla.id]["utilisation_pct"], 68.75)
        self.assertEqual(date.fromisoformat(str(MONDAY)), MONDAY)
