from odoo.tests import tagged

from ..models.psa_event import EVENT_RETENTION_DAYS
from .common import PsaTransactionCase, customer_data

RETENTION = "psa_connector_base.event_retention_days"


@tagged("post_install", "-at_install")
class TestEventRetention(PsaTransactionCase):
    """The daily purge of applied events: what goes, what stays, in batches."""

    def event(self, external_id, version, state, age_days):
        """An event of customer ``external_id`` in ``state``, processed ``age_days`` ago."""
        event = self.receive("customer.updated", customer_data(id=external_id, version=version))
        self.env.cr.execute(
            """UPDATE psa_event SET state = %s,
                      processed_date = (now() at time zone 'UTC') - make_interval(days => %s)
                WHERE id = %s""",
            (state, age_days, event.id),
        )
        return event

    def exception_on(self, event, state):
        exception = self.env["psa.exception"].create(
            {
                "name": "Rejected by a validation",
                "category": "validation",
                "backend_id": self.backend.id,
                "event_id": event.id,
            }
        )
        self.env.cr.execute(
            "UPDATE psa_exception SET state = %s WHERE id = %s", (state, exception.id)
        )
        return exception

    def surviving(self):
        self.env.invalidate_all()
        return set(self.env["psa.event"].search([("backend_id", "=", self.backend.id)]).ids)

    def test_purge_deletes_old_superseded_applied_and_skipped_events_only(self):
        self.assertEqual(EVENT_RETENTION_DAYS, 30)
        # C-old: two old versions superseded by a third, itself old.
        old_applied = self.event("C-old", 1, "done", 40)
        old_skipped = self.event("C-old", 2, "skipped", 40)
        newest = self.event("C-old", 3, "done", 40)
        # C-recent: superseded, but within the 30 days.
        recent = self.event("C-recent", 1, "done", 5)
        recent_newest = self.event("C-recent", 2, "done", 5)
        # Old, superseded, but failed, waiting or still pending.
        failed = self.event("C-bad", 1, "failed", 40)
        waiting = self.event("C-bad", 2, "waiting", 40)
        pending = self.event("C-bad", 3, "pending", 40)
        bad_newest = self.event("C-bad", 4, "done", 40)
        # An open exception refers to one, a resolved exception to another.
        with_open = self.event("C-exc", 1, "skipped", 40)
        with_resolved = self.event("C-exc", 2, "skipped", 40)
        exc_newest = self.event("C-exc", 3, "done", 40)
        open_exception = self.exception_on(with_open, "open")
        resolved_exception = self.exception_on(with_resolved, "resolved")
        # An audit entry refers to it: its hash covers event_id.
        audited = self.event("C-aud", 1, "done", 40)
        aud_newest = self.event("C-aud", 2, "done", 40)
        self.env["psa.audit.log"]._log(
            self.backend, "in", "update", "customer", "C-aud", event=audited
        )
        before = self.surviving()
        self.assertEqual(len(before), 14)

        self.assertEqual(self.env["psa.event"]._purge_applied(), 3)

        kept = {
            newest,
            recent,
            recent_newest,
            failed,
            waiting,
            pending,
            bad_newest,
            with_open,
            exc_newest,
            audited,
            aud_newest,
        }
        self.assertEqual(self.surviving(), {e.id for e in kept})
        self.assertEqual(
            before - self.surviving(), {old_applied.id, old_skipped.id, with_resolved.id}
        )
        # The resolved exception stays, without its event; the open one keeps its event.
        self.assertTrue(resolved_exception.exists())
        self.assertFalse(resolved_exception.event_id)
        self.assertEqual(open_exception.event_id, with_open)
        # A second run finds nothing more.
        self.assertEqual(self.env["psa.event"]._purge_applied(), 0)

    def test_purge_runs_in_batches(self):
        events = [self.event("C-b", version, "skipped", 45) for version in range(1, 7)]
        Event = self.env["psa.event"]
        self.assertEqual([Event._purge_applied(batch_size=2) for _round in range(4)], [2, 2, 1, 0])
        # Oldest first; the newest version stays.
        self.assertEqual(self.surviving(), {events[-1].id})

    def test_retention_is_a_system_parameter(self):
        old = self.event("C-p", 1, "done", 40)
        newest = self.event("C-p", 2, "done", 40)
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(RETENTION, "60")
        self.assertEqual(self.env["psa.event"]._purge_applied(), 0)
        params.set_param(RETENTION, "0")  # keep for ever
        self.assertEqual(self.env["psa.event"]._purge_applied(), 0)
        params.set_param(RETENTION, "a month")
        with self.assertLogs("odoo.addons.psa_connector_base.models.psa_event", "WARNING"):
            self.assertEqual(self.env["psa.event"]._cron_purge_applied(), 1)
        self.assertEqual(self.surviving(), {newest.id})
        self.assertFalse(old.exists())

    def test_the_daily_cron_runs_the_purge(self):
        cron = self.env.ref("psa_connector_base.ir_cron_psa_purge_events")
        self.assertTrue(cron.active)
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))
        self.event("C-c", 1, "skipped", 31)
        newest = self.event("C-c", 2, "done", 31)
        cron.method_direct_trigger()
        self.assertEqual(self.surviving(), {newest.id})
