"""An administrator connects the demo PSA with the guided set-up, in a real browser."""

import json
import shutil

from odoo.addons.psa_connector_base.tools import crypto

from .common import SuiteHttpCase


class TestBackendSetupTour(SuiteHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.simulator = cls.start_simulator(token="sim-setup-token")

    def test_admin_sets_up_a_backend_against_the_simulator(self):
        self.assertTrue(
            shutil.which("chromium") or shutil.which("google-chrome"),
            "Chromium is needed for the browser tours (scripts/test.sh installs it).",
        )
        params = {"baseUrl": self.simulator.url, "token": "sim-setup-token"}
        code = (
            f"window.psaTourParams = {json.dumps(params)};"
            " odoo.startTour('psa_backend_setup', {stepDelay: 0, keepWatchBrowser: false,"
            " debug: false, startUrl: '/odoo/action-psa_connector_base.action_psa_dashboard',"
            " delayToCheckUndeterminisms: 0})"
        )
        self.start_tour(
            "/odoo/action-psa_connector_base.action_psa_dashboard",
            "psa_backend_setup",
            login="admin",
            code=code,
        )

        backend = self.env["psa.backend"].search([("code", "=", "sim-psa")])
        self.assertEqual(
            (backend.name, backend.kind, backend.adapter, backend.base_url),
            ("Simulated PSA", "psa", "canonical_v1", self.simulator.url),
        )
        self.assertEqual(backend._get_secret("api_token"), "sim-setup-token")
        secret = crypto.decrypt(backend.sudo().webhook_secret_encrypted)
        self.assertGreaterEqual(len(secret), 32)
        self.assertIn("Connected to", backend.last_connection_message)
        self.assertTrue(backend.ownership_rule_ids)
        self.assertTrue(backend.state_mapping_ids)
        # The secret was shown once: no wizard row keeps it, nor the token, in clear.
        wizard = self.env["psa.backend.setup.wizard"].search([("backend_id", "=", backend.id)])
        self.assertEqual(len(wizard), 1)
        self.assertEqual((wizard.webhook_secret_once, wizard.api_token), (False, False))
        # Of three tests, the address without a scheme never left Odoo; the wrong token
        # was refused, the right one accepted.
        account_calls = [
            status for _method, path, status in self.simulator.requests_log if "account" in path
        ]
        self.assertEqual(account_calls, [401, 200])
