from datetime import date

from odoo.addons.psa_connector_forecast.tests.common import ForecastCase, allocation_data


class TestLeaverAllocations(ForecastCase):
    def test_termination_ends_future_allocations(self):
        self.apply(
            "allocation.created",
            allocation_data(id="A-1", start_date="2026-11-02", end_date="2026-11-27"),
        )
        self.apply(
            "allocation.created",
            allocation_data(id="A-2", start_date="2026-12-01", end_date="2026-12-18"),
        )
        self.apply(
            "allocation.created",
            allocation_data(id="A-3", start_date="2026-10-05", end_date="2026-10-30"),
        )
        ongoing, later, past = (
            self.allocation("A-1"),
            self.allocation("A-2"),
            self.allocation("A-3"),
        )

        self.anna._psa_terminate(date(2026, 11, 13))

        self.assertFalse(self.anna.active)
        self.assertEqual(ongoing.date_to, date(2026, 11, 13), "cut at the last working day")
        self.assertEqual(ongoing.planned_hours, 60.0)
        self.assertFalse(later.exists(), "starts after the end: removed")
        self.assertEqual(past.date_to, date(2026, 10, 30), "already over: untouched")
