from unittest.mock import patch

from odoo.addons.queue_job.exception import RetryableJobError

from ..tools.errors import RemoteServiceError
from .common import PsaTransactionCase


def _fail(error):
    def call(adapter):
        raise error

    return call


class TestOutboundCalls(PsaTransactionCase):
    """psa.backend._run_remote: the one shape of every push and pull."""

    def audit_entries(self):
        return self.env["psa.audit.log"].search(
            [("backend_id", "=", self.backend.id), ("direction", "=", "out")]
        )

    def exceptions(self):
        return self.env["psa.exception"].search([("backend_id", "=", self.backend.id)])

    def test_success_returns_the_result_and_logs_the_audit_entry(self):
        result, failure = self.backend._run_remote(
            "push of things",
            lambda adapter: ["X-1", "X-2"],
            object_type="thing",
            external_id="T-1",
            audit=lambda unknown: {"operation": "push", "values": {"unknown": unknown}},
        )
        self.assertEqual((result, failure), (["X-1", "X-2"], None))
        entry = self.audit_entries()
        self.assertEqual(
            (entry.operation, entry.object_type, entry.external_id, entry.outcome),
            ("push", "thing", "T-1", "success"),
        )
        self.assertIn("X-2", entry.values)
        self.assertFalse(self.exceptions())

    def test_a_remote_error_is_retried_while_attempts_remain(self):
        noted = []
        with (
            patch.object(type(self.env["psa.event"]), "_is_last_attempt", return_value=False),
            self.assertRaises(RetryableJobError),
        ):
            self.backend._run_remote(
                "push of things",
                _fail(RemoteServiceError("busy", status=503, retry_after=7)),
                on_remote_error=noted.append,
                audit={"operation": "push"},
            )
        self.assertEqual([err.message for err in noted], ["busy"])
        self.assertFalse(self.exceptions())
        self.assertFalse(self.audit_entries())

    def test_on_the_last_attempt_a_remote_error_becomes_an_exception(self):
        result, failure = self.backend._run_remote(
            "push of things",
            _fail(RemoteServiceError("down", status=503)),
            object_type="thing",
            external_id="T-1",
            audit={"operation": "push"},
        )
        exception = self.exceptions()
        self.assertEqual(result, None)
        self.assertEqual(failure, f"exception #{exception.id}: down")
        self.assertEqual(
            (exception.name, exception.category, exception.object_type, exception.external_id),
            ("The push of things failed: down", "remote_error", "thing", "T-1"),
        )
        self.assertFalse(self.audit_entries(), "nothing was sent: no audit entry")

    def test_a_refusal_is_not_retried_and_may_name_its_exception(self):
        with patch.object(type(self.env["psa.event"]), "_is_last_attempt", return_value=False):
            _result, failure = self.backend._run_remote(
                "push of things",
                _fail(RemoteServiceError("bad request", status=400, retryable=False)),
                message=lambda err: f"Things not sent: {err.message}",
            )
        self.assertTrue(failure)
        self.assertEqual(self.exceptions().name, "Things not sent: bad request")
