import json
import time
from unittest.mock import patch

import psycopg2

from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from ..models import psa_event as psa_event_module
from ..tools import webhook_intake
from ..tools.event_store import EVENT_COLUMNS
from ..tools.signature import sign
from .common import WEBHOOK_SECRET, PsaTestMixin, customer_data


@tagged("post_install", "-at_install")
class TestWebhookDirectAccept(PsaTestMixin, TransactionCase):
    """The fast intake's direct accept: one INSERT, the same row and answer as the model's
    accept, and the model's way (None) for whatever that way must answer or record."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls._create_backend(code="direct")
        cls.dbname = cls.env.cr.dbname

    def setUp(self):
        super().setUp()
        # What this process read and saw before the test is not the test's.
        self.patch(webhook_intake, "_direct_settings", {})
        self.patch(psa_event_module, "_drains_seen_committed", {})

    def envelope(self, event_id, **data):
        return {
            "id": event_id,
            "type": "customer.created",
            "occurred_at": "2026-11-20T10:00:00Z",
            "data": customer_data(**data),
        }

    def signed(self, envelope, secret=WEBHOOK_SECRET, timestamp=None):
        raw = json.dumps(envelope).encode()
        timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
        headers = {"X-PSA-Timestamp": timestamp, "X-PSA-Signature": sign(secret, timestamp, raw)}
        return headers, raw

    def accept(self, headers, raw, code="direct", now=None):
        return webhook_intake.accept_direct(self.env.cr, self.dbname, code, headers, raw, now=now)

    def see_drain(self, now=None):
        """As the model's accept does after its commit: this step's drain is queued."""
        linger = self.env["psa.event"]._drain_settings()[0]
        step = psa_event_module.drain_step(time.time() if now is None else now, linger)
        psa_event_module._drains_seen_committed[(self.dbname, self.backend.id, "customer")] = step

    def row(self, event_uid):
        self.env.cr.execute(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM psa_event WHERE event_uid = %s", [event_uid]
        )
        return dict(zip(EVENT_COLUMNS, self.env.cr.fetchone(), strict=True))

    def test_the_first_webhook_of_a_drain_step_goes_the_models_way(self):
        headers, raw = self.signed(self.envelope("evt-d1"))
        self.assertIsNone(self.accept(headers, raw))
        self.assertFalse(self.env["psa.event"].search([("event_uid", "=", "evt-d1")]))

    def test_a_webhook_joining_a_seen_drain_is_stored_as_the_model_stores_it(self):
        now = time.time()
        self.see_drain(now)
        headers, raw = self.signed(self.envelope("evt-d2", vat="DE811907981"))
        answer = self.accept(headers, raw, now=now)
        self.assertEqual(answer.status, 202)
        stored = self.env["psa.event"].search([("event_uid", "=", "evt-d2")])
        self.assertEqual(
            json.loads(answer.body()),
            {
                "status": 202,
                "message": "accepted",
                "event": "evt-d2",
                "correlation_id": stored.correlation_id,
            },
        )
        # The same envelope through the model's accept, under another id: the same row
        # but for the ids and times.
        envelope = self.envelope("evt-m2", vat="DE811907981")
        public = self.env.ref("base.public_user")
        self.env["psa.event"].with_user(public).sudo()._accept_webhook(
            self.backend, *self.signed(envelope)
        )
        direct, model = self.row("evt-d2"), self.row("evt-m2")
        for column in ("event_uid", "payload", "correlation_id", "create_date", "write_date"):
            direct.pop(column), model.pop(column)
        self.assertEqual(direct, model)
        self.assertEqual(direct["create_uid"], self.env.ref("base.public_user").id)
        self.assertEqual(direct["state"], "pending")
        self.assertEqual(json.loads(stored.payload), json.loads(raw))
        # Sent again: stored once, answered 200 as the model answers a duplicate.
        again = self.accept(headers, raw, now=now)
        self.assertEqual((again.status, again.message), (200, "duplicate: already received"))
        self.assertEqual(self.env["psa.event"].search_count([("event_uid", "=", "evt-d2")]), 1)

    def test_refusals_and_unknown_backends_go_the_models_way_and_store_nothing(self):
        now = time.time()
        self.see_drain(now)
        envelope = self.envelope("evt-d3")
        bad_secret = self.signed(envelope, secret="not-the-secret")
        stale = self.signed(envelope, timestamp=int(now) - 3600)
        headers, raw = self.signed(envelope)
        unreadable = self.signed({"id": "evt-d3"})
        for case, (hdrs, body) in {
            "bad signature": bad_secret,
            "stale": stale,
            "not an envelope": unreadable,
            "not JSON": (
                {"X-PSA-Timestamp": headers["X-PSA-Timestamp"]}
                | {"X-PSA-Signature": sign(WEBHOOK_SECRET, headers["X-PSA-Timestamp"], b"{x")},
                b"{x",
            ),
        }.items():
            self.assertIsNone(self.accept(hdrs, body, now=now), case)
        self.assertIsNone(self.accept(headers, raw, code="nobody", now=now))
        self.assertFalse(self.env["psa.event"].search([("event_uid", "=", "evt-d3")]))

    def test_settings_are_read_again_after_their_time_to_live(self):
        now = time.time()
        self.see_drain(now)
        headers, raw = self.signed(self.envelope("evt-d4"))
        self.assertEqual(self.accept(headers, raw, now=now).status, 202)
        self.backend.active = False
        self.env.flush_all()
        # Read less than SETTINGS_TTL (1 s) ago: used as read.
        headers, raw = self.signed(self.envelope("evt-d5"))
        self.assertEqual(self.accept(headers, raw, now=now).status, 202)
        # Older: read again, and an inactive backend is the model's way (404 there).
        with patch.object(webhook_intake.time, "monotonic", return_value=time.monotonic() + 2):
            headers, raw = self.signed(self.envelope("evt-d6"))
            self.assertIsNone(self.accept(headers, raw, now=now))
        self.assertFalse(self.env["psa.event"].search([("event_uid", "=", "evt-d6")]))

    def test_only_prefork_workers_accept_directly(self):
        for workers, evented, option, expected in (
            (0, False, True, False),
            (2, True, True, False),
            (2, False, "False", False),
            (2, False, True, True),
        ):
            with (
                patch.dict(
                    config.options,
                    {"workers": workers, "psa_connector_webhook_direct_accept": option},
                ),
                patch.object(webhook_intake.odoo, "evented", evented),
            ):
                self.assertEqual(webhook_intake.direct_accept_enabled(), expected)

    def test_a_failed_connection_pauses_the_direct_accept(self):
        self.patch(webhook_intake, "_direct_paused_until", {})
        environ = {"HTTP_X_PSA_TIMESTAMP": "0"}
        refused = psycopg2.OperationalError("connection refused")
        with patch.object(webhook_intake, "_direct_connection", side_effect=refused) as connect:
            # The pooled way (None), and no second connection attempt within the pause.
            self.assertIsNone(webhook_intake._accept_direct_here(environ, "nodb", "x", b"{}"))
            self.assertIsNone(webhook_intake._accept_direct_here(environ, "nodb", "x", b"{}"))
            self.assertEqual(connect.call_count, 1)
            later = time.monotonic() + webhook_intake.DIRECT_RETRY_AFTER + 1
            with patch.object(webhook_intake.time, "monotonic", return_value=later):
                self.assertIsNone(webhook_intake._accept_direct_here(environ, "nodb", "x", b"{}"))
            self.assertEqual(connect.call_count, 2)
