"""Invoice status back to the PSA, over real HTTP against the demo PSA."""

import json

from odoo.addons.psa_connector_base.tests.common import (
    customer_data,
    project_data,
)
from odoo.addons.psa_connector_billing.tests.common import billing_event_data, milestone_contract

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
