from datetime import date, datetime, timedelta

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from odoo.addons.psa_connector_base.tests.common import project_data
from odoo.addons.psa_connector_base.tools.access import workflow_write
from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data
from odoo.addons.queue_job.job import Job

from .common import BillingCase, billing_event_data, contract_data, milestone_contract

HISTORY_START = date(2026, 10, 1)


@tagged("post_install", "-at_install")
class TestAnomalyFlags(BillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Anna's own history: 24 days in October, 12 of 7.5 h and 12 of 8.5 h. Her normal
        # day (median) is (7.5 + 8.5) / 2 = 8.0 h; the default factor 1.5 puts the
        # threshold at 12.0 h. One chunk of 24 entries: the batched path.
        for day in range(24):
            cls.receive(
                "time_entry.created",
                time_entry_data(
                    id=f"TE-H{day}",
                    date=str(HISTORY_START + timedelta(days=day)),
                    hours=7.5 if day % 2 else 8.5,
                ),
            )
        cls.run_jobs(methods=("_process_job",))
        cls.Anomaly = cls.env["psa.anomaly"]

    def flags(self, kind=None, **domain):
        domain = [(k, "=", v) for k, v in domain.items()]
        if kind:
            domain.append(("kind", "=", kind))
        return self.Anomaly.search(domain)

    def test_history_came_through_the_batch_and_normal_days_are_not_flagged(self):
        lines = self.env["account.analytic.line"].search([("employee_id", "=", self.anna.id)])
        self.assertEqual(len(lines), 24)
        self.assertFalse(self.flags())

    def test_a_day_far_above_the_employees_normal_is_flagged_and_a_normal_one_is_not(self):
        self.apply(
            "time_entry.created", time_entry_data(id="TE-BIG", date="2026-11-16", hours=12.5)
        )
        # Exactly at the threshold (same 24 days before it: 8.0 x 1.5 = 12.0): not flagged.
        self.apply(
            "time_entry.created", time_entry_data(id="TE-EDGE", date="2026-10-31", hours=12.0)
        )
        self.apply("time_entry.created", time_entry_data(id="TE-OK", date="2026-11-18", hours=8.0))
        flag = self.flags("hours_per_day")
        self.assertEqual(flag.analytic_line_id, self.line("TE-BIG"))
        self.assertEqual((flag.employee_id, flag.date), (self.anna, date(2026, 11, 16)))
        self.assertEqual(flag.project_id, self.project)
        self.assertEqual(flag.state, "open")
        for evidence in ("12.50 h on 2026-11-16", "median day", "8.00 h", "24 days", "12.00 h"):
            self.assertIn(evidence, flag.message)

    def test_two_lines_adding_up_to_too_much_flag_the_day(self):
        self.apply("time_entry.created", time_entry_data(id="TE-A", date="2026-11-16", hours=7.0))
        self.assertFalse(self.flags())
        self.apply("time_entry.created", time_entry_data(id="TE-B", date="2026-11-16", hours=6.0))
        # 7.0 + 6.0 = 13.0 h > 12.0 h: both lines of the day carry the flag.
        flags = self.flags("hours_per_day")
        self.assertEqual(flags.analytic_line_id, self.line("TE-A") | self.line("TE-B"))
        self.assertIn("13.00 h on 2026-11-16", flags[0].message)

    def test_with_lanes_two_projects_lines_of_one_day_are_flagged_after_both_commit(self):
        # Two projects of different parity: their chunks run in different lanes, side
        # by side, each blind to the other's lines; the detection waits for both.
        for number in (2, 3):
            self.apply("project.created", project_data(id=f"P-{number}", code=f"NW-{number}"))
        other = next(
            external
            for external in ("P-2", "P-3")
            if self.bound("project", external).id % 2 != self.project.id % 2
        )
        self.env["ir.config_parameter"].set_param("psa_connector_base.lanes.time_entry", "2")
        first = self.receive(
            "time_entry.created", time_entry_data(id="TE-A", date="2026-11-16", hours=7.0)
        )
        second = self.receive(
            "time_entry.created",
            time_entry_data(
                id="TE-B", date="2026-11-16", hours=6.0, project_id=other, task_id=None
            ),
        )
        (first | second)._enqueue_batch()
        self.assertEqual(
            set(
                self.env["queue.job"]
                .search([("uuid", "in", (first | second).mapped("job_uuid"))])
                .mapped("channel")
            ),
            {"root.psa.time_entry.lane0", "root.psa.time_entry.lane1"},
        )
        self.run_jobs(methods=("_process_job",))
        self.assertEqual((first | second).mapped("state"), ["done", "done"])
        # Applied, not yet checked: the detection is queued in lane 0, once per chunk.
        self.assertFalse(self.flags())
        detections = self.env["queue.job"].search(
            [("method_name", "=", "_detect_time_days_job"), ("state", "=", "pending")],
            order="id",
        )
        self.assertEqual(len(detections), 2)
        self.assertEqual(set(detections.mapped("channel")), {"root.psa.time_entry.lane0"})
        # Behind any chunk still queued (queue_job starts lower priorities first).
        chunks = self.env["queue.job"].search([("uuid", "in", (first | second).mapped("job_uuid"))])
        self.assertGreater(min(detections.mapped("priority")), max(chunks.mapped("priority")))
        # The first takes over the second, queued and committed but not started: one pass
        # over the day's lines instead of two (the runner never starts a cancelled job).
        result = Job.load(self.env, detections[0].uuid).perform()
        self.assertIn("with 1 detection(s) queued after this one", result)
        detections.invalidate_recordset()
        self.assertEqual(detections[1].state, "cancelled")
        self.assertIn(f"merged into the detection {detections[0].uuid}", detections[1].result)
        # 7.0 + 6.0 = 13.0 h > 12.0 h (8.0 h median x 1.5): both lines carry the flag.
        flags = self.flags("hours_per_day")
        self.assertEqual(flags.analytic_line_id, self.line("TE-A") | self.line("TE-B"))
        self.assertIn("13.00 h on 2026-11-16", flags[0].message)

    def test_un_approving_one_line_of_a_heavy_day_clears_the_others_flag(self):
        self.apply("time_entry.created", time_entry_data(id="TE-A", date="2026-11-16", hours=7.0))
        self.apply("time_entry.created", time_entry_data(id="TE-B", date="2026-11-16", hours=6.0))
        self.assertEqual(len(self.flags("hours_per_day")), 2)
        # TE-B is withdrawn in the PSA: its line goes, and 7.0 h is a normal day again.
        self.apply(
            "time_entry.updated",
            time_entry_data(id="TE-B", date="2026-11-16", hours=6.0, state="submitted", version=2),
        )
        self.assertFalse(self.line("TE-B"))
        self.assertFalse(self.flags("hours_per_day"))

    def test_reimport_does_not_duplicate_and_a_correction_clears_the_open_flag(self):
        data = time_entry_data(id="TE-BIG", date="2026-11-16", hours=14.0)
        self.apply("time_entry.created", data)
        self.assertEqual(len(self.flags("hours_per_day")), 1)
        # The same version again, then a new version still too high: still one flag.
        self.apply("time_entry.created", data)
        self.apply("time_entry.updated", {**data, "hours": 13.0, "version": 2})
        flag = self.flags("hours_per_day")
        self.assertEqual(len(flag), 1)
        self.assertIn("13.00 h", flag.message)
        # Corrected back to a normal day: the open flag is gone.
        self.apply("time_entry.updated", {**data, "hours": 8.0, "version": 3})
        self.assertFalse(self.flags("hours_per_day"))

    def test_a_newcomer_without_enough_history_is_not_flagged(self):
        self.backend.anomaly_min_history_days = 25  # Anna has 24 days
        self.apply(
            "time_entry.created", time_entry_data(id="TE-BIG", date="2026-11-16", hours=14.0)
        )
        self.assertFalse(self.flags())

    def test_work_on_a_public_holiday_is_flagged(self):
        calendar = self.anna.resource_calendar_id
        calendar.tz = "UTC"
        self.env["resource.calendar.leaves"].create(
            {
                "name": "Christmas Day",
                "calendar_id": calendar.id,
                "date_from": datetime(2026, 12, 25, 0, 0),
                "date_to": datetime(2026, 12, 25, 23, 59, 59),
            }
        )
        self.apply(
            "time_entry.created", time_entry_data(id="TE-XMAS", date="2026-12-25", hours=4.0)
        )
        self.apply(
            "time_entry.created", time_entry_data(id="TE-NEXT", date="2026-12-28", hours=4.0)
        )
        flag = self.flags("public_holiday")
        self.assertEqual(flag.analytic_line_id, self.line("TE-XMAS"))
        self.assertIn("4.00 h on 2026-12-25", flag.message)
        self.assertIn("Christmas Day", flag.message)

    def test_a_rate_other_than_the_rate_card_is_flagged_on_the_contract_and_draft_invoice(self):
        self.apply("contract.created", contract_data())
        order = self.order("K-1")
        self.apply("time_entry.created", time_entry_data(id="TE-R", date="2026-11-16", hours=6.0))
        line = self.line("TE-R")
        self.assertEqual(line.so_line.price_unit, 190.0)
        self.assertFalse(self.flags("rate"), "priced at Anna's rate card entry")
        # Someone prices Anna's line on the Architect role (210.00) by hand; the entry
        # is then re-imported (a new version).
        line.write({"so_line": order._psa_line("role:Architect").id, "is_so_line_edited": True})
        self.apply(
            "time_entry.updated",
            time_entry_data(id="TE-R", date="2026-11-16", hours=6.0, version=2),
        )
        flag = self.flags("rate")
        self.assertEqual(len(flag), 1)
        self.assertEqual(flag.sale_order_id, order)
        self.assertIn("210.00/h", flag.message)
        self.assertIn("190.00/h", flag.message)
        # On the contract: count and list.
        self.assertEqual(order.psa_anomaly_count, 1)
        self.assertEqual(order.psa_anomaly_ids, flag)
        self.assertEqual(
            order.action_view_psa_anomalies()["domain"], [("sale_order_id", "=", order.id)]
        )
        # On the draft invoice of that time: count and banner.
        self.backend.action_create_draft_invoices()
        invoice = order.invoice_ids
        self.assertEqual(invoice.state, "draft")
        self.assertEqual(line.timesheet_invoice_id, invoice)
        self.assertEqual(invoice.psa_anomaly_count, 1)
        self.assertIn("210.00/h", invoice.psa_anomaly_summary)
        self.assertEqual(invoice.action_view_psa_anomalies()["domain"], [("id", "in", flag.ids)])

    def test_a_billing_event_above_the_contract_remaining_is_flagged(self):
        self.apply("contract.created", milestone_contract())
        order = self.order("K-2")
        # M-1 at its scheduled 18,000 of a 60,000 schedule: within what remains.
        self.apply("billing_event.created", billing_event_data())
        self.assertFalse(self.flags("over_remaining"))
        # M-2 accepted at 50,000: 60,000 - 18,000 delivered = 42,000 remained.
        data = billing_event_data(id="BE-2", milestone_id="M-2", amount=50000.0)
        self.apply("billing_event.created", data)
        flag = self.flags("over_remaining")
        self.assertEqual(len(flag), 1)
        self.assertEqual(flag.sale_order_id, order)
        self.assertEqual(flag.billing_event_record_id.idempotency_key, "BE-2")
        for evidence in ("50000.00", "42000.00", "8000.00"):
            self.assertIn(evidence, flag.message)
        # Flags, not blocks: the milestone was made invoiceable all the same.
        self.assertEqual(order._psa_line("milestone:M-2").qty_delivered, 1.0)
        # A replay of the event is skipped and flags nothing more.
        self.apply("billing_event.created", data)
        self.assertEqual(len(self.flags("over_remaining")), 1)
        m2_invoice = order._psa_line("milestone:M-2").invoice_lines.move_id
        m1_invoice = order._psa_line("milestone:M-1").invoice_lines.move_id
        self.assertEqual(m2_invoice.state, "draft")
        self.assertEqual(m2_invoice.psa_anomaly_count, 1)
        self.assertEqual(m1_invoice.psa_anomaly_count, 0)
        self.assertEqual(order.psa_anomaly_count, 1)

    def test_a_retainer_period_above_the_retainer_amount_is_flagged(self):
        self.apply(
            "contract.created",
            contract_data(
                id="K-3",
                type="retainer",
                rate_card=None,
                retainer_amount=5000.0,
                retainer_period="month",
            ),
        )
        self.apply(
            "billing_event.created",
            billing_event_data(
                id="BE-R1", contract_id="K-3", kind="retainer.period", period="2026-11"
            ),
        )
        self.assertFalse(self.flags("over_remaining"))
        self.apply(
            "billing_event.created",
            billing_event_data(
                id="BE-R2",
                contract_id="K-3",
                kind="retainer.period",
                period="2026-12",
                amount=6500.0,
            ),
        )
        flag = self.flags("over_remaining")
        self.assertEqual(len(flag), 1)
        self.assertIn("6500.00", flag.message)
        self.assertIn("5000.00", flag.message)
        self.assertIn("1500.00", flag.message)

    # Acknowledgement and access -----------------------------------------------------

    def big_day_flag(self):
        self.apply(
            "time_entry.created", time_entry_data(id="TE-BIG", date="2026-11-16", hours=14.0)
        )
        flag = self.flags("hours_per_day")
        self.assertEqual(len(flag), 1)
        return flag

    def test_a_connector_user_acknowledges_with_a_note_and_the_flag_stays(self):
        flag = self.big_day_flag()
        user = new_test_user(
            self.env, "anomaly_fin", groups="psa_connector_base.group_connector_user"
        )
        wizard = (
            self.env["psa.anomaly.acknowledge.wizard"]
            .with_user(user)
            .with_context(active_model="psa.anomaly", active_ids=flag.ids)
            .create({"note": "Go-live weekend, agreed with the client."})
        )
        wizard.action_confirm()
        self.assertEqual(flag.state, "acknowledged")
        self.assertEqual(flag.acknowledged_by_id, user)
        self.assertEqual(flag.acknowledge_note, "Go-live weekend, agreed with the client.")
        # Acknowledged flags survive a re-import; they no longer count as open.
        self.apply(
            "time_entry.updated",
            time_entry_data(id="TE-BIG", date="2026-11-16", hours=14.0, version=2),
        )
        self.assertEqual(self.flags("hours_per_day"), flag)
        # The workflow fields cannot be written directly, even with write access.
        with self.assertRaises(AccessError):
            flag.with_user(user).write({"state": "open"})

    def test_a_user_without_connector_rights_cannot_acknowledge(self):
        flag = self.big_day_flag()
        accountant = new_test_user(self.env, "anomaly_acc", groups="account.group_account_invoice")
        # The invoicing user reads the flag (the invoice banner) but cannot acknowledge it.
        self.assertEqual(flag.with_user(accountant).message, flag.message)
        with self.assertRaises(AccessError):
            flag.with_user(accountant).action_acknowledge("looks fine")
        with self.assertRaises(AccessError):
            flag.with_user(accountant).write({"acknowledge_note": "looks fine"})
        self.assertEqual(flag.state, "open")

    def test_another_companys_flags_are_invisible(self):
        flag = self.big_day_flag()
        other = self.env["res.company"].create({"name": "Consultancy UK Ltd"})
        other_backend = self._create_backend(code="uk-psa", company_id=other.id)
        with workflow_write():
            foreign = self.Anomaly.create(
                {
                    "kind": "rate",
                    "detection_key": "rate:test:uk",
                    "message": "UK flag",
                    "backend_id": other_backend.id,
                    "company_id": other.id,
                }
            )
        user = new_test_user(
            self.env,
            "anomaly_home",
            groups="psa_connector_base.group_connector_user",
            company_id=self.env.company.id,
            company_ids=[Command.set(self.env.company.ids)],
        )
        visible = self.Anomaly.with_user(user).search([])
        self.assertIn(flag, visible)
        self.assertNotIn(foreign, visible)
        with self.assertRaises(AccessError):
            foreign.with_user(user).action_acknowledge("not mine")
