import json
import re
from unittest.mock import patch

from odoo.addons.psa_connector_base.tools.access import workflow_write

from .common import TimesheetCase, time_entry_data


class TestTimeEntries(TimesheetCase):
    def test_approved_entry_becomes_one_line_and_replays_change_nothing(self):
        event = self.apply("time_entry.created", time_entry_data())
        self.assertEqual(event.state, "done", event.result)
        line = self.line()
        self.assertEqual(line.employee_id, self.anna)
        self.assertEqual((line.project_id, line.task_id), (self.project, self.task))
        self.assertEqual(
            (str(line.date), line.unit_amount, line.name), ("2026-11-16", 6.5, "Mapping workshop")
        )
        self.assertEqual(line.account_id, self.project.account_id)
        self.apply("time_entry.created", time_entry_data(), event_id=event.event_uid)
        self.env["psa.event"]._store_pulled(
            self.backend, "time_entry", [time_entry_data()]
        )._enqueue_batch()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(
            self.env["account.analytic.line"].search_count([("project_id", "=", self.project.id)]),
            1,
        )

    def test_submitted_and_rejected_entries_create_no_line(self):
        for state in ("submitted", "rejected"):
            event = self.apply("time_entry.created", time_entry_data(id=f"TE-{state}", state=state))
            self.assertEqual(event.state, "skipped")
            self.assertFalse(self.line(f"TE-{state}"))

    def test_approval_mapping_is_configurable(self):
        self.backend.approved_time_states = "approved, final"
        self.apply("time_entry.created", time_entry_data(state="final"))
        self.assertTrue(self.line())

    def test_update_before_invoice_changes_the_line_in_place(self):
        self.apply("time_entry.created", time_entry_data())
        line = self.line()
        self.apply(
            "time_entry.updated",
            time_entry_data(hours=7.25, description="Workshop + notes", version=2),
        )
        self.assertEqual(self.line(), line)
        self.assertEqual((line.unit_amount, line.name), (7.25, "Workshop + notes"))

    def test_update_after_invoice_raises_a_conflict_and_leaves_the_line(self):
        self.apply("time_entry.created", time_entry_data())
        line = self.line()
        invoice = self.invoice_project_time()
        self.assertEqual(line.timesheet_invoice_id, invoice)
        pushes = self.env["queue.job"].search([("method_name", "=", "_push_billed_job")])
        self.assertEqual(len(pushes), 1, "the PSA is told which entries are billed")
        self.assertEqual(pushes.args[0], ["TE-1"])

        event = self.apply("time_entry.updated", time_entry_data(hours=9.0, version=2))
        self.assertEqual(event.state, "failed")
        self.assertEqual(line.unit_amount, 6.5)
        conflict = event.exception_ids
        self.assertEqual(conflict.category, "conflict")
        self.assertEqual(json.loads(conflict.incoming_values), {"unit_amount": 9.0})
        self.assertEqual(json.loads(conflict.current_values), {"unit_amount": 6.5})
        self.assertIn(invoice.name, conflict.name)

        unapproved = self.apply("time_entry.updated", time_entry_data(state="submitted", version=3))
        self.assertEqual(unapproved.state, "failed")
        self.assertTrue(line.exists())

    def test_unapproval_or_deletion_removes_a_line_not_yet_invoiced(self):
        self.apply("time_entry.created", time_entry_data())
        line = self.line()
        self.apply("time_entry.updated", time_entry_data(state="submitted", version=2))
        self.assertFalse(line.exists())
        log = self.env["psa.audit.log"].search(
            [("operation", "=", "delete"), ("external_id", "=", "TE-1")]
        )
        self.assertEqual(json.loads(log.values)["unit_amount"], 6.5)
        # A replay of the older approved version cannot bring it back.
        self.apply("time_entry.updated", time_entry_data(version=1))
        self.assertFalse(self.line())
        # Approved again: a new line; then deleted: gone.
        self.apply("time_entry.updated", time_entry_data(version=3))
        self.assertTrue(self.line())
        self.apply(
            "time_entry.deleted", {"id": "TE-1", "version": 4, "updated_at": "2026-11-18T00:00:00Z"}
        )
        self.assertFalse(self.line())

    def test_locked_line_is_protected_and_reported(self):
        self.apply("time_entry.created", time_entry_data())
        self.line().action_psa_lock()
        self.assertTrue(self.env["queue.job"].search([("method_name", "=", "_push_billed_job")]))
        event = self.apply("time_entry.deleted", {"id": "TE-1", "version": 2})
        self.assertEqual(event.exception_ids.category, "conflict")
        self.assertTrue(self.line())

    def test_employee_by_work_email_when_no_binding_names_them(self):
        self.apply("time_entry.created", time_entry_data(employee_id="E-unknown"))
        self.assertEqual(self.line().employee_id, self.anna)

    def test_unknown_employee_waits_then_lands_when_the_employee_arrives(self):
        data = time_entry_data(
            id="TE-2", employee_id="E-2", employee_email="ben.okafor@consultancy.example"
        )
        event = self.apply("time_entry.created", data)
        self.assertEqual(event.state, "waiting")
        waiting = event.exception_ids
        self.assertEqual(
            (waiting.category, waiting.waiting_type), ("missing_reference", "employee")
        )
        ben = self.env["hr.employee"].create(
            {"name": "Ben Okafor", "work_email": "ben.okafor@consultancy.example"}
        )
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "done")
        self.assertEqual(self.line("TE-2").employee_id, ben)
        self.assertEqual(waiting.state, "resolved")

    def test_many_entries_released_by_one_employee_are_queued_in_chunks(self):
        email = "dana.kim@consultancy.example"
        entries = [
            time_entry_data(id=f"TE-D{i}", employee_id="E-9", employee_email=email)
            for i in range(30)
        ]
        events = self.env["psa.event"]._store_pulled(self.backend, "time_entry", entries)
        events._process_job()
        self.assertEqual(set(events.mapped("state")), {"waiting"})
        jobs_before = self.env["queue.job"].search_count([("method_name", "=", "_process_job")])
        self.env["hr.employee"].create({"name": "Dana Kim", "work_email": email})
        released = (
            self.env["queue.job"].search_count([("method_name", "=", "_process_job")]) - jobs_before
        )
        self.assertEqual(released, 1, "30 waiting entries make one chunk job, not 30")
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(set(events.mapped("state")), {"done"})

    def test_employee_bound_by_another_backend_of_the_company(self):
        hr_backend = self._create_backend(code="hr-system", kind="hr")
        carla = self.env["hr.employee"].create({"name": "Carla Reyes"})
        data = time_entry_data(id="TE-3", employee_id="E-3", employee_email=None)
        event = self.apply("time_entry.created", data)
        self.assertEqual(event.state, "waiting")
        self.env["psa.binding"].create(
            {
                "backend_id": hr_backend.id,
                "external_type": "employee",
                "external_id": "E-3",
                "res_model": "hr.employee",
                "res_id": carla.id,
            }
        )
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(self.line("TE-3").employee_id, carla)

    def test_non_billable_entry_stays_off_the_sale_order(self):
        self.apply("time_entry.created", time_entry_data(billable=False))
        self.apply("time_entry.created", time_entry_data(id="TE-4"))
        invoice = self.invoice_project_time()
        self.assertFalse(self.line().so_line)
        self.assertFalse(self.line().timesheet_invoice_id)
        self.assertEqual(self.line("TE-4").timesheet_invoice_id, invoice)

    def test_a_chunk_is_created_in_one_batch_with_per_entry_outcomes(self):
        entries = [
            time_entry_data(id=f"TE-B{i}", hours=1 + i % 4, updated_at=f"2026-11-17T08:00:{i:02d}Z")
            for i in range(30)
        ]
        entries[5]["project_id"] = "P-404"  # waits for its project
        entries[6]["hours"] = "lots"  # invalid
        events = self.env["psa.event"]._store_pulled(self.backend, "time_entry", entries)
        events._process_job()
        states = dict(zip(events.mapped("external_id"), events.mapped("state"), strict=True))
        self.assertEqual(states.pop("TE-B5"), "waiting")
        self.assertEqual(states.pop("TE-B6"), "failed")
        self.assertEqual(set(states.values()), {"done"})
        lines = self.env["account.analytic.line"].search([("project_id", "=", self.project.id)])
        self.assertEqual(len(lines), 28)
        self.assertEqual(
            sum(lines.mapped("unit_amount")),
            sum(e["hours"] for i, e in enumerate(entries) if i not in (5, 6)),
        )
        batch_logs = self.env["psa.audit.log"].search([("message", "like", "batch")])
        self.assertEqual(len(batch_logs), 28)

    def test_a_batch_inserts_bindings_and_audit_rows_whole(self):
        """A batch's bindings and audit rows are inserted with their company, not
        inserted and then updated row by row (month-end: thousands of rows a chunk)."""
        import odoo.sql_db

        entries = [
            time_entry_data(id=f"TE-W{i}", updated_at=f"2026-11-17T09:00:{i:02d}Z")
            for i in range(12)
        ]
        events = self.env["psa.event"]._store_pulled(self.backend, "time_entry", entries)
        self.env.flush_all()
        statements = []
        execute = odoo.sql_db.Cursor.execute

        def recording(cursor, query, params=None, log_exceptions=True):
            statements.append(str(getattr(query, "code", query)))
            return execute(cursor, query, params, log_exceptions)

        with patch.object(odoo.sql_db.Cursor, "execute", recording):
            events._process_job()
            self.env.flush_all()
        self.assertEqual(set(events.mapped("state")), {"done"})
        bindings = self.env["psa.binding"].search([("external_id", "like", "TE-W")])
        audits = self.env["psa.audit.log"].search([("external_id", "like", "TE-W")])
        self.assertEqual(len(bindings), 12)
        self.assertEqual(len(audits), 12)
        self.assertEqual(
            set(bindings.company_id.ids + audits.company_id.ids), {self.backend.company_id.id}
        )
        updates = [
            q for q in statements if re.match(r'\s*UPDATE\s+"?(psa_binding|psa_audit_log)\b', q)
        ]
        self.assertEqual(updates, [])

    def test_an_event_that_failed_before_is_retried_one_by_one(self):
        """The batch leaves out an event with an exception: applied one by one, its
        exception is resolved."""
        entries = [
            time_entry_data(id=f"TE-R{i}", updated_at=f"2026-11-17T10:00:{i:02d}Z")
            for i in range(8)
        ]
        entries[3]["project_id"] = "P-405"
        events = self.env["psa.event"]._store_pulled(self.backend, "time_entry", entries)
        events._process_job()
        failed = events.filtered(lambda e: e.external_id == "TE-R3")
        self.assertEqual(failed.state, "waiting")
        exception = failed.exception_ids
        self.assertEqual(len(exception), 1)
        # The entry corrected in place (as a replay or a fixed reference would), then the
        # chunk run again: the batch skips the event with an exception, which is applied
        # one by one and resolves it.
        with workflow_write():
            failed.write({"payload": failed.payload.replace("P-405", "P-1"), "state": "pending"})
        events._process_job()
        self.assertEqual(failed.state, "done")
        self.assertEqual(exception.state, "resolved")

    def test_a_batch_naming_another_companys_project_is_refused(self):
        """The batch creates its lines under sudo: what it names must be the backend's
        company's, checked before the create (else the entries go one by one, under the
        integration user's own record rules)."""
        from odoo.addons.psa_connector_base.tools.errors import SyncConflict

        Importer = self.env["psa.importer.time_entry"]
        values = {"employee_id": self.anna.id, "project_id": self.project.id}
        Importer._check_batch_company(self.backend, [values])  # same company: fine
        other = self.env["res.company"].create({"name": "Batch Other Ltd"})
        foreign = self.env["project.project"].create({"name": "Foreign", "company_id": other.id})
        with self.assertRaises(SyncConflict):
            Importer._check_batch_company(
                self.backend, [values, {**values, "project_id": foreign.id}]
            )
