from odoo.exceptions import AccessError, UserError

from odoo.addons.psa_connector_base.tests.common import API_TOKEN

from psa_simulator import PsaSimulator

from .common import BillingCase, billing_event_data, contract_data, milestone_contract

PERIOD = ("2026-11-01", "2026-11-30")


def expense_data(**overrides):
    return {
        "id": "X-1",
        "project_id": "P-1",
        "employee_id": "E-1",
        "date": "2026-11-02",
        "amount": 184.6,
        "currency": "EUR",
        "category": "travel",
        "description": "Train to the finance workshop",
        "reimbursable": True,
        "state": "approved",
        **overrides,
    }


class TestMoneyReconciliation(BillingCase):
    """The PSA (the demo simulator, holding the same records) against Odoo, November."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = PsaSimulator(seed=False, token=API_TOKEN).start()
        cls.addClassCleanup(cls.sim.stop)
        # A moved base URL clears the token unless the new one comes with it.
        cls.backend.write({"base_url": cls.sim.url, "api_token": API_TOKEN})
        assert cls.apply("contract.created", milestone_contract()).state == "done"

    def setUp(self):
        super().setUp()
        self.sim.reset()

    # Helpers -----------------------------------------------------------------------

    def psa_event(self, apply=True, **values):
        """A billing event in the PSA, and (unless told not to) received in Odoo."""
        values.setdefault("date", "2026-11-20")
        data = self.sim.create("billing_event", billing_event_data(**values))
        if apply:
            event = self.apply("billing_event.created", data)
            self.assertEqual(event.state, "done", event.result)
        return data

    def post(self, invoice, day):
        invoice.invoice_date = day
        invoice.action_post()
        # The status push the posting queued reaches the PSA.
        self.run_jobs(methods=("_push_invoice_status_job",))

    def reconcile(self, company=None):
        report = self.env["psa.money.reconciliation"].create(
            {
                "backend_id": self.backend.id,
                "company_id": (company or self.env.company).id,
                "date_from": PERIOD[0],
                "date_to": PERIOD[1],
            }
        )
        report.action_run()
        self.assertEqual(report.state, "done", report.error_message)
        return report

    def open_differences(self, company=None):
        return self.env["psa.money.reconciliation"]._psa_open_differences(
            company or self.env.company, *PERIOD
        )

    def invoice_of(self, milestone_key):
        line = self.order()._psa_line(milestone_key)
        return line.invoice_lines.move_id

    # Billing events ↔ invoice lines -------------------------------------------------

    def test_an_event_applied_and_invoiced_shows_no_difference(self):
        self.psa_event()  # M-1 accepted, at the scheduled 18,000
        invoice = self.invoice_of("milestone:M-1")
        self.assertAlmostEqual(invoice.amount_untaxed, 18000.0)
        self.post(invoice, "2026-11-25")
        report = self.reconcile()
        self.assertFalse(report.line_ids, report.line_ids.mapped("odoo_value"))
        self.assertEqual(report.psa_event_count, 1)
        # PSA: one event of 18,000; Odoo: one posted invoice line of 18,000.
        self.assertAlmostEqual(report.psa_billed_amount, 18000.0)
        self.assertAlmostEqual(report.odoo_invoiced_amount, 18000.0)
        self.assertEqual(self.open_differences(), 0)

    def test_an_event_missing_in_odoo_is_one_difference_and_reimport_fixes_it(self):
        self.psa_event()
        self.post(self.invoice_of("milestone:M-1"), "2026-11-25")
        # The PSA accepted M-2 on the 22nd, but its webhook never arrived.
        self.psa_event(
            apply=False, id="BE-2", milestone_id="M-2", amount=42000.0, date="2026-11-22"
        )
        report = self.reconcile()
        self.assertEqual(len(report.line_ids), 1, report.line_ids.mapped("kind"))
        line = report.line_ids
        self.assertEqual((line.kind, line.external_id), ("event_missing", "BE-2"))
        self.assertAlmostEqual(line.psa_amount, 42000.0)
        # PSA 18,000 + 42,000 = 60,000 billed; Odoo invoiced 18,000.
        self.assertAlmostEqual(report.psa_billed_amount, 18000.0 + 42000.0)
        self.assertAlmostEqual(report.odoo_invoiced_amount, 18000.0)
        self.assertEqual(self.open_differences(), 1)

        line.action_reimport()
        self.assertEqual(line.state, "requeued")
        self.run_jobs(methods=("_process_job",))
        record = self.env["psa.billing.event.record"]._find(self.backend, "BE-2")
        self.assertEqual(record.sale_line_id.psa_line_key, "milestone:M-2")
        # Applied: the event is no longer missing; what is left is finance's draft.
        again = self.reconcile()
        self.assertEqual(again.line_ids.mapped("kind"), ["contract_total"])
        self.assertAlmostEqual(again.line_ids.psa_amount, 60000.0)
        self.assertAlmostEqual(again.line_ids.odoo_amount, 18000.0)
        self.post(self.invoice_of("milestone:M-2"), "2026-11-26")
        final = self.reconcile()
        self.assertFalse(final.line_ids, final.line_ids.mapped("odoo_value"))
        self.assertAlmostEqual(final.odoo_invoiced_amount, 18000.0 + 42000.0)
        self.assertEqual(self.open_differences(), 0, "the latest run counts")

    def test_an_amount_mismatch_is_one_difference_handed_over_as_an_exception(self):
        self.psa_event()
        self.post(self.invoice_of("milestone:M-1"), "2026-11-25")
        # The PSA re-priced the accepted milestone after Odoo invoiced it.
        self.sim.update("billing_event", "BE-1", {"amount": 19000.0})
        report = self.reconcile()
        self.assertEqual(len(report.line_ids), 1, report.line_ids.mapped("kind"))
        line = report.line_ids
        self.assertEqual(line.kind, "event_amount")
        # 19,000 in the PSA - 18,000 invoiced = 1,000.
        self.assertAlmostEqual(line.difference, 19000.0 - 18000.0)
        line.action_create_exception()
        exception = line.exception_id
        self.assertEqual((exception.category, exception.state), ("conflict", "open"))
        self.assertEqual((exception.object_type, exception.external_id), ("billing_event", "BE-1"))
        self.assertIn("19000", exception.payload)
        self.assertEqual(self.open_differences(), 1, "an open exception is not a fix")
        exception.action_ignore("Credit note and re-invoice in December")
        self.assertEqual(self.open_differences(), 0)

    # Expenses ↔ expense reports and re-invoiced lines ---------------------------------

    def test_a_reinvoiceable_expense_not_reinvoiced_is_one_difference(self):
        self.apply("contract.created", contract_data())  # K-1 re-invoices expenses at cost
        data = self.sim.create("expense", expense_data())
        self.assertEqual(self.apply("expense.created", data).state, "done")
        expense = self.bound("expense", "X-1")
        self.assertEqual(expense.sheet_id.state, "approve")
        report = self.reconcile()
        self.assertEqual(report.psa_expense_count, 1)
        self.assertEqual(len(report.line_ids), 1, report.line_ids.mapped("kind"))
        line = report.line_ids
        self.assertEqual((line.kind, line.expense_id), ("expense_not_reinvoiced", expense))
        self.assertAlmostEqual(line.psa_amount, 184.6)
        self.assertFalse(line.can_reimport, "posting the report is finance's step")
        # Accounting posts the report: Odoo re-invoices it on K-1's order.
        expense.sheet_id.action_sheet_move_post()
        self.assertFalse(self.reconcile().line_ids)

    def test_an_expense_missing_in_odoo_is_reimported(self):
        self.apply("contract.created", contract_data())
        self.sim.create("expense", expense_data(id="X-9", amount=42.5))
        line = self.reconcile().line_ids
        self.assertEqual((line.kind, line.external_id), ("expense_missing", "X-9"))
        line.action_reimport()
        self.run_jobs(methods=("_process_job",))
        self.assertAlmostEqual(self.bound("expense", "X-9").total_amount_currency, 42.5)

    # Contract totals and payment status -----------------------------------------------

    def test_contract_totals_and_a_partial_payment_the_psa_was_not_told(self):
        self.psa_event()
        invoice = self.invoice_of("milestone:M-1")
        self.post(invoice, "2026-11-25")
        total = invoice.amount_total
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": 8000.0, "payment_date": "2026-11-28"})._create_payments()
        self.assertEqual(invoice.payment_state, "partial")
        # The push of the payment is still queued: the PSA holds "not paid".
        report = self.reconcile()
        # Totals agree: 18,000 billed in the PSA, 18,000 invoiced in Odoo.
        self.assertAlmostEqual(report.psa_billed_amount, 18000.0)
        self.assertAlmostEqual(report.odoo_invoiced_amount, 18000.0)
        self.assertEqual(len(report.line_ids), 1, report.line_ids.mapped("kind"))
        line = report.line_ids
        self.assertEqual((line.kind, line.invoice_id), ("payment_status", invoice))
        self.assertAlmostEqual(line.psa_amount, total)
        self.assertAlmostEqual(line.odoo_amount, total - 8000.0)
        self.assertAlmostEqual(line.difference, 8000.0)
        self.assertIn("not_paid", line.psa_value)
        self.assertIn("partial", line.odoo_value)
        # One click: Odoo tells the PSA the invoice's status again.
        line.action_reimport()
        self.run_jobs(methods=("_push_invoice_status_job",))
        self.assertEqual(self.sim.invoices[invoice.name]["payment_state"], "partial")
        self.assertFalse(self.reconcile().line_ids)

    # Who may, which company -----------------------------------------------------------

    def test_only_connector_or_finance_users_run_it_and_companies_stay_apart(self):
        self.psa_event(apply=False, id="BE-2", milestone_id="M-2", amount=42000.0)
        report = self.env["psa.money.reconciliation"].create(
            {"backend_id": self.backend.id, "date_from": PERIOD[0], "date_to": PERIOD[1]}
        )
        clerk = self.env["res.users"].create(
            {
                "name": "Sales clerk",
                "login": "clerk-money",
                "groups_id": [(6, 0, [self.env.ref("sales_team.group_sale_salesman").id])],
            }
        )
        with self.assertRaises(AccessError):
            report.with_user(clerk).action_run()
        finance = self.env["res.users"].create(
            {
                "name": "Controller",
                "login": "controller-money",
                "groups_id": [(6, 0, [self.env.ref("account.group_account_manager").id])],
            }
        )
        report.with_user(finance).action_run()
        self.assertEqual(report.state, "done", report.error_message)
        self.assertEqual(report.line_ids.mapped("kind"), ["event_missing"])
        # Finance hands the difference over and still sees the report (not the queue).
        report.line_ids.with_user(finance).action_create_exception()
        seen = report.with_user(finance).web_read(
            {"open_difference_count": {}, "line_ids": {"fields": {"is_open": {}, "state": {}}}}
        )[0]
        self.assertEqual(seen["open_difference_count"], 1)
        self.assertEqual(seen["line_ids"][0]["state"], "exception")
        with self.assertRaises(AccessError):
            report.line_ids.with_user(clerk).action_reimport()
        other = self.env["res.company"].create({"name": "Other Ltd"})
        self.assertEqual(self.open_differences(), 1)
        self.assertEqual(self.open_differences(other), 0)
        # A company the backend does not serve (no legal-entity mapping) is refused.
        elsewhere = self.env["psa.money.reconciliation"].create(
            {
                "backend_id": self.backend.id,
                "company_id": other.id,
                "date_from": PERIOD[0],
                "date_to": PERIOD[1],
            }
        )
        with self.assertRaises(UserError):
            elsewhere.action_run()
        self.assertEqual(elsewhere.state, "draft")
