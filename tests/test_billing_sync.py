"""Invoice status back to the PSA, over real HTTP against the demo PSA."""

import json
from datetime import UTC, datetime, timedelta

from odoo.addons.psa_connector_base.tests.common import (
    customer_data,
    project_data,
)
from odoo.addons.psa_connector_base.tools.access import workflow_write
from odoo.addons.psa_connector_billing.tests.common import billing_event_data, milestone_contract
from odoo.addons.queue_job.exception import RetryableJobError

from .common import SuiteTransactionCase

PUSH = ("_push_invoice_status_job",)


class TestBillingSync(SuiteTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.simulator = cls.start_simulator()
        cls.backend = cls._create_backend(
            code="sim-billing", base_url=cls.simulator.url, max_attempts=2
        )
        for event_type, data in (
            ("customer.created", customer_data()),
            ("project.created", project_data()),
            ("contract.created", milestone_contract()),
        ):
            assert cls.apply(event_type, data).state == "done"

    def setUp(self):
        super().setUp()
        self.simulator.reset()

    def accept(self, milestone_id):
        event = self.apply(
            "billing_event.created",
            billing_event_data(id=f"BE-{milestone_id}", milestone_id=milestone_id),
        )
        self.assertEqual(event.state, "done", event.result)
        return (
            self.env["psa.billing.event.record"]
            ._find(self.backend, f"BE-{milestone_id}")
            .invoice_id
        )

    def test_posting_and_payment_reach_the_psa(self):
        invoice = self.accept("M-1")
        self.assertEqual(invoice.state, "draft")
        self.run_jobs(methods=PUSH)
        self.assertEqual(self.simulator.invoices, {}, "drafts are finance's, not reported")
        invoice.action_post()
        self.run_jobs(methods=PUSH)
        received = self.simulator.invoices[invoice.name]
        self.assertEqual(received["payment_state"], "not_paid")
        self.assertEqual(received["contract_ids"], ["K-2"])
        self.assertEqual(received["currency"], "USD")
        self.assertAlmostEqual(received["amount_untaxed"], 18000.0)
        self.assertEqual(received["due_date"], str(invoice.invoice_date_due))
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        self.run_jobs(methods=PUSH)
        received = self.simulator.invoices[invoice.name]
        self.assertIn(received["payment_state"], ("paid", "in_payment"))
        self.assertAlmostEqual(received["amount_residual"], 0.0)
        log = self.env["psa.audit.log"].search(
            [("backend_id", "=", self.backend.id), ("object_type", "=", "invoice")]
        )
        self.assertEqual(len(log), 2)

    def test_reversal_is_reported(self):
        invoice = self.accept("M-1")
        invoice.action_post()
        reversal = invoice._reverse_moves(cancel=True)
        self.run_jobs(methods=PUSH)
        self.assertEqual(self.simulator.invoices[invoice.name]["payment_state"], "reversed")
        self.assertEqual(self.simulator.invoices[reversal.name]["reversed_entry"], invoice.name)

    def test_an_outbound_failure_retries_then_lands_in_the_exception_queue(self):
        invoice = self.accept("M-1")
        self.simulator.add_fault(status=503, count=50)
        invoice.action_post()
        jobs = self.run_jobs(methods=PUSH)
        self.assertGreater(len(jobs), 1, "the push was retried")
        self.assertNotIn(invoice.name, self.simulator.invoices)
        exception = self.env["psa.exception"].search(
            [("backend_id", "=", self.backend.id), ("object_type", "=", "invoice")]
        )
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.category, "remote_error")
        self.assertEqual(exception.external_id, invoice.name)
        payload = json.loads(exception.payload)
        self.assertEqual((payload["number"], payload["payment_state"]), (invoice.name, "not_paid"))

    # Ordered pushes: the job reads the invoice when it runs and numbers the push.

    def pay(self, invoice, amount=None):
        values = {"amount": amount} if amount is not None else {}
        return (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create(values)
            ._create_payments()
        )

    def pending_pushes(self):
        return self.env["queue.job"].search(
            [("method_name", "=", PUSH[0]), ("state", "=", "pending")], order="id"
        )

    def test_an_old_push_run_after_a_newer_one_changes_nothing_in_the_psa(self):
        invoice = self.accept("M-1")
        invoice.action_post()
        self.pay(invoice)
        posted, paid = self.pending_pushes()
        self.assertEqual(posted.args[0], invoice.id)
        self.assertLess(posted.args[1], paid.args[1], "a later push carries a higher number")
        # The queue runs the newer push first (the older one was retried, say).
        self.backend._push_invoice_status_job(*paid.args)
        received = self.simulator.invoices[invoice.name]
        self.assertIn(received["payment_state"], ("paid", "in_payment"))
        self.assertEqual(received["sequence"], paid.args[1])
        self.assertEqual(received["pushes"], 1)
        result = self.backend._push_invoice_status_job(*posted.args)
        self.assertIn("skipped", result)
        self.assertEqual(self.simulator.invoices[invoice.name], received, "nothing changed")
        binding = self.env["psa.binding"]._find(self.backend, "invoice", invoice.name)
        self.assertEqual((binding.res_id, binding.external_version), (invoice.id, paid.args[1]))
        self.assertFalse(self.env["psa.exception"].search([("object_type", "=", "invoice")]))

    def test_a_first_push_meeting_a_concurrent_first_push_is_retried(self):
        invoice = self.accept("M-1")
        invoice.action_post()
        [posted] = self.pending_pushes()
        # Another push's transaction recorded this invoice number's binding first: the
        # binding's unique key refuses the second insert, and the job is retried (it
        # then finds the binding and its sequence) instead of failing for good.
        with workflow_write():
            self.env["psa.binding"].create(
                {
                    "backend_id": self.backend.id,
                    "external_type": "invoice",
                    "external_id": invoice.name,
                    "res_model": "res.partner",
                    "res_id": invoice.partner_id.id,
                }
            )
        with self.assertRaises(RetryableJobError):
            self.backend._push_invoice_status_job(*posted.args)
        self.assertNotIn(invoice.name, self.simulator.invoices)

    def test_a_push_sends_the_state_at_execution_time(self):
        invoice = self.accept("M-1")
        invoice.action_post()
        [posted] = self.pending_pushes()
        self.pay(invoice)
        # The push queued at posting runs after the payment: it tells the payment.
        self.backend._push_invoice_status_job(*posted.args)
        received = self.simulator.invoices[invoice.name]
        self.assertIn(received["payment_state"], ("paid", "in_payment"))
        self.assertAlmostEqual(received["amount_residual"], 0.0)

    def test_partial_payment_and_unreconciled_payment_are_pushed(self):
        invoice = self.accept("M-1")
        invoice.action_post()
        self.run_jobs(methods=PUSH)
        total = invoice.amount_total
        payment = self.pay(invoice, 5000.0)
        self.run_jobs(methods=PUSH)
        received = self.simulator.invoices[invoice.name]
        self.assertEqual(received["payment_state"], "partial")
        self.assertAlmostEqual(received["amount_residual"], total - 5000.0)
        # The payment is taken off the invoice: the PSA hears the full amount is due again.
        payment.move_id.line_ids.remove_move_reconcile()
        self.assertEqual(invoice.payment_state, "not_paid")
        self.run_jobs(methods=PUSH)
        received = self.simulator.invoices[invoice.name]
        self.assertEqual(received["payment_state"], "not_paid")
        self.assertAlmostEqual(received["amount_residual"], total)
        self.assertEqual(received["pushes"], 3)

    def test_a_credit_note_is_pushed_and_settles_the_invoice(self):
        invoice = self.accept("M-1")
        invoice.action_post()
        self.run_jobs(methods=PUSH)
        refund = invoice._reverse_moves()
        self.assertEqual(refund.move_type, "out_refund")
        # Posting the credit note settles the invoice it reverses (Odoo reconciles them).
        refund.action_post()
        self.assertEqual(invoice.payment_state, "reversed")
        self.run_jobs(methods=PUSH)
        received = self.simulator.invoices[refund.name]
        self.assertEqual(
            (received["move_type"], received["reversed_entry"]), ("out_refund", invoice.name)
        )
        self.assertEqual(self.simulator.invoices[invoice.name]["payment_state"], "reversed")
        self.assertAlmostEqual(self.simulator.invoices[invoice.name]["amount_residual"], 0.0)

    def test_account_health_reaches_the_psa_for_bound_customers_only(self):
        invoice = self.accept("M-1")
        invoice.action_post()
        unbound = self.env["res.partner"].create({"name": "Walk-in client"})
        other = invoice.copy({"partner_id": unbound.id})
        other.action_post()
        self.env["psa.backend"]._cron_push_account_health()
        self.run_jobs(methods=("_push_account_health_job",))
        received = self.simulator.account_health
        self.assertEqual(list(received), ["C-1"])
        row = received["C-1"]
        # One open invoice: DSO = open / invoiced in the last 90 days x 90.
        today = datetime.now(UTC).date()
        recent = invoice.invoice_date > today - timedelta(days=90)
        late = (today - invoice.invoice_date_due).days
        self.assertAlmostEqual(row["dso"], 90.0 if recent else 0.0)
        self.assertAlmostEqual(row["open_receivable"], invoice.amount_total_signed)
        self.assertAlmostEqual(
            row["overdue_receivable"], invoice.amount_total_signed if late > 0 else 0.0
        )
        self.assertEqual(
            row["status"], "at_risk" if recent or late > 90 else "watch" if late > 30 else "current"
        )
        self.assertEqual(row["currency"], invoice.company_id.currency_id.name)
        self.assertEqual(row["as_of"], str(today))
