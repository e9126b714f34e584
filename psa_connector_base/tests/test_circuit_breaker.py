import uuid
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace
from unittest.mock import patch

import requests
from psycopg2 import OperationalError

from odoo import SUPERUSER_ID, sql_db

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

from ..adapters.base import HttpAdapter
from ..models.psa_backend_breaker import PROBE_POLL_SECONDS, CircuitBreaker, backoff_seconds
from ..tools.errors import BreakerOpen, RemoteServiceError
from ..tools.jobs import is_concurrency_error
from .common import PsaTransactionCase


@contextmanager
def raises(test, error_type):
    """assertRaises without Odoo's savepoint, whose rollback would undo what the
    breaker's transactions (the test's own in test mode) wrote."""
    caught = SimpleNamespace(exception=None)
    try:
        yield caught
    except error_type as error:
        caught.exception = error
    else:
        test.fail(f"{error_type.__name__} not raised")


def _response(status, body=b"[]", retry_after=None):
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.url = "http://127.0.0.1:9/api/customers"
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


class TestCircuitBreaker(PsaTransactionCase):
    """psa.backend.breaker: one breaker per backend, in the database, asked by every call
    a job makes."""

    def setUp(self):
        super().setUp()
        # The breaker's own transactions are the test's: every state is seen, nothing kept.
        self.registry.enter_test_mode(self.env.cr)
        self.addCleanup(self.registry.leave_test_mode)
        self.answers = []
        self.sent = []

        def send(adapter, method, url, params=None, json=None, headers=None):
            self.sent.append((method, url))
            return self.answers.pop(0)

        patcher = patch.object(HttpAdapter, "_send", send)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.job_backend = self.backend.with_context(job_uuid="a-job")

    def adapter(self):
        return self.job_backend._get_adapter()

    def breaker(self):
        return self.env["psa.backend.breaker"].search([("backend_id", "=", self.backend.id)])

    def now(self):
        self.env.cr.execute("SELECT now() AT TIME ZONE 'UTC'")
        return self.env.cr.fetchone()[0]

    def fail_once(self, status=503, retry_after=None):
        self.answers.append(_response(status, b'{"error": "down"}', retry_after))
        with raises(self, RemoteServiceError) as caught:
            self.adapter().request("GET", "/api/customers")
        self.assertNotIsInstance(caught.exception, BreakerOpen)
        self.env.invalidate_all()
        return caught.exception

    def expire(self):
        """The open time has passed (as it would, seconds later)."""
        self.env.cr.execute(
            "UPDATE psa_backend_breaker SET open_until = now() AT TIME ZONE 'UTC' - "
            "interval '1 second' WHERE backend_id = %s",
            [self.backend.id],
        )
        self.env.invalidate_all()

    def test_a_5xx_opens_it_for_ten_seconds_and_no_call_goes_out_while_open(self):
        self.assertEqual(self.backend.breaker_state, "closed")
        error = self.fail_once(503)
        self.assertEqual(len(self.sent), 1, "tried once: no quick retries under the breaker")
        breaker = self.breaker()
        self.assertEqual((breaker.state, breaker.failures), ("open", 1))
        self.assertEqual(breaker.open_until, self.now() + timedelta(seconds=10))
        self.assertIn("503", breaker.last_error)
        self.assertEqual(error.retry_after, 10, "the job comes back when a probe may go out")
        self.assertEqual(self.backend.breaker_state, "open")
        # Another job's call, any worker: held back without a call.
        with raises(self, BreakerOpen) as held:
            self.adapter().request("GET", "/api/projects")
        self.assertEqual(held.exception.retry_after, 10)
        self.assertEqual(len(self.sent), 1)
        audit = self.env["psa.audit.log"].search(
            [("backend_id", "=", self.backend.id), ("operation", "=", "breaker")]
        )
        self.assertEqual(audit.mapped("outcome"), ["failed"])
        self.assertIn("opened for 10 s", audit.message)

    def test_a_429_honours_a_longer_retry_after(self):
        self.fail_once(429, retry_after=45)
        self.assertEqual(self.breaker().open_until, self.now() + timedelta(seconds=45))
        # A shorter Retry-After than the breaker's own time does not shorten it.
        self.breaker().unlink()
        self.fail_once(429, retry_after=1)
        self.assertEqual(self.breaker().open_until, self.now() + timedelta(seconds=10))

    def test_one_probe_after_the_open_time_and_its_success_closes_it(self):
        self.fail_once(503)
        self.expire()
        first, second = self.adapter(), self.adapter()
        self.answers += [_response(200, b'[{"id": 1}]'), _response(200, b"[]")]
        self.assertEqual(first.request("GET", "/api/customers"), [{"id": 1}])
        # While the probe runs (claimed, not answered yet) nobody else calls.
        self.env.cr.execute(
            "UPDATE psa_backend_breaker SET state = 'half_open', probe_until = "
            "now() AT TIME ZONE 'UTC' + interval '13 seconds' WHERE backend_id = %s",
            [self.backend.id],
        )
        with raises(self, BreakerOpen) as held:
            second.request("GET", "/api/customers")
        self.assertEqual(held.exception.retry_after, PROBE_POLL_SECONDS)
        self.assertEqual(len(self.sent), 2)

    def test_the_probe_claim_is_given_once(self):
        self.fail_once(503)
        self.expire()
        a, b = CircuitBreaker(self.job_backend), CircuitBreaker(self.job_backend)
        a.before_call()
        self.assertTrue(a.probing)
        with raises(self, BreakerOpen):
            b.before_call()
        self.env.invalidate_all()
        self.assertEqual(self.breaker().state, "half_open")
        a.succeeded()
        self.env.invalidate_all()
        breaker = self.breaker()
        self.assertEqual((breaker.state, breaker.failures), ("closed", 0))
        self.assertFalse(breaker.open_until)
        # Closed: every call goes out again.
        b.before_call()
        self.assertFalse(b.probing)
        audit = self.env["psa.audit.log"].search(
            [("backend_id", "=", self.backend.id), ("operation", "=", "breaker")],
            order="id",
        )
        self.assertEqual(audit.mapped("outcome"), ["failed", "success"])

    def test_a_failed_probe_reopens_it_with_a_growing_backoff_up_to_the_cap(self):
        self.backend.breaker_max_open_seconds = 60
        opened = []
        for _probe in range(6):
            self.fail_once(502)
            breaker = self.breaker()
            opened.append((breaker.open_until - self.now()).total_seconds())
            self.expire()
        self.assertEqual(opened, [10, 20, 40, 60, 60, 60])
        self.assertEqual(self.breaker().failures, 6)
        self.assertEqual(len(self.sent), 6, "one call per open period")
        # The default cap keeps the wait at 10 s: the first call after an outage ends
        # goes out within 10 s of it.
        self.assertEqual(backoff_seconds(9, 10, 10), 10)
        # Retry-After wins when longer, up to the backend's longest honoured wait.
        self.assertEqual(backoff_seconds(1, 10, 60, retry_after=45, max_wait=60), 45)
        self.assertEqual(backoff_seconds(1, 10, 60, retry_after=3600, max_wait=60), 60)

    def test_an_answer_that_is_no_outage_does_not_open_it(self):
        self.answers.append(_response(404, b'{"error": "no"}'))
        with raises(self, RemoteServiceError) as caught:
            self.adapter().request("GET", "/api/nothing")
        self.assertFalse(caught.exception.retryable)
        self.assertFalse(self.breaker())
        self.assertEqual(self.backend.breaker_state, "closed")

    def test_outside_a_job_calls_keep_the_quick_retries_and_are_not_held(self):
        self.fail_once(503)
        self.answers += [_response(503), _response(200, b"[]")]
        with patch.object(HttpAdapter, "_sleep"):
            self.assertEqual(self.backend._get_adapter().request("GET", "/api/customers"), [])
        self.assertEqual(len(self.sent), 3)

    def test_a_deferred_job_does_not_call_and_does_not_use_up_an_attempt(self):
        self.fail_once(503)
        job = self.backend._as_integration_user().with_delay(max_retries=2)._pull_job("customer")
        job = Job.load(self.env, job.uuid)
        for _run in range(5):
            with raises(self, RetryableJobError) as deferred:
                job.perform()
            self.assertTrue(deferred.exception.ignore_retry)
            self.assertEqual(deferred.exception.seconds, 10)
        self.assertEqual(job.retry, 0, "five deferrals, no attempt used")
        self.assertEqual(len(self.sent), 1)
        self.assertFalse(self.exceptions())

    def test_pulls_are_queued_as_the_integration_user_with_room_for_an_outage(self):
        self.backend.action_pull_now()
        jobs = self.env["queue.job"].search(
            [("model_name", "=", "psa.backend"), ("method_name", "=", "_pull_job")]
        )
        self.assertEqual(len(jobs), len(self.backend._pull_object_types()))
        self.assertGreaterEqual(len(jobs), 4, "customer, contact, project, task at least")
        self.assertEqual(jobs.user_id, self.backend.company_id.psa_integration_user_id)
        self.assertEqual(set(jobs.mapped("max_retries")), {30})

    def test_the_failure_a_job_meets_is_recorded_as_the_integration_user(self):
        integration = self.backend.company_id.psa_integration_user_id
        self.answers.append(_response(503, b'{"error": "down"}'))
        job = self.backend._as_integration_user().with_delay()._pull_job("customer")
        self.assertEqual(job.db_record().user_id, integration)
        self.assertNotEqual(job.db_record().user_id.id, SUPERUSER_ID)
        job = Job.load(self.env, job.uuid)
        with raises(self, RetryableJobError) as retried:
            job.perform()
        self.assertFalse(retried.exception.ignore_retry, "a call that failed is an attempt")
        self.assertEqual(retried.exception.seconds, 10)
        self.assertEqual(job.retry, 1)
        self.env.invalidate_all()
        self.assertEqual(self.breaker().write_uid, integration)
        audit = self.env["psa.audit.log"].search(
            [("backend_id", "=", self.backend.id), ("operation", "=", "breaker")]
        )
        self.assertEqual(audit.create_uid, integration)
        visible = self.env["psa.backend.breaker"].with_user(integration)
        self.assertEqual(visible.search_count([("backend_id", "=", self.backend.id)]), 1)


class TestProbeClaimAcrossWorkers(PsaTransactionCase):
    """Two workers' transactions, on connections of their own, race for the probe."""

    def setUp(self):
        super().setUp()
        self.connection = sql_db.db_connect(self.env.cr.dbname)
        with self.connection.cursor() as cr:
            # A committed backend of its own: the columns other addons require, at their
            # defaults.
            cr.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = "
                "'psa_backend' AND is_nullable = 'NO' AND column_default IS NULL"
            )
            required = [name for (name,) in cr.fetchall()]
            values = {
                "name": "Race",
                "code": f"race-{uuid.uuid4().hex[:12]}",
                "kind": "psa",
                "adapter": "canonical_v1",
                "company_id": self.backend.company_id.id,
                "active": True,
            }
            values.update(
                self.env["psa.backend"].default_get([n for n in required if n not in values])
            )
            columns = list(values)
            cr.execute(
                f"INSERT INTO psa_backend ({', '.join(columns)}) "
                f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id",
                [values[c] for c in columns],
            )
            self.backend_id = cr.fetchone()[0]
            cr.execute(
                "INSERT INTO psa_backend_breaker (backend_id, company_id, state, failures, "
                "open_until) VALUES (%s, %s, 'open', 1, "
                "now() AT TIME ZONE 'UTC' - interval '1 second')",
                [self.backend_id, self.backend.company_id.id],
            )
        self.addCleanup(self._drop_backend)
        self.breaker = CircuitBreaker(self.backend)
        self.breaker.backend_id = self.backend_id

    def _drop_backend(self):
        with self.connection.cursor() as cr:
            cr.execute("DELETE FROM psa_backend WHERE id = %s", [self.backend_id])

    def test_of_two_workers_seeing_the_open_time_pass_one_probes(self):
        with self.connection.cursor() as first, self.connection.cursor() as second:
            # Both saw the breaker open with its time passed...
            self.assertEqual(self.breaker._row(second)[0], "open")
            self.assertEqual(self.breaker._row(first)[0], "open")
            # ...the first claims the probe and commits...
            self.assertEqual(self.breaker._claim(first), (True, True, 0))
            first.commit()
            # ...the second's claim fails to serialize (the worker then waits).
            with raises(self, OperationalError) as lost:
                self.breaker._claim(second)
            self.assertTrue(is_concurrency_error(lost.exception))
            second.rollback()
            # Asked again, it sees the probe running and waits without calling.
            self.assertEqual(self.breaker._claim(second), (False, False, PROBE_POLL_SECONDS))
        with self.connection.cursor() as cr:
            cr.execute(
                "SELECT state, probe_until > now() AT TIME ZONE 'UTC' FROM psa_backend_breaker "
                "WHERE backend_id = %s",
                [self.backend_id],
            )
            self.assertEqual(cr.fetchone(), ("half_open", True))
