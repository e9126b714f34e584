import json
import uuid

from odoo.tests.common import TransactionCase

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

from ..adapters.base import ALLOW_INSECURE_HTTP, ALLOW_PRIVATE_TARGETS

WEBHOOK_SECRET = "whsec-test-3f9a"
API_TOKEN = "token-test-7c21"


def allow_local_targets(env):
    """The tests' simulators listen on http://127.0.0.1: let outbound calls reach them
    (system parameters an administrator sets; see adapters/base.check_target)."""
    params = env["ir.config_parameter"].sudo()
    params.set_param(ALLOW_PRIVATE_TARGETS, "True")
    params.set_param(ALLOW_INSECURE_HTTP, "True")


class PsaTestMixin:
    """Helpers shared by the suite's tests: a backend, events, and a job runner stand-in."""

    @classmethod
    def _create_backend(cls, **values):
        allow_local_targets(cls.env)
        # Tests apply what they receive at once: the burst hold-back of the webhook drains
        # (which a loop of receive() would trigger) has tests of its own.
        cls.env["ir.config_parameter"].sudo().set_param(
            "psa_connector_base.webhook_burst_rate", "0"
        )
        return cls.env["psa.backend"].create(
            {
                "name": "Test PSA",
                "code": values.pop("code", "test-psa"),
                "base_url": "http://127.0.0.1:9",
                "api_token": API_TOKEN,
                "webhook_secret": WEBHOOK_SECRET,
                "max_attempts": 3,
                **values,
            }
        )

    @classmethod
    def receive(cls, event_type, data, event_id=None, backend=None):
        """Store an event as the webhook controller does (without HTTP) and return it."""
        envelope = {
            "id": event_id or f"evt_{uuid.uuid4().hex}",
            "type": event_type,
            "occurred_at": "2026-11-20T10:00:00Z",
            "data": data,
        }
        raw = json.dumps(envelope).encode()
        event, _is_new = cls.env["psa.event"]._receive_webhook(
            backend or cls.backend, envelope, raw
        )
        return event

    @classmethod
    def apply(cls, event_type, data, event_id=None, backend=None):
        """Receive an event and run the processing jobs, as the job runner would."""
        event = cls.receive(event_type, data, event_id=event_id, backend=backend)
        cls.run_jobs(methods=("_process_job",))
        return event

    def exceptions(self, **domain):
        return self.env["psa.exception"].search(
            [("backend_id", "=", self.backend.id)] + [(k, "=", v) for k, v in domain.items()]
        )

    @classmethod
    def run_jobs(cls, methods=None, max_rounds=20):
        """Run pending jobs the way the job runner would, until none is left.

        Retryable failures are postponed and run again, up to the job's max retries.
        ``methods`` limits the run to jobs of those method names.
        """
        performed = []
        domain = [("state", "=", "pending")]
        if methods:
            # Accepted webhooks reach their processing jobs through a drain job.
            domain.append(("method_name", "in", [*methods, "_drain_webhooks"]))
        for _round in range(max_rounds):
            pending = cls.env["queue.job"].search(domain, order="priority, id")
            if not pending:
                return performed
            for record in pending:
                job = Job.load(cls.env, record.uuid)
                job.set_started()
                job.store()
                try:
                    job.perform()
                except RetryableJobError as err:
                    job.postpone(result=str(err), seconds=0)
                    job.set_pending(reset_retry=False)
                else:
                    job.set_done()
                job.store()
                if not methods or job.method_name in methods:
                    performed.append(job)
        raise AssertionError("jobs kept enqueueing jobs; giving up")

    @classmethod
    def bound(cls, external_type, external_id, backend=None):
        return cls.env["psa.binding"]._find_record(
            backend or cls.backend, external_type, external_id
        )


class PsaTransactionCase(PsaTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.backend = cls._create_backend()


def customer_data(**overrides):
    return {
        "id": "C-1",
        "name": "Northwind Logistics GmbH",
        "is_company": True,
        "vat": "DE811907980",
        "ref": "NW-001",
        "email": "ap@northwind.example",
        "street": "Hafenstrasse 1",
        "city": "Hamburg",
        "zip": "20457",
        "country_code": "DE",
        "updated_at": "2026-11-01T09:00:00Z",
        "version": 1,
        **overrides,
    }


def project_data(**overrides):
    return {
        "id": "P-1",
        "code": "NW-ERP-26",
        "name": "ERP rollout",
        "customer_id": "C-1",
        "state": "active",
        "date_start": "2026-10-01",
        "date_end": "2027-03-31",
        "updated_at": "2026-11-01T09:00:01Z",
        "version": 1,
        **overrides,
    }


def task_data(**overrides):
    return {
        "id": "T-1",
        "project_id": "P-1",
        "name": "Data migration",
        "state": "in_progress",
        "planned_hours": 40,
        "updated_at": "2026-11-01T09:00:02Z",
        "version": 1,
        **overrides,
    }
