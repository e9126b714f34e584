from datetime import date

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user

from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data
from odoo.addons.queue_job.exception import RetryableJobError

from .common import BillingCase, billing_event_data, contract_data, milestone_contract

NOVEMBER = date(2026, 11, 1)


class MonthCloseCase(BillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.currency = cls.env.company.currency_id
        cls.company = cls.env.company

    @classmethod
    def contract(cls, data):
        event = cls.apply("contract.created", dict(data, currency=cls.currency.name))
        assert event.state == "done", event.result
        return cls.bound("contract", data["id"])

    def close(self, month):
        return self.env["psa.month.close"].create({"company_id": self.company.id, "month": month})

    def post(self, moves, day):
        moves.write({"invoice_date": day})
        moves.action_post()
        self.assertEqual(set(moves.mapped("state")), {"posted"})
        return moves

    def snapshot(self, project, month):
        snapshot = (
            self.env["psa.project.financial.snapshot"]
            .sudo()
            .search([("project_id", "=", project.id), ("date", "=", month)])
        )
        self.assertEqual(len(snapshot), 1, f"one frozen row for {project.name} in {month}")
        return snapshot

    def cutoff(self, close, cutoff_type):
        return close.cutoff_ids.filtered(lambda c: c.cutoff_type == cutoff_type)

    def assertBalanced(self, moves):
        for move in moves:
            debit = sum(move.line_ids.mapped("debit"))
            credit = sum(move.line_ids.mapped("credit"))
            self.assertAlmostEqual(debit, credit, places=2, msg=move.ref)
            self.assertGreater(debit, 0.0)

    def project_lines(self, move, account):
        """Amount credited (revenue) per analytic account on ``account``."""
        lines = move.line_ids.filtered(lambda line: line.account_id == account)
        return round(sum(lines.mapped("credit")) - sum(lines.mapped("debit")), 2)


class TestWipAccrual(MonthCloseCase):
    """T&M contract K-1: Anna at 190/h (her rate card entry), on project P-1."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tm = cls.contract(contract_data())

    def test_accrual_is_unbilled_approved_time_at_the_rate_card_reversed_on_day_one(self):
        self.apply("time_entry.created", time_entry_data())  # 6.5 h on 2026-11-16
        self.apply("time_entry.created", time_entry_data(id="TE-2", date="2026-11-23", hours=4.0))
        # December time is not November's WIP.
        self.apply("time_entry.created", time_entry_data(id="TE-3", date="2026-12-01", hours=2.0))
        close = self.close("2026-11-17")
        self.assertEqual(close.month, NOVEMBER)
        close.action_generate()
        self.assertEqual(close.state, "generated")
        accrued = self.cutoff(close, "accrued_revenue")
        # (6.5 + 4.0) h x 190 = 1,995.00
        self.assertAlmostEqual(accrued.total_cutoff_amount, (6.5 + 4.0) * 190.0, places=2)
        self.assertAlmostEqual(close.accrued_amount, 1995.0, places=2)
        move = accrued.move_id
        reversal = move.reversal_move_ids
        self.assertEqual((move.date, move.state), (date(2026, 11, 30), "draft"))
        self.assertEqual((reversal.date, reversal.state), (date(2026, 12, 1), "draft"))
        self.assertBalanced(move | reversal)
        accrual_account = self.company.default_accrued_revenue_account_id
        self.assertAlmostEqual(
            sum(
                move.line_ids.filtered(lambda aml: aml.account_id == accrual_account).mapped(
                    "debit"
                )
            ),
            1995.0,
            places=2,
        )
        revenue = move.line_ids.filtered(lambda aml: aml.credit)
        self.assertEqual(revenue.analytic_distribution, {str(self.project.account_id.id): 100.0})
        self.assertEqual(close.draft_entry_count, 2)

        # Re-running the month replaces its draft: one more approved hour on 2026-11-27.
        self.apply("time_entry.created", time_entry_data(id="TE-4", date="2026-11-27", hours=1.0))
        close.action_generate()
        accrued = self.cutoff(close, "accrued_revenue")
        self.assertEqual(len(close.cutoff_ids.move_id), 1)
        self.assertFalse(move.exists())
        self.assertAlmostEqual(accrued.total_cutoff_amount, (6.5 + 4.0 + 1.0) * 190.0, places=2)

        # Post: entry and reversal posted; a posted closing never changes.
        close.action_post()
        self.assertEqual(close.state, "posted")
        posted = accrued.move_id
        self.assertEqual(set((posted | posted.reversal_move_ids).mapped("state")), {"posted"})
        self.assertBalanced(posted | posted.reversal_move_ids)
        # The frozen month: nothing invoiced, 2,185.00 accrued, so 2,185.00 recognised.
        snapshot = self.snapshot(self.project, NOVEMBER)
        self.assertAlmostEqual(snapshot.revenue, 0.0, places=2)
        self.assertAlmostEqual(snapshot.revenue_recognised, 11.5 * 190.0, places=2)
        self.assertAlmostEqual(snapshot.deferred_balance, 0.0, places=2)
        self.apply("time_entry.created", time_entry_data(id="TE-5", date="2026-11-28", hours=3.0))
        with self.assertRaises(UserError):
            close.action_generate()
        self.assertAlmostEqual(accrued.total_cutoff_amount, 2185.0, places=2)  # 11.5 x 190
        self.assertEqual(posted.amount_total, 2185.0)

    def test_invoiced_time_is_not_accrued(self):
        self.apply("time_entry.created", time_entry_data())  # 6.5 h
        self.backend.action_create_draft_invoices()
        self.post(self.tm.invoice_ids, "2026-11-25")
        self.apply("time_entry.created", time_entry_data(id="TE-2", date="2026-11-26", hours=2.0))
        close = self.close(NOVEMBER)
        close.action_generate()
        # Only the 2 h after the invoice: 2 x 190 = 380.
        self.assertAlmostEqual(close.accrued_amount, 380.0, places=2)
        self.assertBalanced(close.move_ids)

    def test_only_accounting_managers_generate_and_post(self):
        accountant = new_test_user(
            self.env, login="acc-close", groups="account.group_account_invoice"
        )
        manager = new_test_user(self.env, login="mgr-close", groups="account.group_account_manager")
        self.apply("time_entry.created", time_entry_data())
        close = self.close(NOVEMBER)
        with self.assertRaises(AccessError):
            close.with_user(accountant).action_generate()
        with self.assertRaises(AccessError):
            self.env["psa.month.close"].with_user(accountant).create(
                {"company_id": self.company.id, "month": "2026-10-01"}
            )
        # The state moves only through the buttons.
        with self.assertRaises(UserError):
            close.with_user(manager).write({"state": "posted"})
        close.with_user(manager).action_generate()
        self.assertAlmostEqual(close.accrued_amount, 6.5 * 190.0, places=2)
        with self.assertRaises(AccessError):
            close.with_user(accountant).action_post()
        close.with_user(manager).action_post()
        self.assertEqual(close.state, "posted")
        # Another company's user does not see the close.
        other = self.env["res.company"].create({"name": "Other Co"})
        stranger = new_test_user(
            self.env,
            login="other-close",
            groups="account.group_account_manager",
            company_id=other.id,
            company_ids=[(6, 0, other.ids)],
        )
        self.assertFalse(self.env["psa.month.close"].with_user(stranger).search([]))

    def test_the_close_job_waits_for_the_import_then_closes_and_posts(self):
        Close = self.env["psa.month.close"]
        # Nothing imported for November yet: the job waits (retryable), nothing created.
        with self.assertRaises(RetryableJobError):
            Close._psa_job_close_month(self.company.ids, "2026-11-01")
        self.assertFalse(Close.search([("company_id", "=", self.company.id)]))
        self.apply("time_entry.created", time_entry_data(hours=2.0))
        self.env["queue.job"].search([("state", "=", "pending")]).write({"state": "done"})
        Close._psa_job_close_month(self.company.ids, "2026-11-01")
        close = Close.search([("company_id", "=", self.company.id)])
        self.assertEqual((close.month, close.state), (NOVEMBER, "posted"))
        self.assertAlmostEqual(close.accrued_amount, 2.0 * 190.0, places=2)
        # Run again (a restarted demo): the posted close is left as it is.
        Close._psa_job_close_month(self.company.ids, "2026-11-01")
        self.assertEqual(len(Close.search([("company_id", "=", self.company.id)])), 1)

    def test_a_month_not_ended_cannot_be_closed(self):
        close = self.env["psa.month.close"].create(
            {"company_id": self.company.id, "month": date.today()}
        )
        with self.assertRaises(UserError):
            close.action_generate()


class TestDeferredRevenue(MonthCloseCase):
    def test_quarterly_retainer_is_deferred_and_recognised_over_its_months(self):
        order = self.contract(
            contract_data(
                id="K-3",
                type="retainer",
                rate_card=None,
                retainer_amount=9000.0,
                retainer_period="quarter",
            )
        )
        self.assertEqual(order.psa_recognition_method, "over_period")
        event = self.apply(
            "billing_event.created",
            billing_event_data(
                id="BE-R", contract_id="K-3", kind="retainer.period", period="2026-Q4"
            ),
        )
        self.assertEqual(event.state, "done", event.result)
        if not order.invoice_ids:
            self.backend.action_create_draft_invoices()
        invoice = self.post(order.invoice_ids, "2026-10-01")
        line = invoice.invoice_line_ids
        self.assertEqual((line.start_date, line.end_date), (date(2026, 10, 1), date(2026, 12, 31)))
        # 92 days (October 31 + November 30 + December 31).
        october = self.close("2026-10-01")
        october.action_generate()
        # 61 days after October 31 still to deliver: 9,000 x 61 / 92 = 5,967.39 deferred,
        # so October recognises 9,000 - 5,967.39 = 3,032.61.
        self.assertAlmostEqual(october.deferred_amount, round(9000.0 * 61 / 92, 2), places=2)
        self.assertAlmostEqual(october.deferred_amount, 5967.39, places=2)
        deferred = self.cutoff(october, "prepaid_revenue").move_id
        self.assertBalanced(deferred | deferred.reversal_move_ids)
        self.assertEqual(deferred.reversal_move_ids.date, date(2026, 11, 1))
        october.action_post()
        # October's snapshot: 9,000 invoiced, 5,967.39 deferred, 3,032.61 recognised.
        snapshot = self.snapshot(order.psa_project_id, date(2026, 10, 1))
        self.assertAlmostEqual(snapshot.revenue, 9000.0, places=2)
        self.assertAlmostEqual(snapshot.deferred_balance, 5967.39, places=2)
        self.assertAlmostEqual(snapshot.revenue_recognised, 9000.0 - 5967.39, places=2)
        november = self.close(NOVEMBER)
        november.action_generate()
        # 31 days after November 30: 9,000 x 31 / 92 = 3,032.61 deferred; November
        # recognises 5,967.39 (October's reversal) - 3,032.61 = 2,934.78.
        self.assertAlmostEqual(november.deferred_amount, 3032.61, places=2)
        account = line.account_id
        recognised = self.project_lines(november.cutoff_ids.move_id, account) + self.project_lines(
            deferred.reversal_move_ids, account
        )
        self.assertAlmostEqual(recognised, 5967.39 - 3032.61, places=2)
        self.assertAlmostEqual(recognised, 2934.78, places=2)
        self.assertBalanced(november.move_ids)

    def test_fixed_fee_is_recognised_by_percentage_of_completion(self):
        order = self.contract(
            milestone_contract(
                id="K-4",
                type="fixed_fee",
                milestones=[
                    {"id": "M-1", "name": "Design", "amount": 10000.0},
                    {"id": "M-2", "name": "Delivery", "amount": 10000.0},
                ],
            )
        )
        self.assertEqual(order.psa_recognition_method, "percent_complete")
        self.project.allocated_hours = 40.0
        # September: 10 h of 40 = 25 %; M-1 (10,000) invoiced on 2026-09-05.
        self.apply("time_entry.created", time_entry_data(date="2026-09-10", hours=10.0))
        self.apply(
            "billing_event.created", billing_event_data(contract_id="K-4", milestone_id="M-1")
        )
        if not order.invoice_ids:
            self.backend.action_create_draft_invoices()
        self.post(order.invoice_ids, "2026-09-05")
        self.assertFalse(order.invoice_ids.invoice_line_ids.start_date)
        september = self.close("2026-09-01")
        september.action_generate()
        # Recognised 20,000 x 25 % = 5,000; invoiced 10,000: 5,000 deferred, nothing accrued.
        self.assertAlmostEqual(order._psa_percent_complete(date(2026, 9, 30)), 0.25)
        self.assertAlmostEqual(september.deferred_amount, 10000.0 - 20000.0 * 0.25, places=2)
        self.assertAlmostEqual(september.accrued_amount, 0.0)
        self.assertBalanced(september.move_ids)
        september.action_post()
        # October: 24 h of 40 = 60 %: recognised 12,000 > invoiced 10,000: 2,000 accrued.
        self.apply("time_entry.created", time_entry_data(id="TE-2", date="2026-10-12", hours=14.0))
        october = self.close("2026-10-01")
        october.action_generate()
        self.assertAlmostEqual(order._psa_percent_complete(date(2026, 10, 31)), 0.60)
        self.assertAlmostEqual(october.accrued_amount, 20000.0 * 0.60 - 10000.0, places=2)
        self.assertAlmostEqual(october.deferred_amount, 0.0)
        self.assertBalanced(october.move_ids)
        october.action_post()
        # November: 50 h of 40, capped at 100 %: recognised 20,000, invoiced 10,000.
        self.apply("time_entry.created", time_entry_data(id="TE-3", date="2026-11-12", hours=26.0))
        november = self.close(NOVEMBER)
        november.action_generate()
        self.assertEqual(order._psa_percent_complete(date(2026, 11, 30)), 1.0)
        self.assertAlmostEqual(november.accrued_amount, 20000.0 * 1.0 - 10000.0, places=2)
        self.assertBalanced(november.move_ids)
        # Finance may change the method; a sales user may not.
        salesman = new_test_user(
            self.env, login="sales-close", groups="sales_team.group_sale_salesman_all_leads"
        )
        with self.assertRaises(AccessError):
            order.with_user(salesman).write({"psa_recognition_method": "on_invoice"})
