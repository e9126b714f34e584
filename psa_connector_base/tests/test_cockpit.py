"""The finance cockpit's figures and helpers, without a browser."""

import json
from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import new_test_user

from .common import PsaTransactionCase, customer_data, project_data


class TestCockpit(PsaTransactionCase):
    def _age(self, records, **delta):
        when = fields.Datetime.now() - timedelta(**delta)
        self.env.cr.execute(
            f"UPDATE {records._table} SET create_date = %s WHERE id IN %s",
            [when, tuple(records.ids)],
        )
        records.invalidate_recordset(["create_date"])

    def test_age_buckets_follow_the_age_of_waiting_exceptions(self):
        Exception_ = self.env["psa.exception"]
        made = {
            hours: Exception_.create(
                {"name": f"{hours} h", "category": "validation", "backend_id": self.backend.id}
            )
            for hours in (2, 30, 100, 200)
        }
        closed = Exception_.create(
            {
                "name": "old but ignored",
                "category": "validation",
                "backend_id": self.backend.id,
                "state": "ignored",
            }
        )
        for hours, exception in made.items():
            self._age(exception, hours=hours)
        self._age(closed, hours=200)
        Exception_._cron_refresh_age_buckets()
        self.assertEqual(
            {h: e.age_bucket for h, e in made.items()},
            {2: "today", 30: "days", 100: "week", 200: "older"},
        )
        self.assertEqual(closed.age_bucket, "today", "closed exceptions are left as they were")
        self.assertEqual(
            Exception_.search([("id", "in", [e.id for e in made.values()]), ("age_days", ">", 1)]),
            made[30] | made[100] | made[200],
            "the 'Older than a day' filter",
        )

    def test_dashboard_counts_today_this_week_queue_and_delays(self):
        applied = self.apply("customer.created", customer_data())
        failed = self.apply("customer.created", customer_data(id="C-2", name=None))
        pending = self.receive("customer.created", customer_data(id="C-3", vat="X", ref="X"))
        old_pending = self.receive("customer.created", customer_data(id="C-4", vat="Y", ref="Y"))
        self._age(old_pending, days=10)
        self.assertEqual(
            (applied.state, failed.state, pending.state), ("done", "failed", "pending")
        )
        AuditLog = self.env["psa.audit.log"]
        AuditLog.search([("backend_id", "=", self.backend.id), ("direction", "=", "out")]).unlink()
        for _i in range(3):
            AuditLog._log(self.backend, "out", "write_back", object_type="customer")
        self.env["psa.exception"].create(
            {"name": "PSA down", "category": "remote_error", "backend_id": self.backend.id}
        )
        self._age(failed.exception_ids, days=2)
        backend = self.backend
        backend.invalidate_recordset()
        self.assertEqual(
            (backend.dash_received_today, backend.dash_applied_today, backend.dash_failed_today),
            (3, 1, 1),
        )
        self.assertEqual(
            (backend.dash_received_week, backend.dash_applied_week, backend.dash_failed_week),
            (3, 1, 1),
        )
        self.assertEqual(backend.dash_queue_depth, 2, "two events wait to be processed")
        self.assertEqual(backend.dash_delayed_postings, 1, "only the 10-day-old one is late")
        self.assertEqual(backend.dash_oldest_exception_date, failed.exception_ids.create_date)
        self.assertAlmostEqual(backend.dash_remote_error_rate, 25.0, "1 failure of 4 calls")

    def test_dashboard_shows_the_last_successful_pull_per_object(self):
        Watermark = self.env["psa.sync.watermark"]
        Watermark._for(self.backend, "customer").write(
            {"last_success": "2026-11-20 08:00:00", "last_run": "2026-11-20 08:00:00"}
        )
        Watermark._for(self.backend, "project").write({"last_error": "HTTP 503"})
        self.backend.invalidate_recordset()
        html = str(self.backend.dash_pull_status)
        self.assertIn("customer", html)
        self.assertIn("2026-11-20", html)
        self.assertIn("never", html)
        self.assertIn("HTTP 503", html)

    def test_conflict_values_side_by_side_and_payload_indented(self):
        exception = self.env["psa.exception"].create(
            {
                "name": "Conflict",
                "category": "conflict",
                "backend_id": self.backend.id,
                "incoming_values": json.dumps({"name": "New", "vat": "DE1"}),
                "current_values": json.dumps({"name": "Old", "vat": "DE1"}),
                "payload": '{"data":{"id":"C-1"}}',
            }
        )
        html = str(exception.conflict_html)
        self.assertIn('<tr class="table-warning"><th>name</th><td>New</td><td>Old</td></tr>', html)
        self.assertIn('<tr class=""><th>vat</th><td>DE1</td><td>DE1</td></tr>', html)
        self.assertEqual(exception.payload_pretty, '{\n  "data": {\n    "id": "C-1"\n  }\n}')
        self.assertIn("Compare the values", str(exception.explanation))

    def test_mapping_wizard_refuses_a_record_bound_to_another_reference(self):
        partner = self.env["res.partner"].create({"name": "Taken Ltd"})
        self.env["psa.binding"].create(
            {
                "backend_id": self.backend.id,
                "external_type": "customer",
                "external_id": "C-OTHER",
                "res_model": "res.partner",
                "res_id": partner.id,
            }
        )
        event = self.apply("project.created", project_data(customer_id="C-9"))
        exception = event.exception_ids
        self.assertTrue(exception.can_map_reference)
        finance = new_test_user(
            self.env, "cockpit_fin", groups="psa_connector_base.group_connector_user"
        )
        wizard = (
            self.env["psa.exception.map.wizard"]
            .with_user(finance)
            .create({"exception_id": exception.id, "res_id": partner.id})
        )
        self.assertEqual(wizard.res_model, "res.partner")
        with self.assertRaisesRegex(UserError, "already linked to customer C-OTHER"):
            wizard.action_map_and_retry()
        self.assertEqual(exception.state, "open")

    def test_setup_wizard_explains_each_connection_failure(self):
        Wizard = self.env["psa.backend.setup.wizard"]

        def tested(**values):
            wizard = Wizard.create({"name": "X", "code": "x-psa", "api_token": "t", **values})
            wizard.action_test_connection()
            return wizard

        wrong_scheme = tested(base_url="psa.example.com")
        self.assertFalse(wrong_scheme.connection_ok)
        self.assertIn("must be a full address", wrong_scheme.connection_message)
        unreachable = tested(base_url="http://127.0.0.1:9")
        self.assertFalse(unreachable.connection_ok)
        self.assertIn("cannot be reached", unreachable.connection_message)
        no_token = tested(base_url="https://psa.example.com", api_token=False)
        self.assertIn("Enter the API token", no_token.connection_message)
        with self.assertRaisesRegex(UserError, "Test the connection first"):
            unreachable.action_create_backend()
        self.assertFalse(self.env["psa.backend"].search([("code", "=", "x-psa")]))
