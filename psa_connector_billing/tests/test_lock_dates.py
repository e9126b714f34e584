from datetime import date

from odoo.exceptions import AccessError
from odoo.tests import new_test_user

from .common import BillingCase, contract_data
from .test_billing import expense_data


class TestLockDates(BillingCase):
    """A change dated in a locked accounting period is never written there."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert cls.apply("contract.created", contract_data()).state == "done"
        # Hand-set: November is closed (fiscal lock on its last day).
        cls.env.company.fiscalyear_lock_date = date(2026, 11, 30)

    def test_an_expense_in_a_locked_month_proposes_the_first_open_day_then_applies_there(self):
        event = self.apply("expense.created", expense_data(date="2026-11-20"))
        self.assertEqual(event.state, "failed")
        self.assertFalse(self.bound("expense", "X-1"))
        self.assertFalse(
            self.env["hr.expense"].search([("psa_receipt_ref", "=", "RCPT-2026-1102-01")])
        )
        exception = event.exception_ids
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.category, "conflict")
        # The message names the locked date and the proposed one (30 Nov + 1 day).
        self.assertIn("2026-11-30", exception.name)
        self.assertIn("2026-12-01", exception.name)
        self.assertEqual(exception.psa_lock_date, date(2026, 11, 30))
        self.assertEqual(exception.psa_open_period_date, date(2026, 12, 1))

        # Accepting it is a Connector Manager's decision, checked on the server.
        user = new_test_user(self.env, "lock_cu", groups="psa_connector_base.group_connector_user")
        with self.assertRaises(AccessError):
            exception.with_user(user).action_apply_in_open_period()
        self.assertFalse(exception.psa_open_period_accepted)
        with self.assertRaises(AccessError):
            exception.with_user(user).write({"psa_open_period_accepted": True})

        exception.action_apply_in_open_period()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(exception.state, "resolved")
        expense = self.bound("expense", "X-1")
        # The expense keeps the day it was spent; its report is booked on 1 December.
        self.assertEqual(expense.date, date(2026, 11, 20))
        sheet = expense.sheet_id
        self.assertEqual(sheet.accounting_date, date(2026, 12, 1))
        sheet.action_sheet_move_post()
        move = sheet.account_move_ids
        # Billed on 1 December; Odoo dates the entry within the open month.
        self.assertEqual(move.invoice_date, date(2026, 12, 1))
        self.assertEqual((move.date.year, move.date.month), (2026, 12))

    def test_an_expense_in_an_open_month_is_applied_as_odoo_dates_it(self):
        event = self.apply("expense.created", expense_data(date="2026-12-03"))
        self.assertEqual(event.state, "done", event.result)
        self.assertFalse(event.exception_ids)
        expense = self.bound("expense", "X-1")
        self.assertEqual(expense.date, date(2026, 12, 3))
        expense.sheet_id.action_sheet_move_post()
        self.assertGreater(expense.sheet_id.account_move_ids.date, date(2026, 11, 30))

    def test_the_hard_lock_counts_too_and_the_latest_lock_wins(self):
        self.env.company.hard_lock_date = date(2026, 12, 31)
        event = self.apply("expense.created", expense_data(date="2026-11-20"))
        self.assertEqual(event.exception_ids.psa_open_period_date, date(2027, 1, 1))
