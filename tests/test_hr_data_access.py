"""Employee cost and raw HR data through /jsonrpc, as a script would ask for them.

The ORM tests in psa_connector_hr check the same rules with ``with_user``; these prove
that nothing of the cost comes back over the wire either (the answer's text is searched
for the number), for a plain Connector User, and that HR officers in the connector and
the cost group still get what they need.
"""

from odoo.tests import new_test_user

from odoo.addons.psa_connector_hr.tests.common import department_data, employee_data

from .common import SuiteHttpCase

COST = 93.17


class TestHrDataOverJsonRpc(SuiteHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls._create_backend(code="rpc-hr", kind="hr", name="RPC HR")
        cls.backend.company_id.currency_id = cls.env.ref("base.EUR")
        cls.apply("department.created", department_data())
        cls.event = cls.apply("employee.created", employee_data(hourly_cost=COST))
        assert cls.event.state == "done", cls.event.result
        cls.employee = cls.bound("employee", "E-4001")
        cls.connector_user = new_test_user(
            cls.env, "rpc-connector", groups="psa_connector_base.group_connector_user"
        )
        cls.hr_connector = new_test_user(
            cls.env,
            "rpc-hr-connector",
            groups="hr.group_hr_user,psa_connector_base.group_connector_user",
        )
        cls.cost_reader = new_test_user(
            cls.env,
            "rpc-cost-reader",
            groups="account.group_account_invoice,psa_connector_base.group_cost_reader",
        )

    def rpc(self, user, model, method, args, kwargs=None):
        """(result or None, error message or None, raw answer text) of execute_kw."""
        response = self.execute_kw(user, model, method, args, kwargs)
        self.assertEqual(response.status_code, 200)
        answer = response.json()
        error = answer.get("error")
        return answer.get("result"), error and error["data"]["message"], response.text

    def test_a_connector_user_gets_no_cost_over_json_rpc(self):
        user = self.connector_user
        employee = [self.employee.id]
        calls = [
            ("hr.employee", "read", [employee, ["hourly_cost"]], None),
            ("hr.employee", "read", [employee, ["psa_payroll_id"]], None),
            ("hr.employee", "search_read", [[("hourly_cost", ">", 90)], ["name"]], None),
            ("hr.employee", "search_read", [[], ["name"]], {"order": "hourly_cost desc"}),
            ("hr.employee", "read_group", [[], ["hourly_cost:sum"], ["department_id"]], None),
            ("psa.employee.cost.history", "search_read", [[], ["hourly_cost"]], None),
            ("psa.event", "read", [self.event.ids, ["payload"]], None),
        ]
        for model, method, args, kwargs in calls:
            with self.subTest(model=model, method=method, args=args):
                result, error, text = self.rpc(user, model, method, args, kwargs)
                self.assertIsNone(result)
                self.assertTrue(error)
                self.assertNotIn(str(COST), text)
        # Lists answer, without the HR rows.
        for model, fields in (
            ("psa.event", ["payload", "result"]),
            ("psa.exception", ["payload", "name"]),
            ("psa.audit.log", ["values", "message"]),
        ):
            with self.subTest(model=model):
                result, error, text = self.rpc(user, model, "search_read", [[], fields])
                self.assertIsNone(error)
                self.assertFalse([row for row in result if row["id"] in self.event.ids])
                self.assertNotIn(str(COST), text)

    def test_hr_officers_in_the_connector_and_cost_readers_get_what_they_need(self):
        result, error, _text = self.rpc(
            self.hr_connector, "psa.event", "read", [self.event.ids, ["payload"]]
        )
        self.assertIsNone(error)
        self.assertIn(str(COST), result[0]["payload"])
        result, error, _text = self.rpc(
            self.hr_connector,
            "psa.audit.log",
            "search_read",
            [[("backend_id", "=", self.backend.id), ("values", "!=", False)], ["values"]],
        )
        self.assertIsNone(error)
        self.assertTrue(any(str(COST) in row["values"] for row in result))
        for user in (self.hr_connector, self.cost_reader):
            with self.subTest(user=user.login):
                result, error, _text = self.rpc(
                    user, "hr.employee", "read", [[self.employee.id], ["hourly_cost"]]
                )
                self.assertIsNone(error)
                self.assertEqual(result[0]["hourly_cost"], COST)

    def test_exception_groups_of_hr_data_for_hr_officers_only(self):
        # A signed body the connector could not read, kept whole (the cost in it).
        self.env["psa.exception"].sudo()._record_invalid_webhook(
            self.backend, f'{{"hourly_cost": {COST}'.encode(), "malformed JSON"
        )
        self.env.flush_all()
        domain = [("backend_id", "=", self.backend.id)]
        fields = ["reason_pattern", "exception_count", "sample_payloads"]
        result, error, text = self.rpc(
            self.connector_user, "psa.exception.group", "search_read", [domain, fields]
        )
        self.assertIsNone(error)
        self.assertEqual(result, [], "a plain Connector User sees no HR group")
        self.assertNotIn(str(COST), text)
        result, error, _text = self.rpc(
            self.hr_connector, "psa.exception.group", "search_read", [domain, fields]
        )
        self.assertIsNone(error)
        self.assertEqual([row["exception_count"] for row in result], [1])
        self.assertIn(str(COST), result[0]["sample_payloads"])
