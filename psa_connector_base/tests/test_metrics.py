import hashlib
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from ..models.psa_metrics import TOKEN_HASH_PARAM
from .common import PsaTestMixin

URL = "/psa/metrics"


@tagged("post_install", "-at_install")
class TestMetricsEndpoint(PsaTestMixin, HttpCase):
    """GET /psa/metrics answers only the bearer of the token, in Prometheus text format,
    with values read from the database."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls._create_backend(code="metrics-psa")
        cls.manager = new_test_user(
            cls.env, "ops_metrics", groups="psa_connector_base.group_connector_manager"
        )
        cls.finance = new_test_user(
            cls.env, "finance_metrics", groups="psa_connector_base.group_connector_user"
        )
        action = cls.env["psa.metrics"].with_user(cls.manager).action_generate_metrics_token()
        # The token is shown once, at the end of the notification.
        cls.token = action["params"]["message"].rsplit(" ", 1)[-1]

    def scrape(self, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self.url_open(URL, headers=headers)

    def samples(self, response):
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }

    def families(self, response):
        return {
            family.name: family.type for family in text_string_to_metric_families(response.text)
        }

    def test_token_required(self):
        self.assertEqual(self.scrape().status_code, 401)
        self.assertEqual(self.scrape("not-the-token").status_code, 401)
        self.assertEqual(self.scrape("").status_code, 401)
        self.assertEqual(self.scrape(self.token).status_code, 200)
        # Only the token's hash is stored.
        stored = self.env["ir.config_parameter"].sudo().get_param(TOKEN_HASH_PARAM)
        self.assertEqual(stored, hashlib.sha256(self.token.encode()).hexdigest())
        self.assertNotIn(self.token, stored)

    def test_only_a_connector_manager_generates_the_token(self):
        with self.assertRaises(AccessError):
            self.env["psa.metrics"].with_user(self.finance).action_generate_metrics_token()
        self.assertEqual(self.scrape(self.token).status_code, 200, "the token is unchanged")
        # A new token replaces the old one.
        action = self.env["psa.metrics"].with_user(self.manager).action_generate_metrics_token()
        new_token = action["params"]["message"].rsplit(" ", 1)[-1]
        self.assertEqual(self.scrape(self.token).status_code, 401)
        self.assertEqual(self.scrape(new_token).status_code, 200)

    def exceptions(self, category, count, state="open"):
        return (
            self.env["psa.exception"]
            .sudo()
            .create(
                [
                    {
                        "name": f"{category} {n}",
                        "category": category,
                        "backend_id": self.backend.id,
                        "state": state,
                    }
                    for n in range(count)
                ]
            )
        )

    def events(self, object_type, states, source="pull"):
        return (
            self.env["psa.event"]
            .sudo()
            .create(
                [
                    {
                        "backend_id": self.backend.id,
                        "event_uid": f"metrics-{object_type}-{source}-{n}",
                        "event_type": f"{object_type}.updated",
                        "object_type": object_type,
                        "source": source,
                        "state": state,
                    }
                    for n, state in enumerate(states)
                ]
            )
        )

    def test_values_from_the_database(self):
        backend = ("backend", "metrics-psa")
        # Open exceptions by category: 3 invalid payloads open, 1 resolved; 2 missing
        # references, one being retried.
        self.exceptions("invalid_payload", 3)
        self.exceptions("invalid_payload", 1, state="resolved")
        self.exceptions("missing_reference", 1)
        self.exceptions("missing_reference", 1, state="retrying")
        # Events: 4 customers received, 2 applied, 1 failed, 1 pending.
        self.events("customer", ["done", "done", "failed", "pending"])
        # Webhooks processed 0.3 s, 3 s and 45 s after their acceptance.
        webhooks = self.events("project", ["done", "done", "done"], source="webhook")
        processed = fields.Datetime.now() - timedelta(seconds=10)
        for event, latency in zip(webhooks, (0.3, 3, 45), strict=True):
            self.env.cr.execute(
                "UPDATE psa_event SET create_date = %s, processed_date = %s WHERE id = %s",
                (processed - timedelta(seconds=latency), processed, event.id),
            )
        # Pulls: customers last pulled successfully two hours ago (database time, the
        # scrape's clock); projects never.
        watermarks = (
            self.env["psa.sync.watermark"]
            .sudo()
            .create(
                [
                    {"backend_id": self.backend.id, "object_type": "customer"},
                    {"backend_id": self.backend.id, "object_type": "project"},
                ]
            )
        )
        self.env.cr.execute(
            """UPDATE psa_sync_watermark
                  SET last_success = (now() AT TIME ZONE 'UTC') - interval '2 hours'
                WHERE id = %s""",
            (watermarks[0].id,),
        )
        # Queue: two jobs waiting on a channel of their own.
        for external_id in ("C-1", "C-2"):
            self.backend.sudo().with_delay(channel="root.psa.metricstest")._write_back_job(
                "customer", external_id, {}
            )
        self.env.invalidate_all()

        response = self.scrape(self.token)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))
        samples = self.samples(response)

        def value(name, **labels):
            return samples.get((name, tuple(sorted(labels.items()))))

        self.assertEqual(
            value(
                "psa_connector_open_exceptions", backend="metrics-psa", category="invalid_payload"
            ),
            3,
        )
        self.assertEqual(
            value(
                "psa_connector_open_exceptions", backend="metrics-psa", category="missing_reference"
            ),
            2,
        )
        labels = {backend[0]: backend[1], "object_type": "customer"}
        self.assertEqual(value("psa_connector_events_received_total", **labels), 4)
        self.assertEqual(value("psa_connector_events_applied_total", **labels), 2)
        self.assertEqual(value("psa_connector_events_failed_total", **labels), 1)

        latency = "psa_connector_webhook_latency_seconds"
        expected_buckets = {
            "0.5": 1,
            "1.0": 1,
            "2.5": 1,
            "5.0": 2,
            "10.0": 2,
            "30.0": 2,
            "60.0": 3,
            "300.0": 3,
            "900.0": 3,
            "+Inf": 3,
        }
        for bound, count in expected_buckets.items():
            self.assertEqual(
                value(f"{latency}_bucket", backend="metrics-psa", le=bound), count, bound
            )
        self.assertEqual(value(f"{latency}_count", backend="metrics-psa"), 3)
        self.assertAlmostEqual(value(f"{latency}_sum", backend="metrics-psa"), 48.3, places=3)

        self.assertEqual(
            value(
                "psa_connector_last_successful_pull_age_seconds",
                backend="metrics-psa",
                object_type="customer",
            ),
            7200,
        )
        self.assertIsNone(
            value(
                "psa_connector_last_successful_pull_age_seconds",
                backend="metrics-psa",
                object_type="project",
            )
        )
        self.assertEqual(
            value("psa_connector_queue_jobs", channel="root.psa.metricstest", state="pending"), 2
        )
        build = [
            sample
            for (name, _labels), sample in samples.items()
            if name == "psa_connector_build_info"
        ]
        self.assertEqual(build, [1])

        self.assertEqual(
            {
                name: kind
                for name, kind in self.families(response).items()
                if name.startswith("psa_connector_")
            },
            {
                "psa_connector_build_info": "gauge",
                "psa_connector_queue_jobs": "gauge",
                "psa_connector_events_received": "counter",
                "psa_connector_events_applied": "counter",
                "psa_connector_events_failed": "counter",
                "psa_connector_open_exceptions": "gauge",
                "psa_connector_webhook_latency_seconds": "histogram",
                "psa_connector_last_successful_pull_age_seconds": "gauge",
            },
        )
