"""Who the connector's work runs as: the whole demo PSA pulled over real HTTP (HR system,
PSA with time, contracts, expenses and purchases, forecasting tool) is queued and applied
by the company's integration user, never by the superuser."""

from odoo import SUPERUSER_ID

from .common import SuiteTransactionCase


class TestIntegrationIdentity(SuiteTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.simulator = cls.start_simulator()
        url = cls.simulator.url
        # The demo firm's HR system keeps costs in EUR (as in scripts/setup_demo_backend.py).
        cls.env.company.currency_id = cls.env.ref("base.EUR")
        cls.hr = cls._create_backend(code="id-hr", kind="hr", name="HR", base_url=url)
        cls.psa = cls._create_backend(code="id-psa", base_url=url, page_size=500)
        cls.forecast = cls._create_backend(
            code="id-forecast", kind="forecast", name="Forecast", base_url=url
        )
        cls.backends = cls.hr | cls.psa | cls.forecast
        cls.integration = cls.env.company.psa_integration_user_id
        # As the cron does (it runs as root): the jobs are the integration user's anyway.
        for backend in cls.backends:
            cls.env["psa.backend"].browse(backend.id)._cron_pull()
            cls.run_jobs()

    def test_every_job_of_the_pull_was_queued_as_the_integration_user(self):
        jobs = self.env["queue.job"].search([("model_name", "in", ("psa.backend", "psa.event"))])
        self.assertGreater(len(jobs), 20)
        self.assertEqual(jobs.user_id, self.integration)
        self.assertEqual(set(jobs.mapped("state")), {"done"})
        self.assertNotIn(SUPERUSER_ID, jobs.user_id.ids)

    def test_what_the_pull_created_was_created_by_the_integration_user(self):
        bindings = self.env["psa.binding"].search(
            [("backend_id", "in", self.backends.ids), ("res_id", "!=", False)]
        )
        self.assertEqual(bindings.create_uid, self.integration)
        created = {}
        for binding in bindings:
            record = self.env[binding.res_model].browse(binding.res_id).exists()
            if record:
                created.setdefault(binding.res_model, set()).add(record.create_uid.id)
        for model in (
            "res.partner",
            "project.project",
            "project.task",
            "account.analytic.line",
            "sale.order",
            "hr.expense",
            "purchase.order",
            "hr.department",
            "hr.employee",
            "hr.leave",
            "psa.allocation",
        ):
            with self.subTest(model=model):
                self.assertEqual(created.get(model), {self.integration.id}, sorted(created))
        events = self.env["psa.event"].search([("backend_id", "in", self.backends.ids)])
        failed = events.filtered(lambda e: e.state == "failed")
        self.assertFalse(failed, failed.mapped("result"))
        self.assertEqual(events.exception_ids.create_uid - self.integration, self.env["res.users"])
