"""Secrets follow the connection they were issued for, rotate with the key, and never
show in clear: not in a wizard row, not in a repr, not sent to an address that changed."""

from cryptography.fernet import Fernet

from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tools import config

from ..adapters import AdapterConfig
from ..tools import crypto
from .common import API_TOKEN, WEBHOOK_SECRET, PsaTransactionCase


class TestSecretHandling(PsaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, "secret_manager", groups="psa_connector_base.group_connector_manager"
        )
        cls.settings_admin = new_test_user(
            cls.env,
            "secret_settings",
            groups="base.group_system,psa_connector_base.group_connector_manager",
        )
        cls.finance = new_test_user(
            cls.env, "secret_finance", groups="psa_connector_base.group_connector_user"
        )

    def stored(self, backend, column="api_token_encrypted"):
        self.env.flush_all()
        self.env.cr.execute(f"SELECT {column} FROM psa_backend WHERE id = %s", [backend.id])
        return self.env.cr.fetchone()[0]

    def use_keys(self, keys):
        self.patch(config, "options", {**config.options, "psa_connector_key": keys})

    # A token stays with its connection ---------------------------------------------

    def test_changing_the_address_adapter_or_account_clears_the_token(self):
        for values in (
            {"base_url": "https://elsewhere.example/api"},
            {"adapter": "harvest_v2"},
            {"vendor_account": "99999"},
        ):
            with self.subTest(values=values):
                self.backend.api_token = API_TOKEN
                self.assertTrue(self.stored(self.backend))
                self.backend.with_user(self.manager).write(values)
                self.assertIs(self.stored(self.backend), None)
                self.assertEqual(self.backend._get_secret("api_token"), "")
                self.assertFalse(self.backend.has_api_token)
                # The webhook secret signs what comes in; it is not sent anywhere.
                self.assertEqual(self.backend._get_secret("webhook_secret"), WEBHOOK_SECRET)
        self.assertIn("API token was cleared", self.backend.message_ids[0].body)

    def test_the_same_values_or_a_new_token_in_the_same_write_keep_a_token(self):
        backend = self.backend.with_user(self.manager)
        backend.write({"base_url": self.backend.base_url, "vendor_account": False})
        self.assertEqual(self.backend._get_secret("api_token"), API_TOKEN)
        backend.write({"base_url": "https://new.example/api", "api_token": "new-token"})
        self.assertEqual(self.backend._get_secret("api_token"), "new-token")
        # The masked value the form sends back is not a new token.
        backend.write({"base_url": "https://other.example/api", "api_token": "********"})
        self.assertEqual(self.backend._get_secret("api_token"), "")

    # Key rotation --------------------------------------------------------------------

    def test_rotation_reencrypts_every_secret_with_the_first_key(self):
        key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        self.use_keys(key_b)
        other = self._create_backend(code="rotate-2", active=False)
        other.api_token = "other-token"
        self.backend.write({"api_token": API_TOKEN, "webhook_secret": WEBHOOK_SECRET})
        wizard = self.env["psa.backend.setup.wizard"].create(
            {"name": "W", "code": "w-psa", "api_token": "wizard-token"}
        )
        self.use_keys(f"{key_a},{key_b}")
        result = (
            self.env["psa.backend"].with_user(self.settings_admin).action_rotate_encryption_key()
        )
        # 2 backends x 2 secrets + the wizard's token.
        self.assertIn("5 stored secret(s) re-encrypted", result["params"]["message"])
        self.use_keys(key_a)
        self.assertEqual(self.backend._get_secret("api_token"), API_TOKEN)
        self.assertEqual(self.backend._get_secret("webhook_secret"), WEBHOOK_SECRET)
        self.assertEqual(other._get_secret("api_token"), "other-token")
        self.assertEqual(crypto.decrypt(wizard.sudo().api_token_encrypted), "wizard-token")
        self.use_keys(key_b)
        with self.assertRaisesRegex(Exception, "cannot be decrypted"):
            self.backend._get_secret("api_token")

    def test_rotation_counts_what_no_key_decrypts_and_is_for_settings_only(self):
        key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        self.use_keys(key_b)
        self.backend.write({"api_token": API_TOKEN, "webhook_secret": WEBHOOK_SECRET})
        self.use_keys(key_a)
        # A Connector Manager of one company may not rewrite every company's secrets.
        for user in (self.finance, self.manager):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["psa.backend"].with_user(user).action_rotate_encryption_key()
        Backend = self.env["psa.backend"].with_user(self.settings_admin)
        message = Backend.action_rotate_encryption_key()
        self.assertIn("2 could not be decrypted", message["params"]["message"])
        self.assertIn("0 stored secret(s)", message["params"]["message"])

    # No clear secret at rest or in a repr --------------------------------------------

    def test_setup_wizard_rows_hold_no_clear_secret(self):
        wizard = self.env["psa.backend.setup.wizard"].create(
            {
                "name": "Wizard PSA",
                "code": "wiz-psa",
                "base_url": "https://127.0.0.1:9",
                "api_token": "wizard-clear-token",
            }
        )
        wizard.action_test_connection()  # nothing listens: the row keeps the token
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT row_to_json(w)::text FROM psa_backend_setup_wizard w WHERE id = %s",
            [wizard.id],
        )
        row = self.env.cr.fetchone()[0]
        self.assertNotIn("wizard-clear-token", row)
        self.assertEqual(crypto.decrypt(wizard.sudo().api_token_encrypted), "wizard-clear-token")
        # Created past the connection test, the signing secret shown once is encrypted too.
        wizard.write({"connection_ok": True})
        wizard.action_create_backend()
        secret = wizard.webhook_secret_once
        self.assertGreaterEqual(len(secret), 32)
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT row_to_json(w)::text FROM psa_backend_setup_wizard w WHERE id = %s",
            [wizard.id],
        )
        row = self.env.cr.fetchone()[0]
        self.assertNotIn(secret, row)
        self.assertNotIn("wizard-clear-token", row)
        self.assertEqual(wizard.backend_id._get_secret("api_token"), "wizard-clear-token")
        self.assertEqual(wizard.backend_id._get_secret("webhook_secret"), secret)
        wizard.action_to_rules()
        self.assertEqual((wizard.webhook_secret_once, wizard.api_token), (False, False))

    def test_the_adapter_configuration_never_shows_the_token(self):
        config_ = self.backend._adapter_config()
        self.assertEqual(config_.token, API_TOKEN)
        for shown in (repr(config_), str(config_), f"{config_}", repr([config_])):
            self.assertNotIn(API_TOKEN, shown)
        self.assertIn("***", repr(config_))
        bare = AdapterConfig(base_url="https://x.example", token="s3cr3t-value")
        self.assertNotIn("s3cr3t-value", repr(bare))
        adapter = self.backend._get_adapter()
        self.assertNotIn(API_TOKEN, repr(adapter) + repr(vars(adapter).get("config")))

    def test_a_connector_manager_uses_the_wizard_form(self):
        # The web client's own calls, as a Connector Manager (not in Settings): the
        # ciphertext columns are not theirs to read, the form must work without them.
        Wizard = self.env["psa.backend.setup.wizard"].with_user(self.manager)
        spec = {name: {} for name in ("name", "code", "base_url", "api_token", "connection_ok")}
        spec["webhook_secret_once"] = {}
        result = Wizard.onchange(
            {"name": "M", "code": "m-psa", "api_token": "typed-token"}, ["api_token"], spec
        )
        self.assertNotIn("typed-token", repr(result))
        wizard = Wizard.create(
            {"name": "M", "code": "m-psa", "base_url": "https://127.0.0.1:9", "api_token": "t0k"}
        )
        wizard.action_test_connection()
        [row] = wizard.web_read(spec)
        self.assertEqual(row["api_token"], "********")
        self.assertFalse(row["webhook_secret_once"])
        with self.assertRaises(AccessError):
            wizard.read(["api_token_encrypted"])
