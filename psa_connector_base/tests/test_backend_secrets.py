from unittest.mock import patch

from cryptography.fernet import MultiFernet

from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tools import config

from ..tools import crypto
from .common import API_TOKEN, WEBHOOK_SECRET, PsaTransactionCase


class TestBackendSecrets(PsaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finance = new_test_user(
            cls.env,
            "finance",
            groups="psa_connector_base.group_connector_user,base.group_allow_export",
        )
        cls.manager = new_test_user(
            cls.env, "connector_manager", groups="psa_connector_base.group_connector_manager"
        )

    def test_secrets_are_encrypted_at_rest(self):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT api_token_encrypted, webhook_secret_encrypted FROM psa_backend WHERE id = %s",
            [self.backend.id],
        )
        token_cipher, secret_cipher = self.env.cr.fetchone()
        for cipher, clear in ((token_cipher, API_TOKEN), (secret_cipher, WEBHOOK_SECRET)):
            self.assertTrue(cipher.startswith("fernet:"))
            self.assertNotIn(clear, cipher)
            self.assertEqual(crypto.decrypt(cipher), clear)
        self.env.cr.execute(
            "SELECT row_to_json(b)::text FROM psa_backend b WHERE id = %s", [self.backend.id]
        )
        whole_row = self.env.cr.fetchone()[0]
        self.assertNotIn(API_TOKEN, whole_row)
        self.assertNotIn(WEBHOOK_SECRET, whole_row)

    def test_finance_user_cannot_read_secrets_by_any_route(self):
        backend = self.backend.with_user(self.finance)
        for field in (
            "api_token",
            "webhook_secret",
            "api_token_encrypted",
            "webhook_secret_encrypted",
        ):
            with self.subTest(field=field), self.assertRaises(AccessError):
                backend.read([field])
            with self.subTest(export=field), self.assertRaises(AccessError):
                backend.export_data([field])
        # What the web client and RPC read by default holds no secret at all.
        rows = backend.search_read([("id", "=", self.backend.id)])
        self.assertTrue(rows)
        flat = repr(rows)
        self.assertNotIn("api_token", rows[0])
        self.assertNotIn(API_TOKEN, flat)
        self.assertNotIn(WEBHOOK_SECRET, flat)
        self.assertNotIn("fernet:", flat)
        self.assertNotIn("api_token", backend.fields_get())

    def test_manager_sets_but_never_reads_back_the_clear_value(self):
        backend = self.backend.with_user(self.manager)
        backend.api_token = "rotated-token"
        self.assertEqual(backend.read(["api_token"])[0]["api_token"], "********")
        with self.assertRaises(AccessError):
            backend.read(["api_token_encrypted"])
        self.assertEqual(self.backend._get_secret("api_token"), "rotated-token")

    def test_a_secret_is_decrypted_once_per_ciphertext_and_keys(self):
        crypto._decrypt.cache_clear()
        stored = self.backend.sudo().webhook_secret_encrypted
        with patch.object(
            MultiFernet, "decrypt", autospec=True, side_effect=MultiFernet.decrypt
        ) as decrypt:
            self.assertEqual(crypto.decrypt(stored), WEBHOOK_SECRET)
            self.assertEqual(self.backend._get_secret("webhook_secret"), WEBHOOK_SECRET)
            self.assertEqual(decrypt.call_count, 1)
            self.backend.webhook_secret = "whsec-changed"
            self.assertEqual(self.backend._get_secret("webhook_secret"), "whsec-changed")
            self.assertEqual(decrypt.call_count, 2, "a changed secret is decrypted anew")

    def test_rotating_the_key_keeps_old_secrets_readable(self):
        from cryptography.fernet import Fernet

        old_key = config["psa_connector_key"]
        new_key = Fernet.generate_key().decode()
        self.patch(
            config, "options", {**config.options, "psa_connector_key": f"{new_key},{old_key}"}
        )
        self.assertEqual(self.backend._get_secret("api_token"), API_TOKEN)
        self.patch(config, "options", {**config.options, "psa_connector_key": new_key})
        with self.assertRaisesRegex(Exception, "cannot be decrypted"):
            self.backend._get_secret("api_token")
