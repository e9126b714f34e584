"""Who reads employee cost and the raw HR data, enforced on the server.

Every read goes through the ORM as the user (``with_user``), which is what a JSON-RPC
call runs: field ``groups``, access rights and record rules, not views.
"""

import json

from odoo.exceptions import AccessError
from odoo.tests import new_test_user

from odoo.addons.psa_connector_base.tests.common import customer_data

from .common import HrSyncCase, department_data, employee_data

# A cost no other figure of the test data has, to look for in whatever a user gets back.
COST = 93.17
PULLED_COST = 71.45


class TestCostAndHrDataAccess(HrSyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.apply("department.created", department_data())
        cls.hr_event = cls.apply("employee.created", employee_data(hourly_cost=COST))
        cls.employee = cls.bound("employee", "E-4001")
        # A second employee whose cost arrives in a currency Odoo does not use: an
        # exception holding the payload (and so the cost) as received.
        cls.env.ref("base.CHF").active = False
        cls.failed_event = cls.apply(
            "employee.created",
            employee_data(
                id="E-4002",
                name="Ben Okafor",
                email="ben@consultancy.example",
                work_email="ben@consultancy.example",
                hourly_cost=COST,
                currency="CHF",
            ),
        )
        cls.hr_exception = cls.failed_event.exception_ids
        cls.hr_audit = cls.env["psa.audit.log"].search(
            [("backend_id", "=", cls.backend.id), ("values", "like", str(COST))]
        )
        # A PSA backend: its customer data stays visible to every connector user, but an
        # employee it sends (a Harvest user carries a cost rate) is HR data too.
        cls.psa_backend = cls._create_backend(code="psa-side", name="PSA side")
        cls.psa_event = cls.apply("customer.created", customer_data(), backend=cls.psa_backend)
        cls.psa_exception = cls.env["psa.exception"].create(
            {"name": "Customer problem", "category": "validation", "backend_id": cls.psa_backend.id}
        )
        cls.psa_audit = cls.env["psa.audit.log"]._log(
            cls.psa_backend, "in", "create", "customer", "C-1"
        )
        cls.psa_employee_event = cls.env["psa.event"]._store_pulled(
            cls.psa_backend,
            "employee",
            [employee_data(id="harvest-user-7", hourly_cost=PULLED_COST)],
        )

        def user(login, groups):
            return new_test_user(cls.env, login=login, groups=groups)

        cost_reader = "psa_connector_base.group_cost_reader"
        cls.connector_user = user("hrd-connector", "psa_connector_base.group_connector_user")
        cls.connector_manager = user("hrd-manager", "psa_connector_base.group_connector_manager")
        cls.invoicing_user = user(
            "hrd-invoicing", "account.group_account_invoice,psa_connector_base.group_connector_user"
        )
        cls.hr_officer = user("hrd-officer", "hr.group_hr_user")
        cls.hr_connector = user(
            "hrd-hr-connector", "hr.group_hr_user,psa_connector_base.group_connector_user"
        )
        cls.finance = user("hrd-finance", f"account.group_account_invoice,{cost_reader}")
        cls.settings_admin = user("hrd-settings", "base.group_system")

    def test_fixture_holds_the_cost_where_a_leak_would_show(self):
        # Otherwise the "not in what they get" assertions below could not fail.
        self.assertEqual(self.employee.hourly_cost, COST)
        self.assertIn(str(COST), self.hr_event.payload)
        self.assertEqual(self.hr_exception.category, "invalid_payload")
        self.assertIn(str(COST), self.hr_exception.payload)
        self.assertTrue(self.hr_audit)
        self.assertIn(str(PULLED_COST), self.psa_employee_event.payload)

    def assertRefused(self, call, expected, name):
        try:
            with self.env.cr.savepoint():
                call()
        except expected:
            return
        self.fail(f"{name}: not refused")

    # Cost fields -----------------------------------------------------------------------

    def test_users_without_the_cost_group_cannot_read_search_or_group_by_cost(self):
        # Connector and invoicing users have no access to hr.employee itself: Odoo serves
        # them hr.employee.public, which has no cost field at all (a search on it is an
        # error, not an answer). A settings administrator reads hr.employee: for them the
        # field's groups are what refuses (AccessError), in read, search, order, group by.
        refused = (AccessError, ValueError)
        for user in (
            self.connector_user,
            self.connector_manager,
            self.invoicing_user,
            self.settings_admin,
        ):
            with self.subTest(user=user.login):
                expected = AccessError if user == self.settings_admin else refused
                Employee = self.env["hr.employee"].with_user(user)
                employee = self.employee.with_user(user)
                self.assertEqual(employee.read(["name"])[0]["name"], "Anna Schmidt")
                for field in ("hourly_cost", "psa_payroll_id", "psa_cost_history_ids"):
                    with self.assertRaises(AccessError):
                        employee.read([field])
                with self.assertRaises(AccessError):
                    Employee.search_read([("id", "=", self.employee.id)], ["hourly_cost"])
                # Searching, sorting and grouping by cost would reveal it bit by bit.
                calls = {
                    "search": lambda E=Employee: E.search([("hourly_cost", ">", 90)]),
                    "order": lambda E=Employee: E.search([], order="hourly_cost desc"),
                    "group": lambda E=Employee: E.read_group(
                        [], ["hourly_cost:sum"], ["department_id"]
                    ),
                    "payroll": lambda E=Employee: E.search([("psa_payroll_id", "!=", False)]),
                }
                for name, call in calls.items():
                    self.assertRefused(call, expected, name)
                History = self.env["psa.employee.cost.history"].with_user(user)
                with self.assertRaises(AccessError):
                    History.search_read([], ["hourly_cost"])
                with self.assertRaises(AccessError):
                    self.employee.psa_cost_history_ids.with_user(user).read(["hourly_cost"])

    def test_hr_officers_and_cost_readers_read_cost(self):
        for user in (self.hr_officer, self.finance):
            with self.subTest(user=user.login):
                employee = self.employee.with_user(user)
                self.assertEqual(employee.read(["hourly_cost"])[0]["hourly_cost"], COST)
                Employee = self.env["hr.employee"].with_user(user)
                self.assertIn(self.employee, Employee.search([("hourly_cost", ">", 90)]))
                history = self.env["psa.employee.cost.history"].with_user(user)
                rows = history.search_read([("employee_id", "=", self.employee.id)])
                self.assertEqual([row["hourly_cost"] for row in rows], [COST])

    # Raw HR data in the sync tables ------------------------------------------------------

    def _visible(self, user, model, record_ids, fields):
        """What ``user`` gets from search_read over everything, and whether read() of
        the given ids is refused."""
        Model = self.env[model].with_user(user)
        rows = Model.search_read([], fields)
        refused = []
        for record_id in record_ids:
            try:
                Model.browse(record_id).read(fields)
            except AccessError:
                refused.append(record_id)
        return rows, refused

    def test_plain_connector_users_get_no_hr_payload_exception_or_audit_values(self):
        hidden = {
            "psa.event": (self.hr_event | self.failed_event | self.psa_employee_event, ["payload"]),
            "psa.exception": (
                self.hr_exception,
                ["payload", "payload_pretty", "technical_detail", "name"],
            ),
            "psa.audit.log": (self.hr_audit, ["values", "message"]),
        }
        shown = {
            "psa.event": self.psa_event,
            "psa.exception": self.psa_exception,
            "psa.audit.log": self.psa_audit,
        }
        for user in (self.connector_user, self.connector_manager, self.invoicing_user):
            for model, (records, fields) in hidden.items():
                with self.subTest(user=user.login, model=model):
                    rows, refused = self._visible(user, model, records.ids, fields)
                    self.assertEqual(refused, records.ids)
                    self.assertIn(shown[model].id, [row["id"] for row in rows])
                    self.assertFalse({row["id"] for row in rows} & set(records.ids))
                    dump = json.dumps(rows, default=str)
                    self.assertNotIn(str(COST), dump)
                    self.assertNotIn(str(PULLED_COST), dump)
            with self.subTest(user=user.login, what="search and group by"):
                Event = self.env["psa.event"].with_user(user)
                self.assertFalse(Event.search([("payload", "ilike", str(COST))]))
                groups = Event.read_group([], ["backend_id"], ["backend_id"])
                backends = [g["backend_id"][0] for g in groups]
                self.assertIn(self.psa_backend.id, backends)
                self.assertNotIn(self.backend.id, backends)
                exceptions = self.env["psa.exception"].with_user(user)
                self.assertFalse(exceptions.search([("backend_id", "=", self.backend.id)]))

    def test_hr_officers_in_the_connector_work_the_hr_exception_queue(self):
        user = self.hr_connector
        rows, refused = self._visible(user, "psa.event", self.hr_event.ids, ["payload"])
        self.assertFalse(refused)
        self.assertIn(self.hr_event.id, [row["id"] for row in rows])
        self.assertIn(str(COST), self.hr_event.with_user(user).payload)
        exception = self.hr_exception.with_user(user)
        self.assertIn(str(COST), exception.payload)
        self.assertIn(
            exception, self.env["psa.exception"].with_user(user).search([("state", "=", "open")])
        )
        # Connector Users work the queue: take the exception.
        exception.user_id = user
        self.assertEqual(self.hr_exception.user_id, user)
        values = self.hr_audit.with_user(user).read(["values"])[0]["values"]
        self.assertIn(str(COST), values)
        self.assertIn(self.psa_employee_event, self.env["psa.event"].with_user(user).search([]))
        # HR officers without a connector group still have no access to the sync tables.
        with self.assertRaises(AccessError):
            self.hr_event.with_user(self.hr_officer).read(["payload"])
