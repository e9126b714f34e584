from datetime import timedelta

from odoo.addons.psa_connector_forecast.tests.common import MONDAY, ForecastCase


class TestBillability(ForecastCase):
    """One week without holidays (40 h each), 8 h of billable PSA time each on Monday.

    Carla is not billable (the HR system's flag): her capacity is not for sale and her
    time is not billable hours, in the utilisation report and in the pushed actuals.
    """

    def setUp(self):
        super().setUp()
        self.carla.psa_billable = False
        self.add_time(self.anna, self.project, MONDAY, 8.0)
        self.add_time(self.ben, self.project, MONDAY, 8.0)
        self.add_time(self.carla, self.project, MONDAY, 8.0)
        self.env["psa.capacity.day"]._compute_period(
            MONDAY, MONDAY + timedelta(days=6), self.employees
        )
        self.env.flush_all()

    def totals(self):
        return self.env["psa.utilisation.report"]._totals(
            [("week_start", "=", MONDAY), ("employee_id", "in", self.employees.ids)]
        )

    def pushed(self):
        Push = self.env["psa.forecast.push"]
        keys = {"backend_id": self.forecast.id, "project_id": self.project.id}
        state = Push.search([(k, "=", v) for k, v in keys.items()]) or Push.create(keys)
        [row] = state._rows("P-1", Push._weekly_actuals(self.project)[self.project.id])
        return row["hours"], row["billable_hours"]

    def test_only_billable_people_count_in_billable_utilisation_and_push(self):
        totals = self.totals()
        # Capacity 3 x 40 = 120, of which billable 2 x 40 = 80 (Anna, Ben).
        self.assertEqual((totals["capacity_hours"], totals["billable_capacity_hours"]), (120, 80))
        # Billable hours 8 + 8 = 16 (Carla's 8 are not); actual 24.
        self.assertEqual((totals["actual_hours"], totals["billable_hours"]), (24, 16))
        # Billable utilisation 16 / 80 = 20 % (not 16 / 120); utilisation 24 / 120 = 20 %.
        self.assertAlmostEqual(totals["billable_utilisation_pct"], 100 * 16 / 80)
        self.assertAlmostEqual(totals["utilisation_pct"], 100 * 24 / 120)
        # The forecasting tool gets 24 h of which 16 billable.
        self.assertEqual(self.pushed(), (24.0, 16.0))

        # Carla becomes billable: her computed capacity follows at once.
        self.carla.psa_billable = True
        self.env.flush_all()
        totals = self.totals()
        # 24 billable hours over 120 billable capacity = 20 %.
        self.assertEqual((totals["billable_capacity_hours"], totals["billable_hours"]), (120, 24))
        self.assertAlmostEqual(totals["billable_utilisation_pct"], 100 * 24 / 120)
        self.assertEqual(self.pushed(), (24.0, 24.0))

    def test_changing_the_flag_queues_a_push(self):
        self.end_transaction()
        # As if the push of Monday's time had run: nothing queued, nothing dirty.
        self.env["queue.job"].search([("method_name", "=", "_push_job")]).unlink()
        self.env.cr.execute("UPDATE psa_forecast_push SET dirty = FALSE, job_pending = FALSE")
        self.env["psa.forecast.push"].invalidate_model()
        self.ben.psa_billable = False
        self.end_transaction()
        self.assertEqual(len(self.env["queue.job"].search([("method_name", "=", "_push_job")])), 1)
