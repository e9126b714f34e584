"""Allocations in and debounced actuals out, against the demo PSA over real HTTP."""

import json
from datetime import date

from odoo.addons.psa_connector_base.tests.common import (
    customer_data,
    project_data,
)

from .common import SuiteTransactionCase


class TestForecastSync(SuiteTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.simulator = cls.start_simulator()
        cls.backend = cls._create_backend(code="fc-psa")
        cls.forecast = cls._create_backend(
            code="fc-sim", kind="forecast", name="Forecasting tool", base_url=cls.simulator.url
        )
        for event_type, data in (
            ("customer.created", customer_data()),
            ("project.created", project_data()),
        ):
            envelope = {
                "id": f"fc-{event_type}",
                "type": event_type,
                "occurred_at": "2026-11-20T10:00:00Z",
                "data": data,
            }
            event, _new = cls.env["psa.event"]._receive_webhook(
                cls.backend, envelope, json.dumps(envelope).encode()
            )
            event._process_job()
        cls.project = cls.env["psa.binding"]._find_record(cls.backend, "project", "P-1")
        cls.project.allocated_hours = 100.0
        cls.employee = cls.env["hr.employee"].create({"name": "Anna Schmidt"})

    def setUp(self):
        super().setUp()
        self.simulator.reset()

    def log_time(self, hours, day=date(2026, 11, 16)):
        line = self.env["account.analytic.line"].create(
            {
                "name": "/",
                "employee_id": self.employee.id,
                "project_id": self.project.id,
                "date": day,
                "unit_amount": hours,
                "psa_billable": True,
            }
        )
        # What commit runs first: the precommit hook marking the project.
        self.env.cr.flush()
        return line

    def test_fifty_timesheet_changes_make_one_push(self):
        lines = [self.log_time(1.0) for _index in range(30)]
        for line in lines[:20]:
            line.unit_amount = 2.0
            self.env.cr.flush()
        self.assertEqual(self.env["queue.job"].search_count([("method_name", "=", "_push_job")]), 1)
        self.run_jobs(methods=("_push_job",))
        self.assertEqual(self.simulator.actuals_posts, 1)
        [row] = self.simulator.actuals
        self.assertEqual(
            (row["project_id"], row["week"], row["hours"], row["billable_hours"]),
            ("P-1", "2026-W47", 50.0, 50.0),
        )
        self.assertEqual(
            (row["budget_hours"], row["remaining_hours"], row["budget_consumed_pct"]),
            (100.0, 50.0, 50.0),
        )
        audit = self.env["psa.audit.log"].search(
            [("backend_id", "=", self.forecast.id), ("operation", "=", "push")]
        )
        self.assertEqual(len(audit), 1)

    def test_nightly_batch_heals_a_lost_push(self):
        self.forecast.max_attempts = 1
        self.simulator.add_fault(status=503, count=50, path_prefix="/api/v1/actuals")
        self.log_time(6.0)
        self.run_jobs(methods=("_push_job",))
        self.assertEqual(self.simulator.actuals, [])
        exception = self.env["psa.exception"].search(
            [("backend_id", "=", self.forecast.id), ("object_type", "=", "actuals")]
        )
        self.assertEqual((exception.category, exception.state), ("remote_error", "open"))

        self.simulator.clear_faults()
        self.env["psa.forecast.push"]._cron_push_all()
        self.run_jobs(methods=("_psa_push_all_actuals_job",))
        [row] = self.simulator.actuals
        self.assertEqual((row["project_id"], row["hours"]), ("P-1", 6.0))

    def test_allocations_are_pulled_from_the_forecasting_tool(self):
        allocation = self.simulator.create(
            "allocation",
            {
                "employee_id": "E-1",
                "employee_email": None,
                "project_id": "P-1",
                "start_date": "2026-11-16",
                "end_date": "2026-11-20",
                "hours_per_day": 4.0,
                "role": "Consultant",
                "status": "tentative",
            },
        )
        self.env["psa.binding"].create(
            {
                "backend_id": self.backend.id,
                "external_type": "employee",
                "external_id": "E-1",
                "res_model": "hr.employee",
                "res_id": self.employee.id,
            }
        )
        self.forecast.action_pull_now()
        self.run_jobs()
        record = self.bound("allocation", allocation["id"], backend=self.forecast)
        self.assertEqual((record.employee_id, record.project_id), (self.employee, self.project))
        self.assertEqual((record.status, record.planned_hours), ("tentative", 20.0))
