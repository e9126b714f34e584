"""Standard users, without any connector group, still open the standard views the suite
extends (found by Odoo's own sale_timesheet tests: a salesman's sale order form failed
on the connector's billing events)."""

from odoo.tests import Form, new_test_user

from .common import SuiteTransactionCase

CONNECTOR_GROUPS = (
    "psa_connector_base.group_connector_user",
    "psa_connector_base.group_connector_manager",
)


class TestStandardViews(SuiteTransactionCase):
    # (model, standard view the suite inherits, the standard groups that open it)
    CASES = [
        ("sale.order", "sale.view_order_form", "sales_team.group_sale_salesman"),
        (
            "account.analytic.line",
            "hr_timesheet.hr_timesheet_line_tree",
            "hr_timesheet.group_hr_timesheet_user",
        ),
        ("hr.employee", "hr.view_employee_form", "hr.group_hr_user"),
    ]

    def _user(self, login, groups):
        user = new_test_user(self.env, login=login, groups=f"base.group_user,{groups}")
        connector = self.env.ref(CONNECTOR_GROUPS[0]) | self.env.ref(CONNECTOR_GROUPS[1])
        self.assertFalse(user.groups_id & connector, "the user must have no connector group")
        return user

    def test_extended_views_open_without_connector_groups(self):
        for index, (model, view_xmlid, groups) in enumerate(self.CASES):
            with self.subTest(view=view_xmlid):
                view = self.env.ref(view_xmlid)
                extensions = view.inherit_children_ids.filtered(
                    lambda v: (v.get_external_id()[v.id] or "").startswith("psa_connector_")
                )
                self.assertTrue(extensions, f"the suite no longer extends {view_xmlid}")
                user = self._user(f"std-user-{index}", groups)
                views = self.env[model].with_user(user).get_views([(view.id, view.type)])
                self.assertIn(view.type, views["views"])

    def test_salesman_edits_an_order_in_the_form(self):
        salesman = self._user("std-salesman", "sales_team.group_sale_salesman")
        customer = self.env["res.partner"].create({"name": "Standard customer"})
        form = Form(self.env["sale.order"].with_user(salesman))
        form.partner_id = customer
        order = form.save()
        self.assertEqual(order.user_id, salesman)
        arch = (
            self.env["sale.order"]
            .with_user(salesman)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertNotIn("psa_billing_event_ids", arch)
        # A connector user still sees the applied billing events on the order.
        self.env.ref(CONNECTOR_GROUPS[0]).users |= salesman
        arch = (
            self.env["sale.order"]
            .with_user(salesman)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertIn("psa_billing_event_ids", arch)
