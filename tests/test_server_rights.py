"""Every control enforced on the server: what a realistic user can do through the ORM
(exactly what JSON-RPC gives them), whatever the views show.

Each hole is tried as the role that had it (a Connector Manager, an HR officer, a
Connector User), and the legitimate workflow is run next to it.
"""

import inspect
import json

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user

from odoo.addons.psa_connector_base.tests.common import customer_data, project_data
from odoo.addons.psa_connector_hr.tests.common import (
    HrSyncCase,
    department_data,
    employee_data,
)
from odoo.addons.psa_connector_hr_payroll.tests.payroll_common import PayrollCase

from .common import SuiteTagsMixin, SuiteTransactionCase

MANAGER = "psa_connector_base.group_connector_manager"
USER = "psa_connector_base.group_connector_user"


class TestBindingsAndPendingLinks(SuiteTagsMixin, HrSyncCase):
    """A Connector Manager must not reach Settings through a link the sync applies."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(cls.env, "rights_manager", groups=MANAGER)
        cls.settings = cls.env.ref("base.group_system")

    def link_values(self, **values):
        return {
            "backend_id": self.backend.id,
            "res_model": "res.users",
            "res_id": self.manager.id,
            "field_name": "groups_id",
            "external_type": "employee",
            "external_id": "E-EVIL",
            **values,
        }

    def test_manager_cannot_create_a_link_or_binding_to_their_own_groups(self):
        Link = self.env["psa.pending.link"].with_user(self.manager)
        with self.assertRaises(AccessError):
            Link.create(self.link_values())
        # Not even to a declared target: where a link writes is the importers' choice.
        employee = self.env["hr.employee"].create({"name": "Bob"})
        with self.assertRaises(AccessError):
            Link.create(
                self.link_values(
                    res_model="hr.employee", res_id=employee.id, field_name="parent_id"
                )
            )
        Binding = self.env["psa.binding"].with_user(self.manager)
        with self.assertRaises(AccessError):
            Binding.create(
                {
                    "backend_id": self.backend.id,
                    "external_type": "employee",
                    "external_id": "E-EVIL",
                    "res_model": "res.groups",
                    "res_id": self.settings.id,
                }
            )
        self.assertFalse(self.manager.has_group("base.group_system"))
        self.assertFalse(self.env["psa.pending.link"].search([("external_id", "=", "E-EVIL")]))

    def test_manager_cannot_repoint_or_rewind_a_binding(self):
        employee = self.env["hr.employee"].create({"name": "Carla"})
        binding = self.env["psa.binding"].create(
            {
                "backend_id": self.backend.id,
                "external_type": "employee",
                "external_id": "E-7",
                "res_model": "hr.employee",
                "res_id": employee.id,
                "external_version": 5,
            }
        )
        for values in (
            {"res_model": "res.groups", "res_id": self.settings.id},
            {"res_id": self.manager.employee_ids[:1].id or 1},
            {"external_id": "E-8"},
            {"external_version": 0, "external_updated_at": False},
            {"synced_values": "{}"},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                binding.with_user(self.manager).write(values)
        self.assertEqual(
            (binding.res_model, binding.res_id, binding.external_version),
            ("hr.employee", employee.id, 5),
        )

    def test_undeclared_targets_are_refused_even_to_code(self):
        # A link to an undeclared field is refused under sudo too...
        with self.assertRaises(ValidationError):
            self.env["psa.pending.link"].sudo().create(self.link_values())
        # ... and a binding pair no importer declares is refused to code that is not sudo.
        with self.assertRaisesRegex(AccessError, "cannot be bound to a record of res.groups"):
            self.env["psa.binding"].with_user(self.manager)._psa_check_bindable(
                [("employee", "res.groups")]
            )
        self.assertIn("hr.employee", self.env["psa.binding"]._psa_bindable_models()["employee"])

    def test_apply_never_writes_an_undeclared_pair_under_sudo(self):
        # A row that got in behind the ORM (SQL): the sudo write re-checks the pair.
        self.env.cr.execute(
            """INSERT INTO psa_pending_link (backend_id, company_id, res_model, res_id,
                   field_name, external_type, external_id)
               VALUES (%s, %s, 'res.users', %s, 'groups_id', 'employee', 'E-EVIL')""",
            (self.backend.id, self.backend.company_id.id, self.manager.id),
        )
        someone = self.env["hr.employee"].create({"name": "Dan"})
        self.env["psa.binding"].create(
            {
                "backend_id": self.backend.id,
                "external_type": "employee",
                "external_id": "E-EVIL",
                "res_model": "hr.employee",
                "res_id": someone.id,
            }
        )
        self.manager.invalidate_recordset()
        self.assertFalse(self.manager.has_group("base.group_system"))
        self.assertNotIn(self.settings, self.manager.groups_id)
        self.assertFalse(self.env["psa.pending.link"].search([("external_id", "=", "E-EVIL")]))

    def test_declared_links_still_complete_when_the_manager_arrives(self):
        self.assertEqual(self.apply("department.created", department_data()).state, "done")
        # The team member first, pointing to a manager the connector has not seen yet.
        member = self.apply(
            "employee.created",
            employee_data(
                id="E-2",
                name="Eve",
                email="eve@x.example",
                work_email="eve@x.example",
                manager_id="E-1",
            ),
        )
        self.assertEqual(member.state, "done", member.result)
        eve = self.bound("employee", "E-2")
        self.assertFalse(eve.parent_id)
        boss = self.apply(
            "employee.created",
            employee_data(
                id="E-1", name="Frank", email="frank@x.example", work_email="frank@x.example"
            ),
        )
        self.assertEqual(boss.state, "done", boss.result)
        self.assertEqual(eve.parent_id, self.bound("employee", "E-1"))
        self.assertFalse(self.env["psa.pending.link"].search([]))


class TestPayrollWorkflow(SuiteTagsMixin, PayrollCase):
    """An HR officer can build an export, not approve or send it by writing fields."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hr_manager = new_test_user(
            cls.env, "rights_hr_manager", groups="hr.group_hr_manager", company_id=cls.company.id
        )

    def setUp(self):
        super().setUp()
        self.entry("TE-P1", "2026-09-10", 8.0)

    def test_hr_officer_cannot_approve_by_writing_fields(self):
        Batch = self.env["psa.payroll.batch"].with_user(self.hr_user)
        forged = {
            "period_id": self.september.id,
            "state": "approved",
            "approved_by_id": self.hr_manager.id,
            "payload": json.dumps({"lines": [{"employee_id": "PR-100", "hours": 999}]}),
        }
        with self.assertRaises(AccessError):
            Batch.create(forged)
        # Context defaults travel over RPC too: they are not the model's defaults.
        sneaky = Batch.with_context(
            default_state="approved",
            default_approved_by_id=self.hr_manager.id,
            default_period_id=self.september.id,
        )
        with self.assertRaises(AccessError):
            sneaky.create({"period_id": self.september.id, "state": "approved"})
        self.assertFalse(self.september.batch_ids)
        batch = self.september.with_user(self.hr_user).action_compute_batch()
        self.assertEqual(batch.state, "to_approve")
        for values in (
            {"state": "approved"},
            {"approved_by_id": self.hr_manager.id},
            {"approved_date": "2026-10-03 10:00:00"},
            {"sent_date": "2026-10-03 10:00:00"},
            {"payload": forged["payload"]},
            {"kind": "adjustment"},
            {"name": "PAY/forged"},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                batch.with_user(self.hr_user).write(values)
        with self.assertRaises(AccessError):
            batch.line_ids.with_user(self.hr_user).write({"hours": 999})
        with self.assertRaises(AccessError):
            batch.entry_ids.with_user(self.hr_user).write({"hours": 999})
        with self.assertRaises(AccessError):
            self.september.with_user(self.hr_user).write({"state": "sent"})
        # The daily export sends approved batches only: this one still waits.
        self.env["psa.payroll.period"]._cron_payroll_export()
        self.assertEqual(batch.state, "to_approve")
        self.assertFalse(batch.payload or batch.sent_date or batch.approved_by_id)

    def test_employee_cannot_recategorise_or_unlock_their_own_time(self):
        anna_user = new_test_user(
            self.env,
            "rights_anna",
            groups="hr_timesheet.group_hr_timesheet_user",
            company_id=self.company.id,
        )
        self.anna.user_id = anna_user
        line = self.line("TE-P1")
        own = line.with_user(anna_user)
        own.check_access("write")  # her own line: the ACL lets her edit it
        for values in (
            {"psa_pay_category": "overtime"},
            {"psa_approved_date": "2026-09-01 08:00:00"},
            {"psa_billable": False},
            {"psa_locked": True},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                own.write(values)
        with self.assertRaises(AccessError):
            self.env["account.analytic.line"].with_user(anna_user).create(
                {
                    "name": "Extra",
                    "project_id": self.project.id,
                    "employee_id": self.anna.id,
                    "unit_amount": 2.0,
                    "date": "2026-09-11",
                    "psa_pay_category": "overtime",
                }
            )
        # Finance locks it through the action; the employee cannot unlock it.
        finance = new_test_user(
            self.env,
            "rights_lock_fin",
            groups=f"{USER},hr_timesheet.group_timesheet_manager",
            company_id=self.company.id,
        )
        line.with_user(finance).action_psa_lock()
        self.assertTrue(line.psa_locked)
        with self.assertRaises(AccessError):
            own.write({"psa_locked": False})
        batch = self.september.with_user(self.hr_user).action_compute_batch()
        self.assertEqual(batch.line_ids.mapped("category"), ["normal"])

    def test_checks_are_accepted_through_the_checkpoint_only(self):
        self.anna.psa_payroll_id = False  # a finding: no payroll id
        batch = self.september.with_user(self.hr_user).action_compute_batch()
        check = batch.check_ids
        self.assertEqual(check.mapped("kind"), ["no_payroll_id"])
        for values in (
            {"state": "accepted"},
            {"accepted_by_id": self.hr_manager.id},
            {"name": "Nothing to see"},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                check.with_user(self.hr_user).write(values)
        with self.assertRaisesRegex(UserError, "open validation checks"):
            batch.with_user(self.hr_manager).action_approve()
        check.with_user(self.hr_user).action_accept()
        self.assertEqual((check.state, check.accepted_by_id), ("accepted", self.hr_user))

    def test_officer_builds_another_approves_and_roles_are_checked(self):
        batch = self.september.with_user(self.hr_user).action_compute_batch()
        # A Connector Manager without HR rights neither approves nor builds payroll.
        connector = new_test_user(self.env, "rights_conn_mgr", groups=MANAGER)
        with self.assertRaises(AccessError):
            batch.with_user(connector).action_approve()
        with self.assertRaises(AccessError):
            self.september.with_user(connector).action_compute_batch()
        batch.with_user(self.hr_manager).action_approve()
        self.assertEqual(batch.state, "sent")
        self.assertEqual(batch.approved_by_id, self.hr_manager)
        self.assertEqual(
            json.loads(batch.payload)["lines"],
            [
                {
                    "employee_id": "PR-100",
                    "employee_name": "Anna Schmidt",
                    "category": "normal",
                    "hours": 8.0,
                    "amount": 0.0,
                    "late_hours": 0.0,
                }
            ],
        )
        self.assertEqual(self.september.state, "sent")


class TestReconciliationContents(SuiteTransactionCase):
    """Re-import acts on what the PSA says, never on text a user could type."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.simulator = cls.start_simulator()
        cls.backend = cls._create_backend(code="sim-rights", base_url=cls.simulator.url)
        for employee in cls.simulator.records("employee"):
            cls.env["hr.employee"].create(
                {"name": employee["name"], "work_email": employee["work_email"]}
            )
        cls.finance = new_test_user(cls.env, "rights_finance", groups=USER)
        cls.manager = new_test_user(cls.env, "rights_recon_mgr", groups=MANAGER)

    def setUp(self):
        super().setUp()
        self.simulator.reset()
        self.backend.action_pull_now()
        self.run_jobs()
        template = next(e for e in self.simulator.records("time_entry") if e["state"] == "approved")
        self.lost = self.simulator.create(
            "time_entry",
            {
                **{
                    k: template[k]
                    for k in ("project_id", "task_id", "employee_id", "employee_email", "billable")
                },
                "id": "TE-LOST",
                "date": "2026-11-20",
                "hours": 3.5,
                "state": "approved",
                "description": "Lost in transit",
            },
        )
        self.template = template

    def run_report(self, user):
        report = (
            self.env["psa.timesheet.reconciliation"]
            .with_user(user)
            .create(
                {"backend_id": self.backend.id, "date_from": "2026-11-01", "date_to": "2026-12-31"}
            )
        )
        report.action_run()
        self.assertEqual(report.state, "done", report.error_message)
        return report

    def test_findings_cannot_be_edited_and_reimport_refetches_from_the_psa(self):
        report = self.run_report(self.finance)
        line = report.line_ids.filtered("missing_count")
        self.assertEqual(json.loads(line.missing_entries)[0]["id"], "TE-LOST")
        forged = [{**self.template, "id": "TE-FORGED", "hours": 99.0}]
        for values in (
            {"missing_entries": json.dumps(forged)},
            {"missing_count": 5},
            {"kind": "hours_differ"},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                line.with_user(self.finance).write(values)
        with self.assertRaises(AccessError):
            report.with_user(self.finance).write({"state": "draft", "missing_entry_count": 0})
        with self.assertRaisesRegex(UserError, "keeps its backend and period"):
            report.with_user(self.finance).write({"date_from": "2026-01-01"})
        with self.assertRaises(AccessError):
            self.env["psa.timesheet.reconciliation.line"].with_user(self.finance).create(
                {
                    "reconciliation_id": report.id,
                    "kind": "missing_in_odoo",
                    "missing_entries": json.dumps(forged),
                }
            )
        with self.assertRaises(AccessError):
            line.with_user(self.finance).unlink()
        # A finding set through a context default is not the model's default either.
        sneaky = (
            self.env["psa.timesheet.reconciliation"]
            .with_user(self.finance)
            .with_context(default_state="done", default_missing_entry_count=7)
            .create(
                {"backend_id": self.backend.id, "date_from": "2026-11-01", "date_to": "2026-11-02"}
            )
        )
        self.assertEqual((sneaky.state, sneaky.missing_entry_count), ("draft", 0))
        # Re-importing is a pull: the Connector Manager's.
        with self.assertRaises(AccessError):
            report.with_user(self.finance).action_reimport_missing()
        # Even text changed behind the ORM only names ids; the values come from the PSA.
        line.sudo().missing_entries = json.dumps(
            [{"id": "TE-LOST", "hours": 99.0}, {"id": "TE-FORGED", "hours": 42.0}]
        )
        report.with_user(self.manager).action_reimport_missing()
        self.run_jobs()
        self.assertEqual(self.bound("time_entry", "TE-LOST").unit_amount, 3.5)
        self.assertFalse(self.bound("time_entry", "TE-FORGED"))


class TestExceptionMapWizard(SuiteTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls._create_backend(code="map-rights")
        cls.finance = new_test_user(cls.env, "rights_map_fin", groups=USER)

    def test_map_binds_the_exceptions_model_to_a_readable_record_only(self):
        event = self.apply("project.created", project_data(customer_id="C-9"))
        exception = event.exception_ids
        self.assertTrue(exception.can_map_reference)
        Wizard = self.env["psa.exception.map.wizard"].with_user(self.finance)
        # A forged model is ignored: the id is read as an id of the exception's model
        # (res.partner), so it never binds the customer to the Settings group.
        settings = self.env.ref("base.group_system")
        other_event = self.apply(
            "project.created", project_data(id="P-2", code="X-2", customer_id="C-10")
        )
        forged = Wizard.create(
            {
                "exception_id": other_event.exception_ids.id,
                "res_model": "res.groups",
                "res_id": settings.id,
            }
        )
        forged.write({"res_model": "res.groups"})
        try:
            with self.env.cr.savepoint():
                forged.action_map_and_retry()
        except (UserError, AccessError):
            pass
        self.assertFalse(self.env["psa.binding"].search([("res_model", "=", "res.groups")]))
        wizard = Wizard.create(
            {"exception_id": exception.id, "res_model": "res.groups", "res_id": 10**9}
        )
        with self.assertRaisesRegex(UserError, "Choose the Odoo record"):
            wizard.action_map_and_retry()
        # A partner of another company is not the user's to read, so not theirs to map.
        other = self.env["res.company"].create({"name": "Elsewhere Ltd"})
        hidden = self.env["res.partner"].create({"name": "Hidden", "company_id": other.id})
        wizard = Wizard.create(
            {"exception_id": exception.id, "res_model": "res.groups", "res_id": hidden.id}
        )
        with self.assertRaises(AccessError):
            wizard.action_map_and_retry()
        partner = self.env["res.partner"].create({"name": "Northwind"})
        wizard = Wizard.create(
            {"exception_id": exception.id, "res_model": "res.groups", "res_id": partner.id}
        )
        wizard.action_map_and_retry()
        binding = self.env["psa.binding"].search(
            [("backend_id", "=", self.backend.id), ("external_id", "=", "C-9")]
        )
        self.assertEqual((binding.res_model, binding.res_id), ("res.partner", partner.id))
        self.assertFalse(self.env["psa.binding"].search([("res_model", "=", "res.groups")]))
        self.run_jobs()
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(self.bound("project", "P-1").partner_id, partner)


class TestRecordsOfTheSync(SuiteTransactionCase):
    """Records the sync keeps (events, watermarks, proofs, push state) are not edited by hand."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls._create_backend(code="sync-rights")
        cls.manager = new_test_user(cls.env, "rights_sync_mgr", groups=MANAGER)
        cls.finance = new_test_user(cls.env, "rights_sync_fin", groups=USER)

    def test_manager_cannot_rewrite_events_or_watermarks(self):
        event = self.apply("customer.created", customer_data(id="C-5"))
        self.assertEqual(event.state, "done", event.result)
        for values in (
            {"state": "pending"},
            {"payload": json.dumps({"data": customer_data(id="C-5", name="Forged")})},
            {"job_uuid": False},
            {"correlation_id": "x"},
            {"replay_of_id": event.id},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                event.with_user(self.manager).write(values)
        watermark = self.env["psa.sync.watermark"]._for(self.backend, "customer")
        with self.assertRaises(AccessError):
            watermark.with_user(self.manager).write({"last_updated_at": "2999-01-01T00:00:00Z"})
        with self.assertRaises(AccessError):
            self.env["psa.sync.watermark"].with_user(self.manager).create(
                {"backend_id": self.backend.id, "object_type": "project"}
            )

    def test_proofs_push_state_and_allocations_belong_to_the_sync(self):
        with self.assertRaises(AccessError):
            self.env["psa.billing.event.record"].with_user(self.manager).create(
                {"backend_id": self.backend.id, "idempotency_key": "BE-1"}
            )
        with self.assertRaises(AccessError):
            self.env["psa.vendor.bill.record"].with_user(self.manager).create(
                {"backend_id": self.backend.id, "idempotency_key": "VB-1"}
            )
        project = self.env["project.project"].create({"name": "Rights"})
        push = self.env["psa.forecast.push"].create(
            {"backend_id": self.backend.id, "project_id": project.id}
        )
        with self.assertRaises(AccessError):
            push.with_user(self.manager).write({"dirty": True, "job_pending": True})
        employee = self.env["hr.employee"].create({"name": "Gina"})
        allocation = self.env["psa.allocation"].create(
            {
                "employee_id": employee.id,
                "project_id": project.id,
                "date_from": "2026-12-01",
                "date_to": "2026-12-31",
                "hours_per_day": 4.0,
            }
        )
        with self.assertRaises(AccessError):
            allocation.with_user(self.manager).write({"hours_per_day": 8.0})
        self.assertEqual(allocation.hours_per_day, 4.0)
        hr_manager = new_test_user(self.env, "rights_sync_hrm", groups="hr.group_hr_manager")
        employee._psa_set_hourly_cost(80.0, "2026-01-01", self.env.company.currency_id)
        rate = self.env["psa.employee.cost.history"].search([("employee_id", "=", employee.id)])
        with self.assertRaises(AccessError):
            rate.with_user(hr_manager).write({"hourly_cost": 1.0})
        with self.assertRaises(AccessError):
            rate.with_user(hr_manager).create(
                {
                    "employee_id": employee.id,
                    "effective_date": "2026-06-01",
                    "hourly_cost": 1.0,
                    "currency_id": self.env.company.currency_id.id,
                }
            )
        self.assertEqual(rate.hourly_cost, 80.0)

    def test_connector_user_cannot_run_manager_actions(self):
        backend = self.backend.with_user(self.finance)
        for method in (
            "action_pull_now",
            "action_test_connection",
            "action_generate_webhook_secret",
            "action_push_actuals_now",
            "action_create_draft_invoices",
            "action_push_project_financials",
            "action_push_account_health",
        ):
            with self.subTest(method=method), self.assertRaises(AccessError):
                getattr(backend, method)()
        wizard = self.env["psa.utilisation.compute.wizard"].with_user(self.finance).create({})
        with self.assertRaises(AccessError):
            wizard.action_compute()
        internal = new_test_user(self.env, "rights_internal", groups="base.group_user")
        line = self.env["account.analytic.line"].browse()
        with self.assertRaises(AccessError):
            line.with_user(internal).action_psa_lock()


# Public names of the suite's classes that need no group of their own: the ORM's (their
# access is the ACL and record rules, plus the workflow-field guard) and field hooks.
EXEMPT = {
    "create",
    "write",
    "unlink",
    "copy",
    "read",
    "read_group",
    "search",
    "name_search",
    "default_get",
    "export_data",  # psa.backend: the ORM's export, with the secrets left out
    "init",  # database setup at install, not callable over RPC
}


class TestEveryPublicMethodHasAGroup(SuiteTransactionCase):
    def suite_methods(self, model_name):
        """(name, module) of public methods the suite's addons define on a model."""
        seen = set()
        for klass in type(self.env[model_name]).__mro__:
            module = getattr(klass, "__module__", "")
            if not module.startswith("odoo.addons.psa_connector_"):
                continue
            for name, member in vars(klass).items():
                if name.startswith("_") or name in seen or not inspect.isfunction(member):
                    continue
                seen.add(name)
                yield name, module

    def missing_groups(self, model_names):
        missing = []
        for model_name in model_names:
            for name, module in self.suite_methods(model_name):
                if name in EXEMPT:
                    continue
                # The outermost definition a call reaches must carry the check.
                reached = getattr(type(self.env[model_name]), name)
                if not getattr(reached, "_psa_required_groups", None):
                    missing.append(f"{model_name}.{name} ({module})")
        return missing

    def test_every_psa_model_method_requires_a_group(self):
        names = [name for name in self.env.registry if name.startswith("psa.")]
        self.assertGreater(len(names), 20)
        self.assertEqual(self.missing_groups(names), [])

    def test_methods_added_to_standard_models_require_a_group(self):
        standard = [
            name
            for name in self.env.registry
            if not name.startswith("psa.")
            and any(
                getattr(klass, "__module__", "").startswith("odoo.addons.psa_connector_")
                for klass in type(self.env[name]).__mro__
            )
        ]
        self.assertIn("account.analytic.line", standard)
        # Overrides of the standard model's own buttons keep the standard's rights.
        # (get_lines: OCA account_cutoff_base's button, which the month close extends.)
        overrides = {"button_cancel", "button_draft", "get_lines"}
        missing = [
            entry
            for entry in self.missing_groups(standard)
            if entry.split(" ")[0].rsplit(".", 1)[1] not in overrides
        ]
        self.assertEqual(missing, [])

    def test_the_walk_finds_a_method_without_a_group(self):
        # The walk can fail: a public method added without the decorator is reported.
        module = "odoo.addons.psa_connector_hr_payroll.models.psa_payroll_batch"
        klass = next(
            k for k in type(self.env["psa.payroll.batch"]).__mro__ if k.__module__ == module
        )

        def action_probe(self):
            return True

        klass.action_probe = action_probe
        try:
            self.assertEqual(
                self.missing_groups(["psa.payroll.batch"]),
                [f"psa.payroll.batch.action_probe ({module})"],
            )
        finally:
            del klass.action_probe
