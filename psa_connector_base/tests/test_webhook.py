import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import psycopg2

from odoo import fields
from odoo.http import Request
from odoo.modules.registry import Registry
from odoo.service import db as odoo_db_service
from odoo.tests import HttpCase, tagged
from odoo.tools import config

from ..adapters.base import HttpAdapter
from ..models import psa_event as psa_event_module
from ..tools import event_store, webhook_intake
from ..tools.event_store import EVENT_COLUMNS
from ..tools.signature import sign
from .common import WEBHOOK_SECRET, PsaTestMixin, customer_data


@tagged("post_install", "-at_install")
class TestWebhook(PsaTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls._create_backend(code="hook")

    def post(
        self, body, code="hook", timestamp=None, secret=WEBHOOK_SECRET, signature=None, headers=None
    ):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
        all_headers = {"Content-Type": "application/json", "X-PSA-Timestamp": timestamp}
        if signature is None and secret:
            signature = sign(secret, timestamp, raw)
        if signature:
            all_headers["X-PSA-Signature"] = signature
        all_headers.update(headers or {})
        return self.url_open(f"/psa/webhook/{code}", data=raw, headers=all_headers)

    def envelope(self, event_id="evt-1", **data):
        return {
            "id": event_id,
            "type": "customer.created",
            "occurred_at": "2026-11-20T10:00:00Z",
            "data": customer_data(**data),
        }

    def events(self):
        return self.env["psa.event"].search([("backend_id", "=", self.backend.id)])

    def process_jobs(self):
        return self.env["queue.job"].search([("method_name", "=", "_process_job")])

    def drains(self):
        return self.env["queue.job"].search([("method_name", "=", "_drain_webhooks")])

    def test_signed_event_is_accepted_stored_and_drained(self):
        before = fields.Datetime.now()
        response = self.post(self.envelope())
        self.assertEqual(response.status_code, 202, response.text)
        self.assertEqual(response.json()["event"], "evt-1")
        event = self.events()
        self.assertEqual(len(event), 1)
        self.assertEqual(event.state, "pending")
        self.assertEqual(json.loads(event.payload)["data"]["vat"], "DE811907980")
        # No processing job yet: one drain of the backend's customers, due after the linger
        # (half a second by default: the next step of the grid but one).
        self.assertFalse(self.process_jobs(), "the accept path queues no processing job")
        drain = self.drains()
        self.assertEqual(len(drain), 1)
        self.assertEqual(drain.state, "pending")
        self.assertEqual(drain.args, [self.backend.id, "customer"])
        self.assertGreaterEqual(drain.eta, before + timedelta(seconds=0.5) - timedelta(seconds=1))
        self.assertTrue(
            drain.identity_key.startswith(f"psa.event.drain:{self.backend.id}:customer:")
        )
        # The drain runs in the channel of the chunks it would queue, which orders them.
        self.assertEqual(
            drain.channel, self.env["psa.importer"]._channel_for("customer") or "root.psa"
        )
        self.run_jobs(methods=("_drain_webhooks",))
        # A drain that claims one chunk's worth applies it itself: no chunk job, no second
        # trip through the job runner.
        self.assertFalse(self.process_jobs())
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(event.job_uuid, drain.uuid)
        self.assertEqual(self.drains().state, "done")
        self.assertEqual(self.drains().result, "1 event(s) applied")

    def test_a_burst_is_one_drain_per_step_and_each_event_once(self):
        # A grid step of ten seconds: seven posts fall in one step, or straddle two.
        self.env["ir.config_parameter"].set_param(
            "psa_connector_base.webhook_dispatch_linger", "10"
        )
        for number in range(1, 8):
            envelope = self.envelope(
                f"evt-b{number}", id=f"C-{number}", vat=f"DE8119079{number:02d}", ref=f"R{number}"
            )
            self.assertEqual(self.post(envelope).status_code, 202)
        self.assertIn(len(self.drains()), (1, 2))
        Event = self.env["psa.event"]
        # More than one chunk claimed: queued in chunk jobs, not applied by the drain.
        self.patch(psa_event_module, "WEBHOOK_APPLY_IN_DRAIN_LIMIT", 1)
        # A drain claims at most `limit` events and queues the next drain for the rest.
        self.assertEqual(
            Event._drain_webhooks(self.backend.id, "customer", limit=5, chunk_size=2),
            "5 event(s) queued",
        )
        self.assertEqual(len(self.process_jobs()), 3)
        self.assertEqual(
            self.drains().filtered(lambda job: not job.eta).mapped("state"), ["pending"]
        )
        self.assertEqual(
            Event._drain_webhooks(self.backend.id, "customer", limit=5, chunk_size=2),
            "2 event(s) queued",
        )
        self.assertEqual(Event._drain_webhooks(self.backend.id, "customer"), "0 event(s) queued")
        jobs = self.process_jobs()
        self.assertEqual(len(jobs), 4)
        self.assertEqual(set(self.events().mapped("job_uuid")), set(jobs.mapped("uuid")))
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(set(self.events().mapped("state")), {"done"})
        self.assertEqual(
            len(self.env["psa.binding"].search([("backend_id", "=", self.backend.id)])), 7
        )

    def test_a_burst_drained_at_once_is_queued_in_a_few_large_chunks(self):
        Event = self.env["psa.event"]
        # A trickle: chunks of a hundred, the first change stays close to its arrival.
        self.assertEqual(Event._drain_chunk_size(2), 100)
        self.assertEqual(Event._drain_chunk_size(400), 100)
        # A burst found waiting at once: four chunks (2,000 -> 4 jobs of 500, not 20)...
        self.assertEqual(Event._drain_chunk_size(2000), 500)
        self.assertEqual(Event._drain_chunk_size(2001), 501)
        # ... of at most the pull's 2,000 events.
        self.assertEqual(Event._drain_chunk_size(5000), 1250)
        self.assertEqual(Event._drain_chunk_size(20000), 2000)

    def test_a_drain_leaves_its_events_behind_a_chunk_still_queued(self):
        """A chunk an earlier drain (or a pull) queued goes first: the drain that finds it
        still waiting queues its own events behind it in the channel, not applies them."""
        Event = self.env["psa.event"]
        self.assertEqual(self.post(self.envelope("evt-q1", ref="R1")).status_code, 202)
        first = self.events()
        first._enqueue()
        self.assertEqual(
            self.post(
                self.envelope("evt-q2", ref="R2", version=2, updated_at="2026-11-02T09:00:00Z")
            ).status_code,
            202,
        )
        second = self.events() - first
        self.assertEqual(Event._drain_webhooks(self.backend.id, "customer"), "1 event(s) queued")
        self.assertEqual(second.state, "pending")
        jobs = self.process_jobs()
        self.assertEqual(len(jobs), 2)
        self.assertEqual(second.job_uuid, jobs.sorted("id")[-1].uuid)
        self.run_jobs(methods=("_process_job",))
        self.assertEqual((first | second).mapped("state"), ["done", "done"])
        # Applied in order: the later version is what Odoo holds.
        self.assertEqual(self.bound("customer", "C-1").ref, "R2")

    def test_a_drain_cancels_the_drains_already_due_it_made_redundant(self):
        """Drains queued behind a busy channel would run empty after the one that claimed
        their events: it cancels those already due, never one due later (an acceptance
        not committed yet counts on it)."""
        Event = self.env["psa.event"]
        self.assertEqual(self.post(self.envelope()).status_code, 202)
        upcoming = self.drains()
        self.assertEqual(len(upcoming), 1)
        # Two steps that fell due while the channel was busy, and another kind's.
        Event._schedule_drain(self.backend, {"customer", "project"}, now=time.time() - 5)
        Event._schedule_drain(self.backend, {"customer"}, now=time.time() - 3)
        due = self.drains() - upcoming
        self.assertEqual(len(due), 3)
        self.assertEqual(Event._drain_webhooks(self.backend.id, "customer"), "1 event(s) applied")
        self.env.invalidate_all()
        self.assertEqual(
            sorted(due.mapped(lambda j: (j.args[1], j.state))),
            [("customer", "cancelled"), ("customer", "cancelled"), ("project", "pending")],
        )
        self.assertEqual(upcoming.state, "pending", "due later: left to run")

    def test_a_drain_queues_a_chunk_when_applying_it_fails(self):
        """An unexpected failure while the drain applies: nothing of it is kept and the
        events go to a chunk job as before, which retries and records like any chunk."""
        Event = self.env["psa.event"]
        self.assertEqual(self.post(self.envelope()).status_code, 202)
        event = self.events()
        calls = []
        original = type(Event)._process_by_type

        def fail_once(events, outcomes):
            if not calls:
                calls.append(events.ids)
                events.write({"result": "half-way"})
                raise RuntimeError("unexpected")
            return original(events, outcomes)

        self.patch(type(Event), "_process_by_type", fail_once)
        with self.assertLogs("odoo.addons.psa_connector_base.models.psa_event", "WARNING"):
            self.assertEqual(
                Event._drain_webhooks(self.backend.id, "customer"), "1 event(s) queued"
            )
        self.assertEqual(calls, [event.ids])
        self.assertEqual(event.state, "pending")
        self.assertFalse(event.result, "the failed attempt left nothing")
        self.assertEqual(event.job_uuid, self.process_jobs().uuid)
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(len(self.bound("customer", "C-1")), 1)

    def test_webhooks_of_one_step_share_a_drain_and_the_next_step_gets_its_own(self):
        Event = self.env["psa.event"]
        now = time.time()
        Event._schedule_drain(self.backend, {"customer", "project"}, now=now)
        Event._schedule_drain(self.backend, {"customer"}, now=now)
        self.assertEqual(len(self.drains()), 2, "one per object type")
        Event._schedule_drain(self.backend, {"customer"}, now=now + 0.5)
        drains = self.drains().filtered(lambda job: job.args[1] == "customer")
        self.assertEqual(len(drains), 2, "the next step has a drain of its own")
        etas = sorted(drains.mapped("eta"))
        self.assertAlmostEqual((etas[1] - etas[0]).total_seconds(), 0.5, delta=0.01)
        for eta in etas:
            # Never less than the linger after the acceptance that scheduled it.
            self.assertGreaterEqual(eta.replace(tzinfo=UTC).timestamp() + 1e-3, now + 0.5)

    def test_a_step_whose_drain_was_seen_committed_costs_no_query(self):
        Event = self.env["psa.event"]
        self.addCleanup(psa_event_module._drains_seen_committed.clear)
        now = time.time()
        Event._schedule_drain(self.backend, {"customer"}, now=now)
        # What a real cursor does at the commit of that acceptance (a test cursor never).
        self.env.cr.postcommit.run()
        with self.assertQueryCount(0):
            Event._schedule_drain(self.backend, {"customer"}, now=now)
        self.assertEqual(len(self.drains()), 1)
        Event._schedule_drain(self.backend, {"customer"}, now=now + 0.5)
        self.assertEqual(len(self.drains()), 2, "the next step has a drain of its own")
        # A drain queued by a transaction that rolled back is not taken for queued.
        Event._schedule_drain(self.backend, {"project"}, now=now)
        self.env.cr.postcommit.clear()
        self.drains().filtered(lambda job: job.args[1] == "project").unlink()
        Event._schedule_drain(self.backend, {"project"}, now=now)
        self.assertEqual(len(self.drains().filtered(lambda job: job.args[1] == "project")), 1)

    def test_the_safety_net_drains_a_webhook_that_missed_its_drain(self):
        self.assertEqual(self.post(self.envelope()).status_code, 202)
        Event = self.env["psa.event"]
        self.assertEqual(Event._cron_drain_stragglers(), 0, "its drain is still due")
        # An acceptance that stalled past its drain: the drain ran before it committed.
        self.drains().unlink()
        self.env.cr.execute(
            "UPDATE psa_event SET create_date = create_date - interval '2 minutes'"
            " WHERE backend_id = %s",
            [self.backend.id],
        )
        self.assertEqual(Event._cron_drain_stragglers(), 1)
        self.assertEqual(len(self.drains()), 1)
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(self.events().state, "done")

    def test_a_drain_holds_a_burst_back_until_the_ceiling(self):
        Event = self.env["psa.event"]
        for n in range(3):
            self.assertEqual(self.post(self.envelope(event_id=f"evt-burst-{n}")).status_code, 202)
        # Three within the last two seconds: a burst above one a second...
        self.assertTrue(Event._burst_goes_on(self.backend, "customer", 2.0, 1.0, 30.0))
        # ...but not past the ceiling, nor at a lower rate than the limit, nor turned off.
        self.assertFalse(Event._burst_goes_on(self.backend, "customer", 2.0, 1.0, 0.0))
        self.assertFalse(Event._burst_goes_on(self.backend, "customer", 2.0, 50.0, 30.0))
        self.assertFalse(Event._burst_goes_on(self.backend, "customer", 2.0, 0.0, 30.0))
        self.assertFalse(Event._burst_goes_on(self.backend, "project", 2.0, 1.0, 30.0))
        # Nor once none arrived for a while (half a linger, or five arrivals' worth at the
        # burst rate, at most the linger): the drain after a burst's last webhook applies.
        self.assertEqual(Event._burst_gap(0.5, 50.0), 0.25)
        self.assertEqual(Event._burst_gap(0.5, 10.0), 0.5)
        self.assertEqual(Event._burst_gap(0.5, 1.0), 0.5)
        self.patch(type(Event), "_burst_gap", lambda self, linger, rate: 0.5)
        self.assertTrue(Event._burst_goes_on(self.backend, "customer", 2.0, 1.0, 30.0))
        self.env.cr.execute(
            "UPDATE psa_event SET create_date = create_date - interval '0.6 seconds'"
            " WHERE backend_id = %s",
            [self.backend.id],
        )
        self.assertFalse(Event._burst_goes_on(self.backend, "customer", 2.0, 1.0, 30.0))
        self.env.cr.execute(
            "UPDATE psa_event SET create_date = create_date + interval '0.6 seconds'"
            " WHERE backend_id = %s",
            [self.backend.id],
        )
        params = self.env["ir.config_parameter"]
        params.set_param("psa_connector_base.webhook_dispatch_linger", "2")
        params.set_param("psa_connector_base.webhook_burst_rate", "1")
        # A burst that cannot be over before the next step (its gap longer than a linger).
        self.patch(type(Event), "_burst_gap", lambda self, linger, rate: 5.0)
        held_at = time.time()
        self.assertEqual(
            Event._drain_webhooks(self.backend.id, "customer"),
            "held back: a burst is still arriving",
        )
        self.assertFalse(self.process_jobs())
        self.assertEqual(set(self.events().mapped("job_uuid")), {False})
        # Held back to the next step: a drain due then is queued.
        next_step = (int(held_at // 2) + 1) * 2
        self.assertTrue(
            self.drains().filtered(
                lambda job: abs(job.eta.replace(tzinfo=UTC).timestamp() - next_step) < 1e-3
            )
        )
        self.env["ir.config_parameter"].set_param("psa_connector_base.webhook_burst_rate", "0")
        self.assertEqual(Event._drain_webhooks(self.backend.id, "customer"), "3 event(s) applied")

    def test_a_held_burst_is_looked_at_again_when_it_may_be_over(self):
        Event = self.env["psa.event"]
        self.assertEqual(self.post(self.envelope(event_id="evt-burst-0")).status_code, 202)
        self.drains().unlink()
        # Its newest webhook 0.2 s old, a burst over after 0.5 s without one.
        self.env.cr.execute(
            """UPDATE psa_event SET create_date = (clock_timestamp() at time zone 'UTC')
                                                  - interval '0.2 seconds'
                WHERE backend_id = %s""",
            [self.backend.id],
        )
        self.patch(type(Event), "_burst_gap", lambda self, linger, rate: 0.5)
        self.env["ir.config_parameter"].set_param("psa_connector_base.webhook_dispatch_linger", "2")
        # At the start of a 2 s step: the burst may be over long before the next one.
        step_start = (time.time() // 2) * 2 + 0.001
        Event._schedule_burst_recheck(self.backend, "customer", 2.0, 1.0, now=step_start)
        drain = self.drains()
        self.assertEqual(len(drain), 1)
        self.assertIn(":customer:quiet:", drain.identity_key)
        due_in = drain.eta.replace(tzinfo=UTC).timestamp() - step_start
        # 0.5 - 0.2 (and the little the test took since) + the margin, up to 0.1 s later.
        self.assertGreater(due_in, 0.5 - 0.2 - 0.2)
        self.assertLessEqual(due_in, 0.5 - 0.2 + psa_event_module.BURST_RECHECK_MARGIN + 0.1)
        # A twin holding the same burst back at the same moment queues no second drain.
        Event._schedule_burst_recheck(self.backend, "customer", 2.0, 1.0, now=step_start)
        self.assertEqual(self.drains(), drain)
        # Near the end of the step, the step's own drain comes first: that one is queued.
        step_end = step_start + 1.9
        Event._schedule_burst_recheck(self.backend, "customer", 2.0, 1.0, now=step_end)
        step_drain = self.drains() - drain
        self.assertEqual(len(step_drain), 1)
        self.assertAlmostEqual(
            step_drain.eta.replace(tzinfo=UTC).timestamp(), (step_start - 0.001) + 2.0, places=3
        )
        # The drain due first claims the burst and cancels the other drains due by then.
        (drain | step_drain).eta = datetime(2000, 1, 1)
        self.env.flush_all()
        self.assertEqual(
            Event.with_context(job_uuid=drain.uuid)._drain_webhooks(self.backend.id, "customer"),
            "1 event(s) applied",
        )
        step_drain.invalidate_recordset(["state"])
        self.assertEqual(step_drain.state, "cancelled")

    def test_same_event_three_times_is_one_event_one_job_one_effect(self):
        statuses = [self.post(self.envelope()).status_code for _ in range(3)]
        self.assertEqual(statuses, [202, 200, 200])
        self.assertEqual(len(self.events()), 1)
        self.run_jobs(methods=("_drain_webhooks",))
        self.assertEqual(self.events().state, "done")
        self.assertEqual(len(self.drains().filtered(lambda job: job.state == "done")), 1)
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(self.post(self.envelope()).status_code, 200)
        self.run_jobs(methods=("_process_job",))
        partners = self.env["res.partner"].search([("vat", "=", "DE811907980")])
        self.assertEqual(len(partners), 1)
        self.assertEqual(self.bound("customer", "C-1"), partners)

    def test_malformed_json_is_400_and_kept_in_the_exception_queue(self):
        raw = b'{"id": "evt-2", "type": "customer.created", "data": {'
        response = self.post(raw)
        self.assertEqual(response.status_code, 400)
        self.assertIn("malformed JSON", response.json()["message"])
        exception = self.env["psa.exception"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(exception.category, "invalid_payload")
        self.assertEqual(exception.payload, raw.decode())
        self.assertFalse(self.events())

    def test_envelope_missing_fields_is_400(self):
        for bad in (
            {"id": "e", "type": "customer.created"},
            {"type": "x", "data": {}},
            {"id": "e", "type": 5, "occurred_at": "2026-01-01T00:00:00Z", "data": {}},
            [1, 2, 3],
            "just a string",
        ):
            with self.subTest(body=bad):
                self.assertEqual(self.post(bad).status_code, 400)
        self.assertFalse(self.events())
        self.assertEqual(
            self.env["psa.exception"].search_count([("backend_id", "=", self.backend.id)]), 5
        )

    def test_body_that_is_not_utf8_is_400(self):
        self.assertEqual(self.post(b"\xff\xfe\x00garbage").status_code, 400)

    def test_deeply_nested_json_is_400_and_kept(self):
        raw = b"[" * 100_000 + b"]" * 100_000
        response = self.post(raw)
        self.assertEqual(response.status_code, 400)
        self.assertIn("nested too deeply", response.json()["message"])
        exception = self.env["psa.exception"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(len(exception.payload), len(raw))

    def test_non_ascii_signature_is_401(self):
        response = self.post(self.envelope(), signature="sha256=\u00e9\u00e9")
        self.assertEqual(response.status_code, 401)

    def test_bad_or_missing_signature_is_401(self):
        self.assertEqual(self.post(self.envelope(), secret="wrong-secret").status_code, 401)
        self.assertEqual(self.post(self.envelope(), secret=None).status_code, 401)
        self.assertEqual(self.post(self.envelope(), signature="sha256=00").status_code, 401)
        self.assertFalse(self.events())

    def test_timestamp_outside_tolerance_is_401(self):
        # Margins of a minute either side of the 300 s limit keep the test off the edge.
        now = int(time.time())
        self.assertEqual(self.post(self.envelope(), timestamp=now - 360).status_code, 401)
        self.assertEqual(self.post(self.envelope(), timestamp=now + 360).status_code, 401)
        self.assertEqual(self.post(self.envelope(), timestamp="yesterday").status_code, 401)
        self.assertEqual(self.post(self.envelope(), timestamp=now - 240).status_code, 202)

    def test_signature_of_another_body_is_401(self):
        timestamp = str(int(time.time()))
        other = sign(WEBHOOK_SECRET, timestamp, b'{"id": "other"}')
        response = self.post(self.envelope(), timestamp=timestamp, signature=other)
        self.assertEqual(response.status_code, 401)

    def test_unknown_or_inactive_backend_is_404(self):
        self.assertEqual(self.post(self.envelope(), code="nope").status_code, 404)
        self.backend.active = False
        self.assertEqual(self.post(self.envelope()).status_code, 404)

    def test_changed_webhook_settings_apply_to_the_next_request(self):
        # The first answer puts the backend's webhook settings in the per-process cache.
        self.assertEqual(self.post(self.envelope()).status_code, 202)
        self.backend.max_body_bytes = 64
        self.assertEqual(self.post(self.envelope("evt-2")).status_code, 413)
        self.backend.write({"max_body_bytes": 1024 * 1024, "webhook_secret": "whsec-rotated"})
        self.assertEqual(self.post(self.envelope("evt-3")).status_code, 401)
        self.assertEqual(self.post(self.envelope("evt-3"), secret="whsec-rotated").status_code, 202)
        self.backend.active = False
        self.assertEqual(self.post(self.envelope("evt-4"), secret="whsec-rotated").status_code, 404)

    def test_body_over_the_limit_is_413(self):
        self.backend.max_body_bytes = 2048
        big = self.envelope(name="x" * 4096)
        self.assertEqual(self.post(big).status_code, 413)
        self.backend.max_body_bytes = 1024 * 1024
        self.assertEqual(self.post(big).status_code, 202)
        huge = self.envelope(event_id="evt-huge", name="x" * (1024 * 1024))
        self.assertEqual(self.post(huge).status_code, 413)

    # The fast intake (tools/webhook_intake.py) -----------------------------------------

    def served_by_odoo(self):
        """Count the requests that reached Odoo's request dispatch."""
        return patch.object(Request, "_serve_db", autospec=True, side_effect=Request._serve_db)

    def test_a_valid_webhook_is_accepted_before_odoo_dispatches_it(self):
        with self.served_by_odoo() as served:
            first = self.post(self.envelope())
            again = self.post(self.envelope())
        self.assertEqual((first.status_code, again.status_code), (202, 200), first.text)
        self.assertEqual(served.call_count, 0)
        event = self.events()
        self.assertEqual(first.json()["correlation_id"], event.correlation_id)
        self.assertEqual(
            again.json(),
            {"status": 200, "message": "duplicate: already received", "event": "evt-1"},
        )

    def intake(self, raw, code="hook", arrived=None, secret=WEBHOOK_SECRET):
        """The intake on a connection as werkzeug's server hands it over (its buffered
        reader and socket), ``arrived`` bytes of the body sent before it runs (all by
        default), the rest 0.2 s later; returns (answer, cursors taken)."""
        self.env.flush_all()  # the intake reads the backend in SQL, as url_open flushes
        server, client = socket.socketpair()
        self.addCleanup(server.close)
        self.addCleanup(client.close)
        arrived = len(raw) if arrived is None else arrived
        client.sendall(raw[:arrived])
        rest = threading.Timer(0.2, client.sendall, [raw[arrived:]])
        rest.start()
        self.addCleanup(rest.join)
        timestamp = str(int(time.time()))
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": f"/psa/webhook/{code}",
            "HTTP_HOST": "127.0.0.1",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "CONTENT_LENGTH": str(len(raw)),
            "CONTENT_TYPE": "application/json",
            "HTTP_X_PSA_TIMESTAMP": timestamp,
            "HTTP_X_PSA_SIGNATURE": sign(secret, timestamp, raw),
            "wsgi.input": server.makefile("rb", -1),
            "werkzeug.socket": server,
        }
        with (
            patch.object(webhook_intake, "_single_database", return_value=self.env.cr.dbname),
            patch.object(Registry, "cursor", autospec=True, side_effect=Registry.cursor) as cursor,
        ):
            answer = webhook_intake.intake(environ)
        return answer, cursor.call_count

    def test_a_body_that_has_arrived_is_accepted_on_one_cursor(self):
        raw = json.dumps(self.envelope()).encode()
        answer, cursors = self.intake(raw)
        self.assertEqual((answer.status_code, cursors), (202, 1), answer.get_data())
        self.assertEqual(self.events().event_uid, "evt-1")
        # Its refusals are those of a body read after its backend, on that one cursor.
        self.backend.max_body_bytes = 64
        answer, cursors = self.intake(json.dumps(self.envelope("evt-2")).encode())
        self.assertEqual((answer.status_code, cursors), (413, 1))
        self.assertEqual(json.loads(answer.get_data())["message"], "body over 64 bytes")
        answer, cursors = self.intake(raw, code="nope")
        self.assertEqual((answer.status_code, cursors), (404, 1))
        # A body still arriving: the backend (and its limit) first, no cursor held while
        # the rest comes, then the acceptance.
        self.backend.max_body_bytes = 1024 * 1024
        answer, cursors = self.intake(json.dumps(self.envelope("evt-3")).encode(), arrived=10)
        self.assertEqual((answer.status_code, cursors), (202, 2), answer.get_data())
        self.assertEqual(sorted(self.events().mapped("event_uid")), ["evt-1", "evt-3"])

    def test_refusals_are_answered_by_the_same_acceptance(self):
        answers = []
        for fast_intake in ("True", "False"):
            with (
                patch.dict(config.options, {"psa_connector_webhook_fast_intake": fast_intake}),
                self.served_by_odoo() as served,
            ):
                answers.append(
                    [
                        (response.status_code, response.json())
                        for response in (
                            self.post(self.envelope(), secret="wrong"),
                            self.post(b'{"id": "evt-2", "data": {'),
                            self.post(self.envelope(), timestamp=1),
                            self.post(self.envelope(), code="nope"),
                        )
                    ]
                )
            self.assertEqual(served.call_count, 0 if fast_intake == "True" else 3)
        self.assertEqual(answers[0], answers[1], "the intake and the controller answer alike")
        self.assertEqual([status for status, _body in answers[0]], [401, 400, 401, 404])
        self.assertFalse(self.events())
        self.assertEqual(
            self.env["psa.exception"]
            .search([("backend_id", "=", self.backend.id)])
            .mapped("category"),
            ["invalid_payload"] * 2,
        )

    def test_the_intake_and_the_controller_store_the_same_event(self):
        self.assertEqual(self.post(self.envelope("evt-fast")).status_code, 202)
        with (
            patch.dict(config.options, {"psa_connector_webhook_fast_intake": "False"}),
            self.served_by_odoo() as served,
        ):
            self.assertEqual(self.post(self.envelope("evt-slow")).status_code, 202)
        self.assertEqual(served.call_count, 1)
        # Every stored column but those that differ by nature between two events.
        own = {"event_uid", "payload", "correlation_id", "create_date", "write_date"}
        columns = [name for name in EVENT_COLUMNS if name not in own]
        fast, slow = (
            self.events().filtered(lambda e, uid=uid: e.event_uid == uid)
            for uid in ("evt-fast", "evt-slow")
        )
        self.assertEqual(
            fast.read(columns, load=None)[0] | {"id": 0},
            slow.read(columns, load=None)[0] | {"id": 0},
        )
        self.assertEqual(json.loads(fast.payload)["data"], json.loads(slow.payload)["data"])
        self.assertEqual(fast.create_uid, self.env.ref("base.public_user"))

    def test_an_unreachable_database_is_503_with_retry_after(self):
        down = psycopg2.OperationalError("connection to server failed: Connection refused")
        with patch.object(Registry, "cursor", side_effect=down):
            response = self.post(self.envelope())
        self.assertEqual(response.status_code, 503, response.text)
        self.assertEqual(response.headers["Retry-After"], "5")
        self.assertFalse(self.events())
        self.assertEqual(self.post(self.envelope()).status_code, 202, "accepted once it is back")

    def test_a_server_that_cannot_list_databases_is_503_not_odoos_404(self):
        # Deployments that choose the database by dbfilter list them on every request: with
        # PostgreSQL unreachable, Odoo falls back to "no database" and would answer 404.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        unreachable = {
            "db_name": False,
            "dbfilter": f"^{self.env.cr.dbname}$",
            "db_host": "127.0.0.1",
            "db_port": closed_port,
        }
        with patch.dict(config.options, unreachable):
            with self.assertRaises(psycopg2.OperationalError):
                odoo_db_service.list_dbs(force=True)
            response = self.post(self.envelope())
        self.assertEqual(response.status_code, 503, response.text)
        self.assertEqual(response.headers["Retry-After"], "5")
        self.assertEqual(response.json()["message"], "the database is unavailable; retry later")
        self.assertFalse(self.events())
        self.assertEqual(self.post(self.envelope()).status_code, 202, "accepted once it is back")

    def test_a_concurrent_delivery_conflict_is_tried_again_not_a_5xx(self):
        # Under REPEATABLE READ a re-delivery racing the first one fails to serialize.
        real_insert = event_store.insert_events
        calls = []

        def conflict_once(cr, *args):
            calls.append(1)
            if len(calls) == 1:
                cr.execute("SELECT 1")  # a real statement, then PostgreSQL's refusal
                raise psycopg2.errors.SerializationFailure(
                    "could not serialize access due to concurrent update"
                )
            return real_insert(cr, *args)

        with patch.object(event_store, "insert_events", side_effect=conflict_once):
            response = self.post(self.envelope())
        self.assertEqual(response.status_code, 202, response.text)
        self.assertEqual(len(calls), 2)
        self.assertEqual(len(self.events()), 1)
        self.assertEqual(self.post(self.envelope()).status_code, 200)


class _BrittleAdapter(HttpAdapter):
    """A vendor adapter whose code trips over shapes it did not expect."""

    name = "test_brittle"
    label = "Brittle test vendor"
    webhook_vendor = "brittle"

    @classmethod
    def verify_webhook(cls, secret, headers, raw_body, now, tolerance):
        if headers.get("X-Brittle-Signature") == "explode":
            raise TypeError("unexpected header shape")
        return headers.get("X-Brittle-Signature") == secret

    @classmethod
    def webhook_envelopes(cls, payload):
        return [{"id": payload["event"]["id"], "type": "customer.updated", "data": {}}]


@tagged("post_install", "-at_install")
class TestVendorWebhookRobustness(PsaTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # As if an addon had added a vendor model (see psa.adapter): the registry lookup
        # is what the selection, the backend and the vendor route all go through.
        registry_class = type(cls.env["psa.adapter"])
        installed = registry_class._adapter_classes

        def with_brittle(self):
            return {**installed(self), _BrittleAdapter.name: _BrittleAdapter}

        patcher = patch.object(registry_class, "_adapter_classes", with_brittle)
        patcher.start()
        cls.addClassCleanup(patcher.stop)
        cls.backend = cls._create_backend(code="brittle", adapter=_BrittleAdapter.name)

    def post(self, raw, signature=WEBHOOK_SECRET):
        return self.url_open(
            "/psa/webhook/brittle/brittle",
            data=raw,
            headers={"Content-Type": "application/json", "X-Brittle-Signature": signature},
        )

    def test_an_adapter_error_on_a_signed_body_is_a_400_with_the_body_kept(self):
        raw = b'{"event": ["not", "an", "object"]}'
        response = self.post(raw)
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn("unexpected shape", response.json()["message"])
        exception = self.env["psa.exception"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(exception.category, "invalid_payload")
        self.assertEqual(exception.payload, raw.decode())

    def test_an_adapter_error_on_odd_signature_headers_is_a_401(self):
        self.assertEqual(self.post(b"{}", signature="explode").status_code, 401)
        self.assertFalse(self.env["psa.exception"].search([("backend_id", "=", self.backend.id)]))
