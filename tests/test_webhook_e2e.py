"""The demo PSA sends real signed webhooks to Odoo's HTTP server; changes land once."""

from odoo.tools import config

from odoo.addons.psa_connector_base.tests.common import WEBHOOK_SECRET

from .common import SuiteHttpCase


class TestDemoPsaWebhooks(SuiteHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.simulator = cls.start_simulator(
            webhook_url=f"http://127.0.0.1:{config['http_port']}/psa/webhook/sim-hook",
            webhook_secret=WEBHOOK_SECRET,
            seed=False,
        )
        cls.backend = cls._create_backend(code="sim-hook", base_url=cls.simulator.url)

    def test_changes_made_in_the_psa_flow_into_odoo_once(self):
        sim = self.simulator
        sim.create(
            "customer",
            {
                "id": "C-9",
                "name": "Tailspin Toys",
                "is_company": True,
                "vat": "FR40303265045",
                "country_code": "FR",
            },
        )
        sim.create(
            "project",
            {
                "id": "P-9",
                "code": "TT-WEB",
                "name": "Web shop",
                "customer_id": "C-9",
                "state": "approved",
            },
        )
        sim.create("task", {"id": "T-9", "project_id": "P-9", "name": "Checkout", "state": "open"})
        sim.update("project", "P-9", {"name": "Web shop relaunch", "state": "active"})
        deliveries = sim.wait_for_deliveries(4)
        self.assertEqual([d["status"] for d in deliveries], [202, 202, 202, 202])
        self.run_jobs()

        project = self.bound("project", "P-9")
        self.assertEqual(project.name, "Web shop relaunch")
        self.assertEqual(project.partner_id, self.bound("customer", "C-9"))
        self.assertEqual(self.bound("task", "T-9").project_id, project)
        self.assertEqual(project.account_id.code, "TT-WEB")
        self.assertEqual(sim.get("project", "P-9")["external_refs"]["odoo"]["id"], project.id)
        self.assertEqual(
            self.env["psa.event"].search_count([("backend_id", "=", self.backend.id)]), 4
        )
        self.assertFalse(self.env["psa.exception"].search([("backend_id", "=", self.backend.id)]))
