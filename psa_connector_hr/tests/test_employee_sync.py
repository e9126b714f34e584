from datetime import date

from odoo.exceptions import AccessError
from odoo.tests import Form, new_test_user

from .common import HrSyncCase, department_data, employee_data


class TestEmployeeSync(HrSyncCase):
    def test_employee_created_once_with_department_cost_and_write_back(self):
        self.apply("department.created", department_data())
        event = self.apply("employee.created", employee_data())
        self.assertEqual(event.state, "done", event.result)
        employee = self.bound("employee", "E-4001")
        self.assertEqual(employee.work_email, "anna.schmidt@consultancy.example")
        self.assertEqual(employee.job_title, "Managing Consultant")
        self.assertEqual(employee.department_id, self.bound("department", "D-1"))
        self.assertEqual(employee.company_id, self.backend.company_id)
        self.assertEqual(employee.hourly_cost, 85.0)
        self.assertTrue(employee.psa_billable)
        self.assertEqual(employee.psa_start_date, date(2019, 4, 1))
        self.assertEqual(len(employee.psa_cost_history_ids), 1)
        write_backs = self.env["queue.job"].search([("method_name", "=", "_write_back_job")])
        self.assertEqual(len(write_backs), 1, "only the employee id is written back")
        self.assertEqual(write_backs.args[:2], ["employee", "E-4001"])
        self.assertEqual(write_backs.args[2]["id"], employee.id)

        # The same event again, and the same version pulled, change nothing.
        self.apply("employee.created", employee_data(), event_id=event.event_uid)
        self.env["psa.event"]._store_pulled(
            self.backend, "employee", [employee_data()]
        )._enqueue_batch()
        self.run_jobs(methods=("_process_job",))
        Employee = self.env["hr.employee"].with_context(active_test=False)
        self.assertEqual(Employee.search_count([("name", "=", "Anna Schmidt")]), 1)
        self.assertEqual(len(employee.psa_cost_history_ids), 1)
        self.assertEqual(
            self.env["psa.binding"].search_count([("backend_id", "=", self.backend.id)]), 2
        )
        self.assertEqual(self.env["psa.event"].search([("source", "=", "pull")]).state, "skipped")
        # Timesheet addons resolve canonical employee ids through the company's bindings.
        self.assertEqual(
            Employee._psa_from_external_id(self.backend.company_id, "E-4001"), employee
        )

    def test_unknown_department_waits_then_lands(self):
        event = self.apply("employee.created", employee_data())
        self.assertEqual(event.state, "waiting")
        waiting = self.exceptions(category="missing_reference")
        self.assertEqual((waiting.waiting_type, waiting.waiting_external_id), ("department", "D-1"))
        self.apply("department.created", department_data())
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(
            self.bound("employee", "E-4001").department_id, self.bound("department", "D-1")
        )

    def test_manager_arriving_later_is_linked_automatically(self):
        self.apply("department.created", department_data(manager_id="E-4001"))
        report = self.apply(
            "employee.created",
            employee_data(
                id="E-4002",
                name="James Carter",
                email="james.carter@consultancy.example",
                work_email="james.carter@consultancy.example",
                manager_id="E-4001",
            ),
        )
        self.assertEqual(report.state, "done", "a missing manager does not block")
        james = self.bound("employee", "E-4002")
        department = self.bound("department", "D-1")
        self.assertFalse(james.parent_id)
        self.assertFalse(department.manager_id)
        self.assertEqual(self.env["psa.pending.link"].search_count([]), 2)

        self.apply("employee.created", employee_data())
        anna = self.bound("employee", "E-4001")
        self.assertEqual(james.parent_id, anna)
        self.assertEqual(department.manager_id, anna)
        self.assertFalse(self.env["psa.pending.link"].search([]))

        # A later change of department keeps the manager the HR system says.
        self.apply("department.created", department_data(id="D-2", name="Engineering"))
        self.apply(
            "employee.updated",
            employee_data(
                id="E-4002",
                name="James Carter",
                work_email="james.carter@consultancy.example",
                department_id="D-2",
                manager_id="E-4001",
                version=2,
            ),
        )
        self.assertEqual(james.department_id, self.bound("department", "D-2"))
        self.assertEqual(james.parent_id, anna)

    def test_cost_change_keeps_history_for_past_margins(self):
        self.apply("department.created", department_data())
        self.apply("employee.created", employee_data())
        employee = self.bound("employee", "E-4001")
        self.apply(
            "employee.updated",
            employee_data(
                hourly_cost=92.0,
                job_title="Partner",
                cost_effective_date="2026-12-01",
                version=2,
                updated_at="2026-11-20T09:00:00Z",
            ),
        )
        self.assertEqual(employee.job_title, "Partner")
        history = employee.psa_cost_history_ids.sorted("effective_date")
        self.assertEqual(history.mapped("hourly_cost"), [85.0, 92.0])
        self.assertEqual(history.mapped("effective_date"), [date(2026, 11, 1), date(2026, 12, 1)])
        self.assertEqual(employee._psa_hourly_cost_at(date(2026, 11, 15)), 85.0)
        self.assertEqual(employee._psa_hourly_cost_at(date(2020, 1, 1)), 85.0)
        self.assertEqual(employee._psa_hourly_cost_at(date(2027, 1, 1)), 92.0)
        # An update that leaves the cost alone adds no rate.
        self.apply("employee.updated", employee_data(hourly_cost=92.0, version=3))
        self.assertEqual(len(employee.psa_cost_history_ids), 2)

    def test_termination_and_deletion_archive_never_delete(self):
        self.apply("department.created", department_data())
        self.apply("employee.created", employee_data())
        employee = self.bound("employee", "E-4001")
        self.apply(
            "employee.updated",
            employee_data(status="terminated", end_date="2026-12-31", version=2),
        )
        self.assertTrue(employee.exists())
        self.assertFalse(employee.active)
        self.assertEqual(employee.departure_date, date(2026, 12, 31))
        self.apply("employee.updated", employee_data(status="active", version=3))
        self.assertTrue(employee.active, "a rehire reactivates the same employee")
        event = self.apply(
            "employee.deleted", {"id": "E-4001", "version": 4, "updated_at": "2026-12-01T00:00:00Z"}
        )
        self.assertEqual(event.state, "done", event.result)
        self.assertTrue(employee.exists())
        self.assertFalse(employee.active)

    def test_duplicate_work_email_raises_and_creates_nothing(self):
        self.apply("department.created", department_data())
        Employee = self.env["hr.employee"].with_context(active_test=False)
        existing = Employee.create(
            {"name": "Anna S.", "work_email": "Anna.Schmidt@consultancy.example"}
        )
        event = self.apply("employee.created", employee_data())
        self.assertEqual(event.state, "failed")
        exception = self.exceptions(category="ambiguous_match")
        self.assertIn("Anna S.", exception.name)
        self.assertFalse(self.bound("employee", "E-4001"))
        self.assertEqual(
            Employee.search([("work_email", "=ilike", "anna.schmidt@consultancy.example")]),
            existing,
        )
        self.assertFalse(self.env["queue.job"].search([("method_name", "=", "_write_back_job")]))

    def test_project_manager_cannot_read_cost(self):
        self.apply("department.created", department_data())
        self.apply("employee.created", employee_data())
        employee = self.bound("employee", "E-4001")
        manager = new_test_user(
            self.env, login="pm-hr", groups="base.group_user,project.group_project_manager"
        )
        as_manager = employee.with_user(manager)
        self.assertEqual(as_manager.read(["name"])[0]["name"], "Anna Schmidt")
        self.assertTrue(as_manager.read(["psa_billable"])[0]["psa_billable"])
        with self.assertRaises(AccessError):
            as_manager.read(["hourly_cost"])
        with self.assertRaises(AccessError):
            self.env["psa.employee.cost.history"].with_user(manager).search([])
        with self.assertRaises(AccessError):
            as_manager._psa_hourly_cost_at(date(2026, 11, 15))

        # Invoicing users read cost only once granted the cost group.
        invoicing = new_test_user(
            self.env, login="invoicing", groups="account.group_account_invoice"
        )
        with self.assertRaises(AccessError):
            employee.with_user(invoicing).read(["hourly_cost"])
        for groups in (
            "base.group_user,hr.group_hr_user",
            "account.group_account_invoice,psa_connector_base.group_cost_reader",
        ):
            reader = new_test_user(self.env, login=f"reader-{groups}", groups=groups)
            as_reader = employee.with_user(reader)
            self.assertEqual(as_reader.read(["hourly_cost"])[0]["hourly_cost"], 85.0)
            self.assertEqual(as_reader._psa_hourly_cost_at(date(2026, 11, 15)), 85.0)

    def test_cost_in_an_inactive_currency_is_refused(self):
        # A cost in another active currency is kept in it (test_hr_attributes); one in a
        # currency Odoo has no rates for cannot be converted for margins.
        self.env.ref("base.CHF").active = False
        self.apply("department.created", department_data())
        event = self.apply("employee.created", employee_data(currency="CHF"))
        self.assertEqual(event.state, "failed")
        self.assertIn("CHF", self.exceptions(category="invalid_payload").name)
        self.assertFalse(self.bound("employee", "E-4001"))

    def test_hr_backend_pulls_departments_employees_and_leave_in_order(self):
        self.assertEqual(self.backend._pull_object_types(), ["department", "employee", "leave"])

    def test_hr_officer_and_connector_user_open_the_employee_form(self):
        self.apply("department.created", department_data())
        self.apply("employee.created", employee_data())
        employee = self.bound("employee", "E-4001")
        for login, groups in (
            ("hr-officer", "base.group_user,hr.group_hr_user"),
            ("hr-connector", "hr.group_hr_user,psa_connector_base.group_connector_user"),
        ):
            user = new_test_user(self.env, login=login, groups=groups)
            form = Form(employee.with_user(user))
            self.assertEqual(form.psa_start_date, "2019-04-01")
            if "connector" in login:
                self.assertEqual(len(form.psa_binding_ids), 1)
