"""Cash and collections: ageing buckets, DSO and account health, computed by hand."""

from datetime import UTC, datetime, timedelta

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user

from .test_project_financials import FinancialsCase

# The views age receivables against today's date in UTC.
TODAY = datetime.now(UTC).date()


class CashCase(FinancialsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.bound("customer", "C-1")
        cls.company = cls.env.company
        cls.company.write(
            {
                "psa_dso_days": 90,
                "psa_health_watch_days": 30,
                "psa_health_at_risk_days": 90,
                "psa_health_watch_dso": 60.0,
                "psa_health_at_risk_dso": 90.0,
            }
        )

    def invoice(self, amount, dated, due, partner=None, move_type="out_invoice"):
        """Post an untaxed invoice on the project's account, ``dated``/``due`` days from today."""
        move = self.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": (partner or self.customer).id,
                "invoice_date": TODAY + timedelta(days=dated),
                "invoice_date_due": TODAY + timedelta(days=due),
                "invoice_payment_term_id": False,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Consulting",
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.clear()],
                            "analytic_distribution": {str(self.account.id): 100},
                        }
                    )
                ],
            }
        )
        move.action_post()
        self.assertEqual(move.invoice_date_due, TODAY + timedelta(days=due))
        self.assertAlmostEqual(move.amount_total, amount)
        return move

    def pay(self, move, amount):
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=move.ids
        ).create({"amount": amount, "payment_date": TODAY})._create_payments()

    def health(self, partner=None):
        self.env.flush_all()
        # A view's rows keep their ids: read them afresh, not from the cache.
        self.env.invalidate_all()
        return self.env["psa.account.health"].search(
            [("partner_id", "=", (partner or self.customer).id)]
        )


class TestCashAndAgeing(CashCase):
    def test_ageing_buckets_cash_collected_and_dso_by_hand(self):
        partial = self.invoice(1000.0, dated=-10, due=-5)  # 5 days overdue: 0-30
        self.pay(partial, 400.0)  # partial payment: 600 left
        self.assertEqual(partial.payment_state, "partial")
        self.invoice(2000.0, dated=-60, due=-45)  # 31-60
        self.invoice(3000.0, dated=-100, due=-75)  # 61-90, outside the 90-day window
        self.invoice(4000.0, dated=-150, due=-120)  # over 90
        self.invoice(500.0, dated=-5, due=25)  # open, not due
        paid = self.invoice(800.0, dated=-20, due=10)
        self.pay(paid, 800.0)
        self.assertIn(paid.payment_state, ("paid", "in_payment"))

        open_receivable = 600 + 2000 + 3000 + 4000 + 500  # 10,100
        overdue = 600 + 2000 + 3000 + 4000  # 9,600
        invoiced_in_window = 1000 + 2000 + 500 + 800  # dated within the last 90 days: 4,300
        dso = open_receivable / invoiced_in_window * 90  # 211.4 days
        figures = self.figures()
        expected = {
            "cash_collected": 400.0 + 800.0,
            "open_receivable": open_receivable,
            "overdue_receivable": overdue,
            "overdue_0_30": 600.0,
            "overdue_31_60": 2000.0,
            "overdue_61_90": 3000.0,
            "overdue_90_plus": 4000.0,
            "invoiced_recent": invoiced_in_window,
            "dso": dso,
        }
        for name, value in expected.items():
            self.assertAlmostEqual(figures[name], value, places=2, msg=name)
        # Cash lands in the month it was collected, receivables in their invoice's month.
        this_month = TODAY.replace(day=1)
        month = self.figures(this_month)
        self.assertAlmostEqual(month["cash_collected"], 1200.0, places=2)
        oldest = self.figures((TODAY - timedelta(days=150)).replace(day=1))
        self.assertAlmostEqual(oldest["overdue_90_plus"], 4000.0, places=2)
        self.assertAlmostEqual(oldest["cash_collected"], 0.0, places=2)

        health = self.health()
        self.assertEqual(len(health), 1)
        self.assertAlmostEqual(health.open_receivable, open_receivable, places=2)
        self.assertAlmostEqual(health.overdue_receivable, overdue, places=2)
        self.assertAlmostEqual(health.overdue_0_30, 600.0, places=2)
        self.assertAlmostEqual(health.overdue_31_60, 2000.0, places=2)
        self.assertAlmostEqual(health.overdue_61_90, 3000.0, places=2)
        self.assertAlmostEqual(health.overdue_90_plus, 4000.0, places=2)
        self.assertAlmostEqual(health.cash_collected, 1200.0, places=2)
        self.assertAlmostEqual(health.dso, dso, places=2)
        self.assertEqual(health.max_days_overdue, 120)
        self.assertEqual(health.status, "at_risk")

    def test_a_credit_note_reduces_the_open_receivable_and_is_not_overdue(self):
        invoice = self.invoice(1000.0, dated=-40, due=-10)
        refund = self.invoice(300.0, dated=-1, due=-1, move_type="out_refund")
        figures = self.figures()
        self.assertAlmostEqual(figures["open_receivable"], 700.0, places=2)
        self.assertAlmostEqual(figures["overdue_receivable"], 1000.0, places=2)
        self.assertAlmostEqual(figures["invoiced_recent"], 700.0, places=2)
        self.assertAlmostEqual(figures["dso"], 700.0 / 700.0 * 90, places=2)
        # Applied to the invoice: the credit settles it, it is not cash.
        (invoice | refund).line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        ).reconcile()
        figures = self.figures()
        self.assertAlmostEqual(figures["open_receivable"], 700.0, places=2)
        self.assertAlmostEqual(figures["overdue_0_30"], 700.0, places=2)
        self.assertAlmostEqual(figures["cash_collected"], 0.0, places=2)


class TestAccountHealth(CashCase):
    def test_thresholds_are_the_company_settings(self):
        # Invoiced 1,000 ten days ago, due in 20 days, half paid: DSO 500/1000 x 90 = 45.
        invoice = self.invoice(1000.0, dated=-10, due=20)
        self.pay(invoice, 500.0)
        health = self.health()
        self.assertAlmostEqual(health.dso, 45.0, places=2)
        self.assertEqual(health.max_days_overdue, 0)
        self.assertEqual(health.status, "current")
        settings = self.env["res.config.settings"].create({"psa_health_watch_dso": 40.0})
        settings.execute()
        self.assertEqual(self.company.psa_health_watch_dso, 40.0)
        self.assertEqual(self.health().status, "watch")
        self.company.psa_health_at_risk_dso = 45.0
        self.assertEqual(self.health().status, "at_risk")

        # Another customer: nothing invoiced in the window (DSO 0), one invoice 40 days late.
        late = self.env["res.partner"].create({"name": "Late Payer Ltd", "is_company": True})
        self.invoice(1000.0, dated=-200, due=-40, partner=late)
        health = self.health(late)
        self.assertEqual((health.dso, health.max_days_overdue), (0.0, 40))
        self.assertEqual(health.status, "watch")  # over 30 days late
        self.company.psa_health_watch_days = 40
        self.assertEqual(self.health(late).status, "current")  # not over 40
        self.company.psa_health_at_risk_days = 39
        self.assertEqual(self.health(late).status, "at_risk")

    def test_push_rows_are_the_contract_and_skip_unbound_customers(self):
        self.invoice(1000.0, dated=-10, due=-5)
        unbound = self.env["res.partner"].create({"name": "Not in the PSA", "is_company": True})
        self.invoice(700.0, dated=-10, due=-5, partner=unbound)
        self.assertTrue(self.health(unbound))
        rows = self.backend._account_health_rows()
        self.assertEqual(
            rows,
            [
                {
                    "customer_id": "C-1",
                    "status": "at_risk",  # DSO 1000/1000 x 90 = 90: the at-risk threshold
                    "open_receivable": 1000.0,
                    "overdue_receivable": 1000.0,
                    "dso": 90.0,
                    "currency": self.company.currency_id.name,
                    "as_of": str(TODAY),
                }
            ],
        )

    def test_another_companys_customers_are_not_seen(self):
        self.invoice(1000.0, dated=-10, due=-5)
        other = self.env["res.company"].create({"name": "Other Entity"})
        user = self.env["res.users"].create(
            {
                "name": "Other entity accountant",
                "login": "other_entity_accountant",
                "company_id": other.id,
                "company_ids": [Command.set(other.ids)],
                "groups_id": [
                    Command.link(self.env.ref("psa_connector_base.group_cost_reader").id)
                ],
            }
        )
        self.env.flush_all()
        Health = self.env["psa.account.health"].with_user(user)
        self.assertFalse(Health.search([("partner_id", "=", self.customer.id)]))
        self.assertTrue(self.health())

    def test_account_health_needs_the_cost_reader_group_and_pushing_a_manager(self):
        self.invoice(1000.0, dated=-10, due=-5)
        clerk = new_test_user(self.env, "health_clerk", groups="account.group_account_invoice")
        with self.assertRaises(AccessError):
            self.env["psa.account.health"].with_user(clerk).search([])
        with self.assertRaises(AccessError):
            self.backend.with_user(clerk).action_push_account_health()
        reader = new_test_user(
            self.env, "health_reader", groups="psa_connector_base.group_cost_reader"
        )
        self.assertTrue(self.env["psa.account.health"].with_user(reader).search([]))
