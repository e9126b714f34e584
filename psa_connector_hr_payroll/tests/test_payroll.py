import base64
import csv
import io
import json
import zipfile

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user

from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data

from .payroll_common import PayrollCase


class TestPayrollExport(PayrollCase):
    def test_seeded_period_exports_exactly_the_approved_hours_and_expenses(self):
        self.entry("TE-1", "2026-09-07", 8.0)
        self.entry("TE-2", "2026-09-08", 2.5, pay_category="overtime")
        self.entry("TE-3", "2026-09-09", 4.0, pay_category="on_call")
        self.entry("TE-4", "2026-09-10", 8.0, pay_category="leave")
        self.entry("TE-5", "2026-09-11", 1.5)
        # Not approved: no timesheet line, nothing to pay.
        self.apply(
            "time_entry.created",
            time_entry_data(id="TE-6", date="2026-09-14", hours=7.0, state="submitted"),
        )
        # October's work is October's.
        self.entry("TE-7", "2026-10-01", 6.0)
        self.approve_expense(self.expense(120.5, "2026-09-15"))
        self.approve_expense(self.expense(30.0, "2026-09-16"))
        self.expense(45.0, "2026-09-17")  # reported, never approved

        batch = self.september.with_user(self.hr_user).action_compute_batch()
        self.assertEqual(
            self.lines_of(batch),
            {
                ("Anna Schmidt", "normal"): (9.5, 0.0),
                ("Anna Schmidt", "overtime"): (2.5, 0.0),
                ("Anna Schmidt", "on_call"): (4.0, 0.0),
                ("Anna Schmidt", "leave"): (8.0, 0.0),
                ("Anna Schmidt", "expense"): (0.0, 150.5),
            },
        )
        self.assertFalse(batch.check_ids, batch.check_ids.mapped("name"))
        self.assertFalse(batch.entry_ids.filtered("late"))
        # Nothing leaves before approval.
        self.assertEqual((batch.state, batch.attachment_id.id), ("to_approve", False))

        batch.with_user(self.hr_user).action_approve()
        self.assertEqual(batch.state, "sent")
        self.assertEqual(batch.approved_by_id, self.hr_user)
        self.assertEqual(self.september.state, "sent")
        rows = list(csv.reader(io.StringIO(base64.b64decode(batch.attachment_id.datas).decode())))
        self.assertEqual(rows[0][:5], ["payroll_id", "employee", "category", "hours", "amount"])
        self.assertEqual(
            sorted((r[0], r[2], float(r[3]), float(r[4])) for r in rows[1:]),
            [
                ("PR-100", "expense", 0.0, 150.5),
                ("PR-100", "leave", 8.0, 0.0),
                ("PR-100", "normal", 9.5, 0.0),
                ("PR-100", "on_call", 4.0, 0.0),
                ("PR-100", "overtime", 2.5, 0.0),
            ],
        )

    def test_validation_checkpoint_holds_the_batch_until_reviewed(self):
        self.anna.psa_payroll_id = False
        self.september.hour_ceiling = 10.0
        self.entry("TE-1", "2026-09-07", 8.0)
        self.entry("TE-2", "2026-09-08", 4.0)
        expense = self.approve_expense(self.expense(20.0, "2026-09-15", receipt=False))
        # The PSA changes TE-1 after the cut-off.
        self.apply(
            "time_entry.updated",
            time_entry_data(id="TE-1", date="2026-09-07", hours=7.0, version=2),
        )
        batch = self.september.with_user(self.hr_user).action_compute_batch()
        self.assertEqual(
            sorted(batch.check_ids.mapped("kind")),
            ["above_ceiling", "changed_after_cutoff", "no_payroll_id", "no_receipt"],
        )
        with self.assertRaisesRegex(UserError, "4 open validation checks"):
            batch.with_user(self.hr_user).action_approve()
        self.assertEqual(batch.state, "to_approve")
        # Fixed: payroll id set and receipt attached; refreshed, those findings go.
        self.anna.psa_payroll_id = "PR-100"
        self.env["ir.attachment"].create(
            {
                "name": "r.pdf",
                "datas": base64.b64encode(b"x"),
                "res_model": "hr.expense",
                "res_id": expense.id,
            }
        )
        batch.with_user(self.hr_user).action_refresh()
        self.assertEqual(
            sorted(batch.check_ids.mapped("kind")), ["above_ceiling", "changed_after_cutoff"]
        )
        batch.check_ids.with_user(self.hr_user).action_accept()
        batch.with_user(self.hr_user).action_refresh()
        self.assertEqual(set(batch.check_ids.mapped("state")), {"accepted"}, "acceptance kept")
        batch.with_user(self.hr_user).action_approve()
        self.assertEqual((batch.state, batch.approved_by_id), ("sent", self.hr_user))
        self.assertEqual(self.lines_of(batch)[("Anna Schmidt", "normal")], (11.0, 0.0))

    def test_late_approval_lands_in_the_next_period_marked_as_late(self):
        self.entry("TE-1", "2026-09-07", 8.0)
        # Dated in September, approved after September's cut-off.
        self.entry("TE-2", "2026-09-29", 3.0, approved_at="2026-10-05T09:00:00Z")
        september = self.send(self.september)
        self.assertEqual(self.lines_of(september), {("Anna Schmidt", "normal"): (8.0, 0.0)})

        self.entry("TE-3", "2026-10-12", 5.0)
        october = self.october.with_user(self.hr_user).action_compute_batch()
        self.assertEqual(self.lines_of(october), {("Anna Schmidt", "normal"): (8.0, 0.0)})
        late = october.entry_ids.filtered("late")
        self.assertEqual(late.source_id, self.line("TE-2").id)
        self.assertEqual(late.origin_period_id, self.september)
        self.assertEqual(october.line_ids.late_hours, 3.0)

    def test_sent_period_cannot_change(self):
        self.entry("TE-1", "2026-09-07", 8.0)
        batch = self.send(self.september)
        with self.assertRaises(UserError):
            self.september.with_user(self.hr_user).date_end = "2026-09-29"
        with self.assertRaises(UserError):
            self.september.with_user(self.hr_user).action_compute_batch()
        with self.assertRaises(UserError):
            batch.with_user(self.hr_user).action_approve()
        with self.assertRaises(UserError):
            batch.entry_ids.sudo().unlink()
        with self.assertRaises(UserError):
            batch.with_user(self.hr_user).unlink()
        # Work approved in time for September but arriving now goes to October, late.
        self.entry("TE-2", "2026-09-08", 2.0, approved_at="2026-09-09T10:00:00Z")
        self.assertEqual(self.lines_of(batch), {("Anna Schmidt", "normal"): (8.0, 0.0)})
        october = self.october.with_user(self.hr_user).action_compute_batch()
        self.assertEqual(october.entry_ids.source_id, self.line("TE-2").id)
        self.assertTrue(october.entry_ids.late)

    def test_correction_yields_an_adjustment_batch_with_only_the_difference(self):
        self.entry("TE-1", "2026-09-07", 8.0)
        self.entry("TE-2", "2026-09-08", 2.0, pay_category="overtime")
        self.entry("TE-3", "2026-09-09", 4.0, pay_category="on_call")
        regular = self.send(self.september)
        with self.assertRaisesRegex(UserError, "Nothing changed"):
            self.september.with_user(self.hr_user).action_compute_adjustment()

        # TE-1 corrected to 6.5 h, TE-2 un-approved, TE-3 unchanged.
        self.apply(
            "time_entry.updated",
            time_entry_data(id="TE-1", date="2026-09-07", hours=6.5, version=2),
        )
        self.apply(
            "time_entry.updated",
            time_entry_data(id="TE-2", date="2026-09-08", hours=2.0, state="rejected", version=2),
        )
        self.assertFalse(self.line("TE-2"))
        adjustment = self.september.with_user(self.hr_user).action_compute_adjustment()
        self.assertEqual((adjustment.kind, adjustment.adjusts_batch_id), ("adjustment", regular))
        self.assertEqual(
            self.lines_of(adjustment),
            {("Anna Schmidt", "normal"): (-1.5, 0.0), ("Anna Schmidt", "overtime"): (-2.0, 0.0)},
        )
        # Changed after the cut-off: reviewed first, like any batch.
        self.assertEqual(adjustment.check_ids.mapped("kind"), ["changed_after_cutoff"])
        adjustment.check_ids.with_user(self.hr_user).action_accept()
        adjustment.with_user(self.hr_user).action_approve()
        self.assertEqual(adjustment.state, "sent")
        self.assertEqual(self.lines_of(regular)[("Anna Schmidt", "normal")], (8.0, 0.0))
        with self.assertRaisesRegex(UserError, "Nothing changed"):
            self.september.with_user(self.hr_user).action_compute_adjustment()

    def test_editor_of_a_payload_cannot_approve_the_export_containing_it(self):
        self.entry("TE-1", "2026-09-07", 8.0)
        event = self.apply(
            "time_entry.created",
            time_entry_data(
                id="TE-9", date="2026-09-10", hours=-3.0, approved_at="2026-09-10T18:00:00Z"
            ),
        )
        self.assertEqual(event.state, "failed")
        exception = event.exception_ids
        envelope = json.loads(exception.payload)
        envelope["data"]["hours"] = 3.0
        exception.with_user(self.editor).payload = json.dumps(envelope)
        self.assertEqual(exception.payload_edited_by_id, self.editor)
        # Hours are pay: the edit is replayed only once a second Connector Manager
        # approved it (four eyes), never by its editor.
        self.assertEqual(exception.approval_state, "awaiting")
        with self.assertRaisesRegex(UserError, "approved by a Connector Manager other"):
            exception.with_user(self.editor).action_retry()
        second = new_test_user(
            self.env,
            "payroll_second_manager",
            groups="psa_connector_base.group_connector_manager",
            company_id=self.company.id,
        )
        exception.with_user(second).action_approve_payload()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(self.line("TE-9").unit_amount, 3.0)

        batch = self.september.with_user(self.editor).action_compute_batch()
        self.assertEqual(self.lines_of(batch), {("Anna Schmidt", "normal"): (11.0, 0.0)})
        with self.assertRaisesRegex(AccessError, "segregation of duties"):
            batch.with_user(self.editor).action_approve()
        self.assertEqual((batch.state, batch.approved_by_id.id), ("to_approve", False))
        batch.with_user(self.hr_user).action_approve()
        self.assertEqual((batch.state, batch.approved_by_id), ("sent", self.hr_user))

    def test_editor_may_approve_an_export_without_the_edited_record(self):
        self.entry("TE-1", "2026-09-07", 8.0)
        batch = self.september.with_user(self.editor).action_compute_batch()
        batch.with_user(self.editor).action_approve()
        self.assertEqual(batch.approved_by_id, self.editor)

    def test_xlsx_download_and_validated_time_off_as_leave_taken(self):
        self.september.export_format = "xlsx"
        self.entry("TE-1", "2026-09-07", 8.0)
        hr_backend = self._create_backend(code="hr-payroll", kind="hr", name="HR")
        self.env["psa.binding"].create(
            {
                "backend_id": hr_backend.id,
                "external_type": "employee",
                "external_id": "E-1",
                "res_model": "hr.employee",
                "res_id": self.anna.id,
            }
        )
        leave_event = self.apply(
            "leave.created",
            {
                "id": "L-1",
                "employee_id": "E-1",
                "date_from": "2026-09-22",
                "date_to": "2026-09-23",
                "leave_type": "vacation",
                "hours": 16.0,
                "state": "approved",
                "updated_at": "2026-09-20T09:00:00Z",
                "version": 1,
            },
            backend=hr_backend,
        )
        self.assertEqual(leave_event.state, "done", leave_event.result)
        leave = self.env["hr.leave"].search([("employee_id", "=", self.anna.id)])
        self.assertEqual((leave.state, leave.number_of_hours), ("validate", 16.0))
        # Validated in the HR system before September's cut-off.
        self.env.cr.execute(
            "UPDATE hr_leave SET create_date = '2026-09-20 09:00:00' WHERE id = %s", [leave.id]
        )
        leave.invalidate_recordset(["create_date"])
        batch = self.send(self.september)
        self.assertEqual(
            self.lines_of(batch),
            {("Anna Schmidt", "normal"): (8.0, 0.0), ("Anna Schmidt", "leave"): (16.0, 0.0)},
        )
        self.assertTrue(batch.attachment_id.name.endswith(".xlsx"))
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(batch.attachment_id.datas))) as xlsx:
            strings = xlsx.read("xl/sharedStrings.xml").decode()
        for text in ("payroll_id", "PR-100", "normal", "leave"):
            self.assertIn(text, strings)
