import json
from datetime import date

from odoo.addons.psa_connector_base.tests.common import project_data

from .common import MONDAY, ForecastCase


class TestActualsDebounce(ForecastCase):
    def push_jobs(self):
        return self.env["queue.job"].search([("method_name", "=", "_push_job")])

    def state(self, project=None):
        return self.env["psa.forecast.push"].search(
            [
                ("backend_id", "=", self.forecast.id),
                ("project_id", "=", (project or self.project).id),
            ]
        )

    def test_fifty_changes_make_one_queued_push(self):
        line = self.add_time(self.anna, self.project, MONDAY, 1.0)
        self.end_transaction()
        for hours in range(2, 27):
            # Each change in a transaction of its own, as users and imports make them.
            line.unit_amount = hours
            self.end_transaction()
        for _index in range(24):
            self.add_time(self.ben, self.project, MONDAY, 0.5)
            self.end_transaction()
        self.assertEqual(len(self.push_jobs()), 1)
        state = self.state()
        self.assertTrue(state.dirty and state.job_pending)
        self.assertEqual(
            self.push_jobs().identity_key,
            f"psa.forecast.push:{self.forecast.id}:{self.project.id}",
        )
        # Another project is another push; a change that is no actual is none.
        self.add_time(self.carla, self.project_2, MONDAY, 2.0)
        line.name = "Renamed"
        self.end_transaction()
        self.assertEqual(len(self.push_jobs()), 2)

    def test_changes_after_the_job_started_queue_the_next_push(self):
        self.forecast.max_attempts = 1
        line = self.add_time(self.anna, self.project, MONDAY, 4.0)
        self.end_transaction()
        job = self.push_jobs()
        # The job runs (and fails against the unreachable URL on every attempt): it
        # cleared the flags before reading, so the next change queues a new push.
        self.run_jobs(methods=("_push_job",))
        self.assertEqual(job.state, "done")
        self.assertFalse(self.state().dirty or self.state().job_pending)
        exception = self.env["psa.exception"].search(
            [("backend_id", "=", self.forecast.id), ("object_type", "=", "actuals")]
        )
        self.assertEqual(exception.category, "remote_error")
        line.unit_amount = 5.0
        self.end_transaction()
        self.assertEqual(len(self.push_jobs().filtered(lambda j: j.state == "pending")), 1)

    def test_deleting_lines_marks_the_project(self):
        line = self.add_time(self.anna, self.project, MONDAY, 4.0)
        self.env["psa.forecast.push"].search([]).unlink()
        self.env["queue.job"].search([("method_name", "=", "_push_job")]).unlink()
        self.env.cr.precommit.clear()
        line.unlink()
        self.end_transaction()
        self.assertTrue(self.state().dirty)

    def test_no_forecast_backend_no_push(self):
        self.forecast.active = False
        self.add_time(self.anna, self.project, MONDAY, 4.0)
        self.end_transaction()
        self.assertFalse(self.push_jobs())


class TestActualsRows(ForecastCase):
    def test_rows_per_iso_week_with_budget_position(self):
        self.project.allocated_hours = 50.0
        self.add_time(self.anna, self.project, date(2026, 11, 16), 8.0)
        self.add_time(self.ben, self.project, date(2026, 11, 22), 4.0, billable=False)
        late = self.add_time(self.anna, self.project, date(2026, 11, 23), 6.0)
        Push = self.env["psa.forecast.push"]
        state = Push.create({"backend_id": self.forecast.id, "project_id": self.project.id})
        actuals = Push._weekly_actuals(self.project)[self.project.id]
        rows = state._rows("P-1", actuals)
        self.assertEqual(
            [(r["week"], r["week_start"], r["hours"], r["billable_hours"]) for r in rows],
            [("2026-W47", "2026-11-16", 12.0, 8.0), ("2026-W48", "2026-11-23", 6.0, 6.0)],
        )
        self.assertEqual(
            {(r["effective_hours"], r["remaining_hours"], r["budget_consumed_pct"]) for r in rows},
            {(18.0, 32.0, 36.0)},
        )
        # A week that lost its lines is sent again with zero hours.
        state.last_pushed_weeks = json.dumps([r["week_start"] for r in rows])
        late.unlink()
        rows = state._rows("P-1", Push._weekly_actuals(self.project)[self.project.id])
        self.assertEqual(
            [(r["week"], r["hours"]) for r in rows], [("2026-W47", 12.0), ("2026-W48", 0.0)]
        )
        self.assertEqual(rows[0]["remaining_hours"], 38.0)

    def test_project_without_budget_and_external_ids(self):
        self.add_time(self.anna, self.project_2, MONDAY, 3.0)
        Push = self.env["psa.forecast.push"]
        state = Push.create({"backend_id": self.forecast.id, "project_id": self.project_2.id})
        row = state._rows("P-2", Push._weekly_actuals(self.project_2)[self.project_2.id])[0]
        self.assertEqual(
            (row["budget_hours"], row["remaining_hours"], row["budget_consumed_pct"]),
            (None, None, None),
        )
        local = self.env["project.project"].create({"name": "Internal, not in the PSA"})
        ids = Push._project_external_ids(self.forecast, self.project | self.project_2 | local)
        self.assertEqual(ids, {self.project.id: "P-1", self.project_2.id: "P-2"})
        # The nightly batch covers the projects the forecasting tool can know.
        states = Push._states_for_all(self.forecast)
        self.assertEqual(states.project_id, self.project | self.project_2)


class TestImportedBudget(ForecastCase):
    def test_the_psa_budget_drives_budget_consumption(self):
        # Asserts the event applied.
        self._apply_cls(self.backend, "project.updated", project_data(version=2, budget_hours=40.0))
        self.assertEqual(self.project.allocated_hours, 40.0)
        self.add_time(self.anna, self.project, MONDAY, 8.0)
        self.add_time(self.ben, self.project, MONDAY, 2.0)
        Push = self.env["psa.forecast.push"]
        state = Push.create({"backend_id": self.forecast.id, "project_id": self.project.id})
        [row] = state._rows("P-1", Push._weekly_actuals(self.project)[self.project.id])
        # 10 h of a 40 h budget: 30 h remaining, 25 % consumed.
        self.assertEqual(
            (row["budget_hours"], row["effective_hours"], row["remaining_hours"]),
            (40.0, 10.0, 40.0 - 10.0),
        )
        self.assertEqual(row["budget_consumed_pct"], 100.0 * 10.0 / 40.0)
