from datetime import date

from .common import ForecastCase, allocation_data


class TestAllocations(ForecastCase):
    def test_allocation_created_updated_and_removed(self):
        event = self.apply("allocation.created", allocation_data())
        self.assertEqual(event.state, "done", event.result)
        allocation = self.allocation()
        self.assertEqual(allocation._name, "psa.allocation")
        self.assertEqual(
            (allocation.employee_id, allocation.project_id, allocation.company_id),
            (self.anna, self.project, self.company),
            "employee bound on the PSA backend, project bound on the PSA backend",
        )
        self.assertEqual(
            (allocation.date_from, allocation.date_to), (date(2026, 11, 2), date(2026, 11, 13))
        )
        self.assertEqual((allocation.role, allocation.status), ("ERP Developer", "confirmed"))
        # Two weeks of five working days at 6 h.
        self.assertEqual(allocation.planned_hours, 60.0)

        self.apply(
            "allocation.updated",
            allocation_data(
                end_date="2026-11-06", hours_per_day=4.0, status="tentative", version=2
            ),
        )
        self.assertEqual(self.allocation(), allocation, "updated in place")
        self.assertEqual((allocation.status, allocation.planned_hours), ("tentative", 20.0))

        self.apply(
            "allocation.deleted", {"id": "A-1", "version": 3, "updated_at": "2026-11-03T09:00:00Z"}
        )
        self.assertFalse(allocation.exists())
        log = self.env["psa.audit.log"].search(
            [("backend_id", "=", self.forecast.id), ("object_type", "=", "allocation")],
            order="id",
        )
        self.assertEqual(log.mapped("operation"), ["create", "update", "delete"])
        # A late replay of the creation does not bring it back.
        late = self.apply("allocation.updated", allocation_data(version=2), event_id="late")
        self.assertEqual(late.state, "skipped")
        self.assertFalse(self.allocation())

    def test_public_holidays_are_not_planned_days(self):
        self.add_public_holiday(date(2026, 11, 4))
        self.apply("allocation.created", allocation_data())
        self.assertEqual(self.allocation().planned_hours, 54.0)

    def test_allocation_waits_for_its_project_from_the_psa(self):
        event = self.apply("allocation.created", allocation_data(project_id="P-3"))
        self.assertEqual(event.state, "waiting")
        self.assertFalse(self.allocation())
        # The project reaches Odoo through the PSA backend: the allocation follows.
        self.apply("project.created", {**self._project_3()}, backend=self.backend)
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(self.allocation().project_id, self.bound("project", "P-3"))

    def _project_3(self):
        from odoo.addons.psa_connector_base.tests.common import project_data

        return project_data(id="P-3", code="NW-OPS-26", name="Operations")

    def test_employee_found_by_work_email_and_invalid_periods_refused(self):
        event = self.apply(
            "allocation.created",
            allocation_data(
                id="A-2", employee_id="E-77", employee_email="Carla@consultancy.example"
            ),
        )
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(self.allocation("A-2").employee_id, self.carla)
        bad = self.apply("allocation.created", allocation_data(id="A-3", end_date="2026-10-01"))
        self.assertEqual(bad.state, "failed")
        self.assertEqual(bad.exception_ids.category, "invalid_payload")
        bad_status = self.apply("allocation.created", allocation_data(id="A-4", status="maybe"))
        self.assertEqual(bad_status.exception_ids.category, "invalid_payload")

    def test_pull_includes_allocations_for_forecast_backends_only(self):
        self.assertEqual(self.forecast._pull_object_types(), ["allocation"])
        self.assertNotIn("allocation", self.backend._pull_object_types())
