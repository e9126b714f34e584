"""The pull path, write-back and remote faults, against the demo PSA over real HTTP."""

from odoo import sql_db

from odoo.addons.psa_connector_base.tests.common import API_TOKEN
from odoo.addons.psa_connector_base.tests.test_circuit_breaker import raises
from odoo.addons.psa_connector_base.tools.errors import RemoteServiceError
from odoo.addons.queue_job.exception import RetryableJobError

from .common import SuiteTransactionCase


class TestPullSync(SuiteTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.simulator = cls.start_simulator()
        cls.backend = cls._create_backend(code="sim-pull", base_url=cls.simulator.url)

    def setUp(self):
        super().setUp()
        self.simulator.reset()

    def pull(self):
        self.backend.action_pull_now()
        return self.run_jobs()

    def odoo_count(self, object_type):
        return self.env["psa.binding"].search_count(
            [("backend_id", "=", self.backend.id), ("external_type", "=", object_type)]
        )

    def test_pull_brings_every_seeded_record_once_and_writes_ids_back(self):
        self.pull()
        for object_type in ("customer", "contact", "project", "task"):
            with self.subTest(object_type=object_type):
                self.assertEqual(
                    self.odoo_count(object_type), len(self.simulator.records(object_type))
                )
        project = self.simulator.records("project")[0]
        odoo_project = self.bound("project", project["id"])
        self.assertEqual(odoo_project.name, project["name"])
        self.assertEqual(odoo_project.account_id.code, project["code"])
        refs = self.simulator.get("project", project["id"])["external_refs"]["odoo"]
        self.assertEqual(refs["id"], odoo_project.id)
        self.assertEqual(refs["model"], "project.project")
        self.assertEqual(refs["analytic_account_code"], project["code"])
        # A second pull of unchanged data stores no new event and changes nothing.
        events_before = self.env["psa.event"].search_count([])
        self.pull()
        self.assertEqual(self.env["psa.event"].search_count([]), events_before)

    def test_a_pull_of_a_kind_already_running_is_left_to_it(self):
        # Another transaction (the pull job already running) holds this kind's pull lock:
        # a connection of its own (the registry's cursors are the test's under tests).
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            other.execute(
                "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
                [self.backend.id, "pull:customer"],
            )
            self.assertTrue(other.fetchone()[0])
            result = self.backend._pull_job("customer")
            self.assertEqual(result, "another pull of customer is running: left to it")
            self.assertFalse(self.env["psa.event"].search([("backend_id", "=", self.backend.id)]))
            self.assertFalse(self.simulator.requests_log, "nothing was asked of the PSA")
            # Another kind is not held back.
            self.assertIn("new contact record(s) queued", self.backend._pull_job("contact"))
        # Once that pull is over, the next one runs.
        self.assertIn("new customer record(s) queued", self.backend._pull_job("customer"))
        self.assertTrue(
            self.env["psa.event"].search_count(
                [("backend_id", "=", self.backend.id), ("object_type", "=", "customer")]
            )
        )

    def test_webhook_and_pull_of_the_same_change_converge(self):
        self.pull()
        project = self.simulator.records("project")[0]
        updated = self.simulator.update("project", project["id"], {"name": "ERP rollout, phase 2"})
        # The webhook path: the same record as an envelope.
        self.receive("project.updated", updated)
        self.run_jobs()
        odoo_project = self.bound("project", project["id"])
        self.assertEqual(odoo_project.name, "ERP rollout, phase 2")
        write_date = odoo_project.write_date
        # The pull path sees the same version and leaves it alone.
        self.pull()
        pulled = self.env["psa.event"].search(
            [("source", "=", "pull"), ("external_id", "=", project["id"])], order="id desc", limit=1
        )
        self.assertEqual(pulled.state, "skipped")
        self.assertEqual(odoo_project.write_date, write_date)

    def test_adapter_honours_retry_after_and_retries_5xx(self):
        self.simulator.add_fault(status=429, count=1, retry_after=1)
        self.simulator.add_fault(status=503, count=1)
        adapter = self.backend._get_adapter()
        pages = list(adapter.iter_changes("customer"))
        self.assertEqual(sum(len(p) for p in pages), len(self.simulator.records("customer")))
        self.assertEqual(adapter.attempts_made, 3)
        statuses = [
            status for _m, path, status in self.simulator.requests_log if "customers" in path
        ]
        self.assertEqual(statuses, [429, 503, 200])

    def test_adapter_gives_up_after_its_limit_and_raises_an_exception_record(self):
        self.simulator.add_fault(status=503, count=50)
        # Test mode: anything written through a separate cursor would show up here too.
        self.registry.enter_test_mode(self.env.cr)
        self.addCleanup(self.registry.leave_test_mode)
        # Outside a job (a person's call), the adapter's quick retries, up to its limit.
        with self.assertRaises(RemoteServiceError) as caught:
            list(self.backend._get_adapter().iter_changes("customer"))
        self.assertIn("gave up after 3 attempts", caught.exception.message)
        self.assertEqual(len(self.simulator.requests_log), self.backend.max_attempts)
        # Inside a job that will run again, one call: the failure opens the backend's
        # circuit breaker and is handed back to queue_job.
        job_env = self.backend.with_context(job_uuid="not-a-stored-job-uuid")
        self.env["queue.job"].flush_model()
        with raises(self, RetryableJobError):
            self.backend.with_context(job_uuid=self._stored_job_uuid())._pull_job("customer")
        self.assertEqual(len(self.simulator.requests_log), self.backend.max_attempts + 1)
        # While it is open, even the last attempt makes no call and waits.
        with raises(self, RetryableJobError) as deferred:
            job_env._pull_job("customer")
        self.assertTrue(deferred.exception.ignore_retry)
        self.assertEqual(len(self.simulator.requests_log), self.backend.max_attempts + 1)
        # When it may be probed, the last attempt's failure is an exception record.
        self.env.cr.execute(
            "UPDATE psa_backend_breaker SET open_until = now() AT TIME ZONE 'UTC' - "
            "interval '1 second' WHERE backend_id = %s",
            [self.backend.id],
        )
        result = job_env._pull_job("customer")
        exception = self.env["psa.exception"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(exception.mapped("category"), ["remote_error"], result)
        self.assertIn("503", exception.name)
        self.assertIn("gave up after 1 attempts", exception.name)
        self.assertEqual(len(self.simulator.requests_log), self.backend.max_attempts + 2)

    def _stored_job_uuid(self):
        job = self.backend.with_delay(max_retries=5)._pull_job("customer")
        return job.uuid

    def test_test_connection_says_what_is_wrong(self):
        def notify():
            return self.backend.action_test_connection()["params"]

        ok = notify()
        self.assertEqual(ok["type"], "success")
        self.assertIn("Demo PSA", ok["message"])
        self.backend.api_token = "wrong-token"
        self.assertIn("refused the credentials", notify()["message"])
        self.backend.write({"api_token": API_TOKEN, "base_url": self.simulator.url + "/nowhere"})
        self.assertIn("404", notify()["message"])
        self.backend.base_url = "http://127.0.0.1:9"
        refused = notify()
        self.assertEqual(refused["type"], "danger")
        self.assertIn("cannot be reached", refused["message"])
        self.assertEqual(self.backend.last_connection_message, refused["message"])

    def test_an_unexpected_job_failure_still_leaves_an_exception_record(self):
        # The remote answers 200 with a body of the wrong shape: not a remote error,
        # not a payload problem of one record, but a job that cannot go on.
        self.simulator.add_fault(status=200, count=1, body="[1, 2, 3]")
        # The record is written through a cursor of its own; in test mode that cursor
        # shares this test's transaction. Not assertRaises: Odoo's rolls back to a
        # savepoint, which would hide the record.
        self.registry.enter_test_mode(self.env.cr)
        self.addCleanup(self.registry.leave_test_mode)
        try:
            self.backend._pull_job("customer")
        except AttributeError:
            pass
        else:
            self.fail("the job should have failed")
        exception = self.env["psa.exception"].search(
            [("backend_id", "=", self.backend.id), ("category", "=", "job_failure")]
        )
        self.assertEqual(len(exception), 1)
        self.assertIn("pull of customer failed unexpectedly", exception.name)
        self.assertIn("Traceback", exception.technical_detail)
