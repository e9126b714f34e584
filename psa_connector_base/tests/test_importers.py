import json

from odoo.exceptions import AccessError

from .common import PsaTransactionCase, customer_data, project_data, task_data


class TestImporters(PsaTransactionCase):
    def test_project_event_creates_partner_project_analytic_account_and_bindings_once(self):
        payload = project_data(customer=customer_data())
        event = self.apply("project.created", payload)
        self.assertEqual(event.state, "done", event.result)
        project = self.bound("project", "P-1")
        partner = self.bound("customer", "C-1")
        self.assertEqual(project.partner_id, partner)
        self.assertEqual(partner.vat, "DE811907980")
        self.assertEqual(project.company_id, self.backend.company_id)
        self.assertEqual(project.account_id.code, "NW-ERP-26")
        self.assertEqual(project.stage_id, self.env.ref("project.project_project_stage_1"))
        write_backs = self.env["queue.job"].search([("method_name", "=", "_write_back_job")])
        self.assertEqual(len(write_backs), 2, "customer and project ids are written back")

        # The same data again, by replay and as a pull, changes nothing.
        self.apply("project.created", payload, event_id=event.event_uid)
        self.env["psa.event"]._store_pulled(
            self.backend, "project", [project_data()]
        )._enqueue_batch()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(
            self.env["project.project"].search_count([("name", "=", "ERP rollout")]), 1
        )
        self.assertEqual(self.env["res.partner"].search_count([("vat", "=", "DE811907980")]), 1)
        self.assertEqual(
            self.env["psa.binding"].search_count([("backend_id", "=", self.backend.id)]), 2
        )
        pulled = self.env["psa.event"].search([("source", "=", "pull")])
        self.assertEqual(pulled.state, "skipped")
        self.assertEqual(project.account_id.code, "NW-ERP-26")

    def test_newer_version_updates_and_stale_update_is_skipped(self):
        self.apply("customer.created", customer_data())
        self.apply(
            "customer.updated",
            customer_data(name="Northwind AG", version=3, updated_at="2026-11-03T09:00:00Z"),
        )
        stale = self.apply(
            "customer.updated",
            customer_data(name="Northwind (old)", version=2, updated_at="2026-11-02T09:00:00Z"),
        )
        partner = self.bound("customer", "C-1")
        self.assertEqual(partner.name, "Northwind AG")
        self.assertEqual(stale.state, "skipped")
        self.assertIn("stale", stale.result)
        log = self.env["psa.audit.log"].search([("operation", "=", "skip_stale")])
        self.assertEqual(log.external_id, "C-1")
        # Without integer versions the timestamp decides, to the microsecond.
        self.apply(
            "customer.updated",
            customer_data(name="Micro new", version=None, updated_at="2026-11-04T09:00:00.000002Z"),
        )
        self.apply(
            "customer.updated",
            customer_data(name="Micro old", version=None, updated_at="2026-11-04T09:00:00.000001Z"),
        )
        self.assertEqual(partner.name, "Micro new")

    def test_odoo_owned_field_is_not_overwritten_and_a_real_conflict_is_raised(self):
        self.apply("customer.created", customer_data())
        partner = self.bound("customer", "C-1")
        # Remote changes an Odoo-owned field (city) only: kept, logged, no exception.
        self.apply(
            "customer.updated",
            customer_data(city="Bremen", email="billing@northwind.example", version=2),
        )
        self.assertEqual(partner.city, "Hamburg")
        self.assertEqual(partner.email, "billing@northwind.example")
        self.assertTrue(self.env["psa.audit.log"].search([("operation", "=", "skip_owned")]))
        self.assertFalse(self.exceptions(category="conflict"))
        # Finance changes it in Odoo, the PSA changes it too: a person decides.
        partner.city = "Lübeck"
        self.apply("customer.updated", customer_data(city="Kiel", version=3))
        self.assertEqual(partner.city, "Lübeck")
        conflict = self.exceptions(category="conflict")
        self.assertEqual(len(conflict), 1)
        self.assertEqual(json.loads(conflict.incoming_values), {"city": "Kiel"})
        self.assertEqual(json.loads(conflict.current_values), {"city": "Lübeck"})
        self.assertEqual((conflict.res_model, conflict.res_id), ("res.partner", partner.id))

    def test_ambiguous_partner_match_raises_and_creates_nothing(self):
        Partner = self.env["res.partner"]
        Partner.create(
            [
                {"name": "Northwind A", "vat": "DE811907980", "is_company": True},
                {"name": "Northwind B", "vat": "DE811907980", "is_company": True},
            ]
        )
        event = self.apply("customer.created", customer_data())
        self.assertEqual(event.state, "failed")
        self.assertEqual(Partner.search_count([("vat", "=", "DE811907980")]), 2)
        self.assertFalse(self.bound("customer", "C-1"))
        exception = self.exceptions(category="ambiguous_match")
        self.assertIn("Northwind A", exception.name)
        self.assertEqual(exception.payload, event.payload)

    def test_unique_match_binds_the_existing_partner(self):
        existing = self.env["res.partner"].create(
            {"name": "NORTHWIND", "vat": "DE811907980", "is_company": True}
        )
        self.apply("customer.created", customer_data())
        self.assertEqual(self.bound("customer", "C-1"), existing)
        self.assertEqual(self.env["res.partner"].search_count([("vat", "=", "DE811907980")]), 1)

    def test_task_before_its_project_waits_then_lands_by_itself(self):
        task_event = self.apply("task.created", task_data())
        self.assertEqual(task_event.state, "waiting")
        waiting = self.exceptions(category="missing_reference")
        self.assertEqual((waiting.waiting_type, waiting.waiting_external_id), ("project", "P-1"))
        self.assertFalse(self.bound("task", "T-1"))
        # The project needs its customer, which arrives last: two levels of waiting.
        self.apply("project.created", project_data())
        self.apply("customer.created", customer_data())
        task = self.bound("task", "T-1")
        self.assertTrue(task, "the task was applied without anybody pressing retry")
        self.assertEqual(task.project_id, self.bound("project", "P-1"))
        self.assertEqual(task.allocated_hours, 40)
        self.assertEqual(task_event.state, "done")
        waits = self.exceptions(category="missing_reference")
        self.assertEqual(len(waits), 2)
        self.assertEqual(set(waits.mapped("state")), {"resolved"})

    def test_state_mapping_and_deletion(self):
        self.apply("customer.created", customer_data())
        self.apply("project.created", project_data(state="cancelled"))
        project = self.bound("project", "P-1")
        self.assertFalse(project.active)
        self.assertEqual(project.stage_id, self.env.ref("project.project_project_stage_3"))
        self.apply("project.updated", project_data(state="active", version=2))
        self.assertTrue(project.active)
        self.apply(
            "project.deleted", {"id": "P-1", "version": 3, "updated_at": "2026-11-05T00:00:00Z"}
        )
        self.assertFalse(project.active)
        self.assertTrue(project.exists(), "a remote deletion archives, never deletes")
        unknown = self.apply("project.updated", project_data(state="frozen", version=4))
        self.assertEqual(unknown.state, "failed")
        self.assertIn("No state mapping", self.exceptions(category="invalid_payload").name)

    def test_payload_with_wrong_types_lands_in_the_queue_and_creates_nothing(self):
        event = self.apply("customer.created", customer_data(name=42, vat=["x"]))
        self.assertEqual(event.state, "failed")
        exception = self.exceptions(category="invalid_payload")
        self.assertIn("$.name: expected string", exception.name)
        self.assertFalse(self.bound("customer", "C-1"))
        unsupported = self.apply("invoice.created", {"id": "I-1"})
        self.assertEqual(unsupported.state, "failed")

    def test_retry_after_fixing_the_cause_and_ignore_with_reason(self):
        Partner = self.env["res.partner"]
        duplicates = Partner.create(
            [
                {"name": "A", "vat": "DE811907980", "is_company": True},
                {"name": "B", "vat": "DE811907980", "is_company": True},
            ]
        )
        self.apply("customer.created", customer_data())
        exception = self.exceptions(category="ambiguous_match")
        duplicates[1].vat = False
        exception.action_retry()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(self.bound("customer", "C-1"), duplicates[0])
        bad = self.apply("task.created", task_data(id="T-9", project_id="P-404"))
        waiting = bad.exception_ids
        waiting.action_ignore("Project was never sold.")
        self.assertEqual((waiting.state, bad.state), ("ignored", "ignored"))

    def test_audit_log_is_append_only(self):
        self.apply("customer.created", customer_data())
        log = self.env["psa.audit.log"].search([("operation", "=", "create")])
        self.assertEqual((log.direction, log.res_model), ("in", "res.partner"))
        admin_env = self.env(user=self.env.ref("base.user_admin"), su=False)
        with self.assertRaises(AccessError):
            log.with_env(admin_env).write({"message": "rewritten"})
        with self.assertRaises(AccessError):
            log.with_env(admin_env).unlink()
        log.sudo().unlink()
        self.assertFalse(log.exists())

    def test_waiter_recorded_concurrently_is_picked_up_by_the_sweep(self):
        task_event = self.apply("task.created", task_data(project_id="P-1"))
        waiting = task_event.exception_ids
        # As if the binding had been committed by another worker before the waiter was
        # visible: create the bindings without waking anyone, then sweep.
        self.apply("customer.created", customer_data())
        self.env["psa.exception"].search([]).filtered(lambda e: e != waiting).unlink()
        project = self.env["project.project"].create({"name": "Bound by hand"})
        self.env.cr.execute(
            "INSERT INTO psa_binding (backend_id, external_type, external_id, res_model, res_id)"
            " VALUES (%s, 'project', 'P-1', 'project.project', %s)",
            [self.backend.id, project.id],
        )
        self.assertEqual(waiting.state, "open")
        self.assertEqual(self.env["psa.exception"]._cron_retry_arrived_references(), 1)
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(task_event.state, "done")
        self.assertEqual(self.bound("task", "T-1").project_id, project)

    def test_tasks_carry_their_projects_customer(self):
        self.apply("customer.created", customer_data())
        self.apply("project.created", project_data())
        self.apply("task.created", task_data())
        task = self.bound("task", "T-1")
        self.assertEqual(task.partner_id, self.bound("customer", "C-1"))
