from datetime import date

from odoo.addons.psa_connector_billing.tests.test_billing import expense_data
from odoo.addons.psa_connector_billing.tests.test_project_financials import (
    NOVEMBER,
    FinancialsCase,
)
from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data


class TestDatedLabourCost(FinancialsCase):
    """Anna costs 60/h from 2026-10-01 and 80/h from 2026-11-20 (the HR cost history)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.anna._psa_set_hourly_cost(60.0, date(2026, 10, 1), cls.currency)
        cls.anna._psa_set_hourly_cost(80.0, date(2026, 11, 20), cls.currency)

    def test_margin_uses_the_cost_rate_in_force_on_the_day_of_the_work(self):
        # 6.5 h before the cost change (60/h), 4 h on the day it took effect (80/h).
        self.apply("time_entry.created", time_entry_data())
        self.apply("time_entry.created", time_entry_data(id="TE-2", date="2026-11-20", hours=4.0))
        # Untaxed 100 of travel on the project.
        self.env["psa.importer.expense"]._expense_product("cost").supplier_taxes_id = False
        code = self.currency.name
        event = self.apply(
            "expense.created", expense_data(amount=100.0, currency=code, date="2026-11-10")
        )
        self.assertEqual(event.state, "done", event.result)
        # A later raise does not reprice November's work.
        self.anna._psa_set_hourly_cost(100.0, date(2026, 11, 22), self.currency)

        self.backend.action_create_draft_invoices()
        self.post(self.order("K-1").invoice_ids)
        # Revenue 10.5 h x 190 = 1,995. Labour 6.5 x 60 + 4 x 80 = 710 (not 10.5 x 100 =
        # 1,050 at today's rate). Cost 710 + 100 = 810. Margin 1,185 = 59.40 %.
        self.assertFigures(
            {
                "hours": 10.5,
                "labour_cost": 710.0,
                "expense_cost": 100.0,
                "cost": 810.0,
                "revenue": 1995.0,
                "margin": 1185.0,
                "margin_pct": 100.0 * 1185.0 / 1995.0,
            },
            month=NOVEMBER,
        )
        self.assertAlmostEqual(1185.0 / 1995.0 * 100, 59.398, places=3)
        # The project form shows the same totals.
        self.project.invalidate_recordset()
        self.assertAlmostEqual(self.project.psa_margin, 1185.0)
        self.assertAlmostEqual(self.project.psa_margin_pct, 100.0 * 1185.0 / 1995.0)
        # Grouped in the pivot, margin % is the group's margin over its revenue.
        [group] = self.env["psa.project.financial"].read_group(
            [("project_id", "=", self.project.id)], ["margin_pct"], ["project_id"]
        )
        self.assertAlmostEqual(group["margin_pct"], 100.0 * 1185.0 / 1995.0)
