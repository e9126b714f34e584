from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import PsaTransactionCase

ACTIVITY_TYPE = "psa_connector_base.mail_activity_type_psa_alert"
DIGEST_SUBJECT = "PSA Connector: %s alert(s) raised"


@tagged("post_install", "-at_install")
class TestAlertRules(PsaTransactionCase):
    """Thresholds on operational measures raise one activity and one digest, once, and
    clear when the condition clears."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ops = new_test_user(
            cls.env,
            "ops_alerts",
            email="ops@example.com",
            groups="psa_connector_base.group_connector_manager",
        )
        cls.finance = new_test_user(
            cls.env, "finance_alerts", groups="psa_connector_base.group_connector_user"
        )
        cls.Rule = cls.env["psa.alert.rule"]

    def setUp(self):
        super().setUp()
        # The reference time of the measures computed by hand.
        self.now = fields.Datetime.now()

    def exception(self, category="validation", object_type=None, age=None, state="open"):
        exception = (
            self.env["psa.exception"]
            .sudo()
            .create(
                {
                    "name": f"{category} {object_type}",
                    "category": category,
                    "object_type": object_type,
                    "backend_id": self.backend.id,
                    "state": state,
                }
            )
        )
        if age is not None:
            self.env.cr.execute(
                "UPDATE psa_exception SET create_date = %s WHERE id = %s",
                (self.now - age, exception.id),
            )
            exception.invalidate_recordset(["create_date"])
        return exception

    def rule(self, **values):
        return self.Rule.with_user(self.ops).create(
            {"name": values.get("metric"), "user_id": self.ops.id, **values}
        )

    def alert_activities(self, rules):
        return self.env["mail.activity"].search(
            [
                ("res_model", "=", "psa.alert.rule"),
                ("res_id", "in", rules.ids),
                ("activity_type_id", "=", self.env.ref(ACTIVITY_TYPE).id),
            ]
        )

    def digests(self, count):
        return self.env["mail.mail"].search(
            [
                ("subject", "=", DIGEST_SUBJECT % count),
                ("recipient_ids", "in", self.ops.partner_id.ids),
            ]
        )

    def test_alert_raised_once_in_one_digest_and_cleared(self):
        billing = self.rule(
            metric="failed_billing",
            comparison="ge",
            threshold=2,
            window_minutes=60,
            backend_id=self.backend.id,
        )
        age = self.rule(metric="exception_age", comparison="gt", threshold=120)
        # Failed billing triggers within the last hour: the two recent open ones; not the
        # one three hours old (outside the window), nor the resolved one, nor the
        # time entry.
        recent = self.exception(object_type="billing_event") | self.exception(
            object_type="billing_event"
        )
        old = self.exception(object_type="billing_event", age=timedelta(hours=3))
        self.exception(object_type="billing_event", state="resolved")
        self.exception(object_type="time_entry", state="resolved")

        self.Rule._cron_evaluate()

        self.assertEqual((billing.state, age.state), ("raised", "raised"))
        self.assertEqual(billing.last_value, 2)
        # The oldest open exception is three hours old: 180 minutes, above 120.
        self.assertAlmostEqual(age.last_value, 180, delta=1)
        activities = self.alert_activities(billing | age)
        self.assertEqual(len(activities), 2)
        self.assertEqual(activities.user_id, self.ops)
        self.assertEqual(sorted(activities.mapped("res_id")), sorted((billing | age).ids))
        digest = self.digests(2)
        self.assertEqual(len(digest), 1, "one digest for the two rules raised in the run")
        self.assertIn(billing.name, digest.body_html)
        self.assertIn(age.name, digest.body_html)
        self.assertEqual(len(self.digests(1)), 0, "no mail per rule")

        # Still raised on the next run: nothing new.
        self.Rule._cron_evaluate()
        self.assertEqual(len(self.alert_activities(billing | age)), 2)
        self.assertEqual(len(self.digests(2)), 1)
        self.assertEqual(len(self.digests(1)), 0)

        # The failures are dealt with: both rules clear and their activities are done.
        (recent | old).sudo().write({"state": "resolved"})
        self.Rule._cron_evaluate()
        self.assertEqual((billing.state, age.state), ("ok", "ok"))
        self.assertEqual((billing.last_value, age.last_value), (0, 0))
        self.assertFalse(self.alert_activities(billing | age))
        done = self.env["mail.message"].search(
            [
                ("model", "=", "psa.alert.rule"),
                ("res_id", "=", billing.id),
                ("mail_activity_type_id", "=", self.env.ref(ACTIVITY_TYPE).id),
            ]
        )
        self.assertEqual(len(done), 1, "the activity is marked done in the chatter")
        self.assertTrue(
            billing.message_ids.filtered(lambda message: "Alert cleared" in message.body)
        )
        self.assertEqual(len(self.digests(2)), 1, "clearing sends no digest")

        # Raised again later: a new activity and a digest of one.
        self.exception(object_type="billing_event")
        self.exception(object_type="billing_event")
        self.Rule._cron_evaluate()
        self.assertEqual(billing.state, "raised")
        self.assertEqual(len(self.alert_activities(billing)), 1)
        self.assertEqual(len(self.digests(1)), 1)

    def test_thresholds_measured_by_hand(self):
        now = self.now
        # Queue depth of a channel: its jobs and its sub-channels' jobs still to run.
        Backend = self.backend.sudo()
        for channel in ("root.psa.alerttest", "root.psa.alerttest", "root.psa.alerttest.sub"):
            Backend.with_delay(channel=channel)._write_back_job("customer", "C-1", {})
        Backend.with_delay(channel="root.psa.alerttestx")._write_back_job("customer", "C-2", {})
        finished = Backend.with_delay(channel="root.psa.alerttest")._write_back_job(
            "customer", "C-3", {}
        )
        self.env.cr.execute("UPDATE queue_job SET state = 'done' WHERE uuid = %s", (finished.uuid,))
        queue = self.rule(metric="queue_depth", threshold=2, channel="root.psa.alerttest")
        self.assertEqual(queue._measure(now), 3)

        # Remote error rate: 1 failed call and 3 successful ones in the window = 25 %; the
        # failure two hours ago is outside it.
        self.exception(category="remote_error")
        self.exception(category="remote_error", age=timedelta(hours=2))
        for external_id in ("C-1", "C-2", "C-3"):
            self.env["psa.audit.log"]._log(
                self.backend, "out", "write_back", "customer", external_id
            )
        self.env["psa.audit.log"]._log(self.backend, "in", "create", "customer", "C-4")
        rate = self.rule(metric="remote_error_rate", threshold=20, window_minutes=60)
        self.assertEqual(rate._measure(now), 25.0)

        # Stale pull: the object type that has gone longest without a successful pull.
        Watermark = self.env["psa.sync.watermark"].sudo()
        Watermark.create(
            {
                "backend_id": self.backend.id,
                "object_type": "customer",
                "last_success": now - timedelta(minutes=90),
            }
        )
        Watermark.create(
            {
                "backend_id": self.backend.id,
                "object_type": "project",
                "last_success": now - timedelta(minutes=10),
            }
        )
        stale = self.rule(metric="stale_pull", threshold=60)
        self.assertEqual(stale._measure(now), 90)
        project_only = self.rule(metric="stale_pull", threshold=60, object_type="project")
        self.assertEqual(project_only._measure(now), 10)

        # Oldest open exception, in minutes (the resolved one does not count).
        self.exception(age=timedelta(minutes=45))
        self.exception(age=timedelta(days=3), state="resolved")
        oldest = self.rule(metric="exception_age", threshold=60)
        self.assertEqual(oldest._measure(now), 120)  # the remote error two hours old

        # Comparisons: above / at or above.
        self.Rule._cron_evaluate()
        self.assertEqual(queue.state, "raised")  # 3 > 2
        self.assertEqual(rate.state, "raised")  # 25 > 20
        self.assertEqual(stale.state, "raised")  # 90 > 60
        self.assertEqual(project_only.state, "ok")  # 10 <= 60

    def test_only_the_evaluation_writes_the_workflow_fields(self):
        rule = self.rule(metric="queue_depth", threshold=100)
        for user in (self.finance, self.ops):
            for values in ({"state": "raised"}, {"last_value": 5}):
                with self.assertRaises(AccessError):
                    rule.with_user(user).write(values)
        with self.assertRaises(AccessError):
            rule.with_user(self.finance).write({"threshold": 1})
        with self.assertRaises(AccessError):
            rule.with_user(self.finance).action_evaluate_now()
        with self.assertRaises(AccessError):
            self.Rule.with_user(self.ops).create(
                {"name": "forged", "metric": "queue_depth", "threshold": 1, "state": "raised"}
            )
        # A Connector Manager sets the threshold and checks the rule now.
        rule.with_user(self.ops).write({"threshold": 0, "comparison": "ge"})
        rule.with_user(self.ops).action_evaluate_now()
        self.assertEqual(rule.state, "raised")
        self.assertEqual(len(self.alert_activities(rule)), 1)
