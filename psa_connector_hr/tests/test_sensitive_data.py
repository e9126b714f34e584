"""Who reads employee cost and the raw HR data, enforced on the server.

Every read goes through the ORM as the user (``with_user``), which is what a JSON-RPC
call runs: field ``groups``, access rights and record rules, not views.
"""

import base64
import csv
import io
import json
import re
import zipfile
from xml.etree import ElementTree

from odoo.exceptions import AccessError
from odoo.tests import new_test_user

from odoo.addons.psa_connector_base.tests.common import customer_data

from .common import HrSyncCase, department_data, employee_data
from .payroll_common import PayrollCase

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
        # A second employee whose cost arrives in a foreign currency: an exception
        # holding the payload (and so the cost) as received.
        cls.failed_event = cls.apply(
            "employee.created",
            employee_data(
                id="E-4002",
                name="Ben Okafor",
                email="ben@consultancy.example",
                work_email="ben@consultancy.example",
                hourly_cost=COST,
                currency="USD",
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

        cost_reader = "psa_connector_hr.group_cost_reader"
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


class TestPayrollFilesAndAccess(PayrollCase):
    """Payroll files never hold a formula; payroll data is for HR and payroll approvers."""

    NAME = '=HYPERLINK("http://x")'

    def _sent_batches(self, export_format):
        """A regular batch paying 8 h and a 12.50 expense, then an adjustment batch
        taking the expense back (-12.5), both as files of ``export_format``."""
        self.september.export_format = export_format
        self.anna.write({"name": self.NAME, "psa_payroll_id": "+1"})
        self.entry("TE-1", "2026-09-07", 8.0)
        expense = self.approve_expense(self.expense(12.5, "2026-09-15"))
        regular = self.send(self.september)
        expense.sheet_id._do_refuse("Booked twice")
        adjustment = self.september.with_user(self.hr_user).action_compute_adjustment()
        self.assertEqual(self.lines_of(adjustment), {(self.NAME, "expense"): (0.0, -12.5)})
        adjustment.with_user(self.hr_user).action_approve()
        self.assertEqual(adjustment.state, "sent")
        return regular, adjustment

    def _file(self, batch):
        return base64.b64decode(batch.attachment_id.datas)

    def test_csv_cells_are_text_or_numbers_never_formulas(self):
        regular, adjustment = self._sent_batches("csv")
        rows = list(csv.reader(io.StringIO(self._file(regular).decode())))
        self.assertEqual(rows[0][:2], ["payroll_id", "employee"])
        by_category = {row[2]: row for row in rows[1:]}
        currency = regular.currency_id.name
        self.assertEqual(
            by_category["normal"], ["'+1", "'" + self.NAME, "normal", "8.0", "0.0", currency, "0.0"]
        )
        self.assertEqual(by_category["expense"][4], "12.5")
        rows = list(csv.reader(io.StringIO(self._file(adjustment).decode())))
        self.assertEqual(
            rows[1], ["'+1", "'" + self.NAME, "expense", "0.0", "-12.5", currency, "0.0"]
        )
        # A negative number is a number: no quote in the file itself either.
        self.assertIn(b",-12.5,", self._file(adjustment))

    def test_xlsx_cells_are_strings_or_numbers_never_formulas(self):
        regular, adjustment = self._sent_batches("xlsx")
        for batch, amount in ((regular, 12.5), (adjustment, -12.5)):
            with self.subTest(batch=batch.kind):
                cells = xlsx_cells(self._file(batch))
                self.assertFalse([c for c in cells.values() if c["formula"]])
                header = {cells[(1, col)]["value"]: col for col in range(1, 8)}
                rows = {
                    cells[(row, header["category"])]["value"]: row
                    for row in range(2, 1 + max(r for r, _c in cells))
                }
                row = rows["expense"]
                name = cells[(row, header["employee"])]
                payroll_id = cells[(row, header["payroll_id"])]
                value = cells[(row, header["amount"])]
                self.assertEqual((name["type"], name["value"]), ("s", self.NAME))
                self.assertEqual((payroll_id["type"], payroll_id["value"]), ("s", "+1"))
                self.assertEqual((value["type"], float(value["value"])), ("n", amount))

    def test_connector_users_cannot_read_payroll_or_its_file(self):
        regular, _adjustment = self._sent_batches("csv")
        connector_user = new_test_user(
            self.env, "payroll-connector", groups="psa_connector_base.group_connector_user"
        )
        manager = new_test_user(
            self.env, "payroll-manager", groups="psa_connector_base.group_connector_manager"
        )
        for user in (connector_user, manager):
            with self.subTest(user=user.login):
                for model in (
                    "psa.payroll.period",
                    "psa.payroll.batch",
                    "psa.payroll.batch.line",
                    "psa.payroll.entry",
                    "psa.payroll.check",
                ):
                    with self.assertRaises(AccessError):
                        self.env[model].with_user(user).search_read([], ["display_name"])
                with self.assertRaises(AccessError):
                    regular.attachment_id.with_user(user).read(["datas"])
        # HR officers (and accounting managers, who approve payroll) read it.
        self.assertTrue(regular.attachment_id.with_user(self.hr_user).read(["datas"]))
        lines = (
            self.env["psa.payroll.batch.line"]
            .with_user(self.hr_user)
            .search_read([("batch_id", "=", regular.id)], ["payroll_id", "amount"])
        )
        self.assertEqual(sorted(line["amount"] for line in lines), [0.0, 12.5])


def xlsx_cells(content):
    """{(row, column): {"type", "value", "formula"}} of the first sheet, 1-based, read
    from the sheet XML itself (what a spreadsheet application reads)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(io.BytesIO(content)) as xlsx:
        sheet = ElementTree.fromstring(xlsx.read("xl/worksheets/sheet1.xml"))
        shared = [
            "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
            for si in ElementTree.fromstring(xlsx.read("xl/sharedStrings.xml")).findall("m:si", ns)
        ]
    cells = {}
    for cell in sheet.iter(f"{{{ns['m']}}}c"):
        letters, digits = re.match(r"([A-Z]+)(\d+)", cell.get("r")).groups()
        column = 0
        for letter in letters:
            column = column * 26 + ord(letter) - 64
        kind = cell.get("t", "n")
        raw = cell.find("m:v", ns)
        value = raw.text if raw is not None else None
        if kind == "s":
            value = shared[int(value)]
        cells[(int(digits), column)] = {
            "type": kind,
            "value": value,
            "formula": cell.find("m:f", ns) is not None,
        }
    return cells


class TestPayrollBackendRows(HrSyncCase):
    def test_payroll_rows_are_for_hr_officers_and_payroll_approvers(self):
        payroll = self._create_backend(code="payroll-rows", kind="payroll", name="Payroll")
        exception = self.env["psa.exception"].create(
            {
                "name": "Payroll batch PAY/2026-09/1 could not be sent",
                "category": "remote_error",
                "backend_id": payroll.id,
                "object_type": "payroll_batch",
                "external_id": "PAY/2026-09/1",
                "technical_detail": '{"lines": [{"employee_id": "PR-100", "amount": 150.5}]}',
            }
        )
        connector = "psa_connector_base.group_connector_user"
        expected = {
            "psa_connector_base.group_connector_manager": False,
            f"account.group_account_invoice,{connector}": False,
            f"account.group_account_manager,{connector}": True,
            f"hr.group_hr_user,{connector}": True,
        }
        for index, (groups, visible) in enumerate(expected.items()):
            with self.subTest(groups=groups):
                user = new_test_user(self.env, f"payroll-rows-{index}", groups=groups)
                found = (
                    self.env["psa.exception"]
                    .with_user(user)
                    .search([("backend_id", "=", payroll.id)])
                )
                self.assertEqual(found, exception if visible else found.browse())
