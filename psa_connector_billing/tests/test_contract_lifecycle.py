import json

from .common import BillingCase, billing_event_data, contract_data, milestone_contract


class TestContractLifecycle(BillingCase):
    """The PSA contract's state drives the order: quotation, confirmed, locked, cancelled."""

    def test_a_cancelled_contract_is_never_confirmed(self):
        event = self.apply("contract.created", milestone_contract(state="cancelled"))
        self.assertEqual(event.state, "done", event.result)
        order = self.order()
        self.assertEqual((order.state, order.psa_contract_state), ("cancel", "cancelled"))
        self.assertFalse(order.date_order and order.state == "sale")
        # A billing event for it changes nothing: one exception with the reason.
        billed = self.apply("billing_event.created", billing_event_data())
        self.assertEqual(billed.state, "failed")
        self.assertIn("cancelled", billed.exception_ids.name)
        self.assertFalse(order.order_line.filtered("qty_delivered"))

    def test_signed_is_a_quotation_until_the_contract_becomes_active(self):
        self.apply("contract.created", contract_data(state="signed"))
        order = self.order("K-1")
        self.assertEqual((order.state, order.psa_contract_state), ("draft", "pending"))
        # The project's time is not billed on a quotation.
        self.assertFalse(self.project.sale_line_id)
        event = self.apply("contract.updated", contract_data(state="active", version=2))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual((order.state, order.psa_contract_state), ("sale", "active"))
        self.assertIn("confirmed", event.result)
        self.assertEqual(self.project.sale_line_id, order._psa_line("role:Consultant"))

    def test_approved_is_billed_like_active(self):
        self.apply("contract.created", contract_data(state="approved"))
        self.assertEqual(self.order("K-1").state, "sale")

    def test_an_unknown_state_is_refused_with_its_payload(self):
        event = self.apply("contract.created", contract_data(state="on_ice"))
        self.assertEqual(event.state, "failed")
        self.assertFalse(self.order("K-1"))
        exception = event.exception_ids
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.category, "invalid_payload")
        self.assertIn("on_ice", exception.name)
        self.assertEqual(json.loads(exception.payload)["data"]["state"], "on_ice")

    def test_cancelling_with_a_posted_invoice_is_a_conflict_and_touches_nothing(self):
        self.apply("contract.created", milestone_contract())
        self.apply("billing_event.created", billing_event_data())
        order = self.order()
        invoice = order.invoice_ids
        invoice.action_post()
        self.assertEqual(invoice.amount_untaxed, 18000.0)
        total = invoice.amount_total
        event = self.apply("contract.updated", milestone_contract(state="cancelled", version=2))
        self.assertEqual(event.state, "failed")
        conflict = event.exception_ids
        self.assertEqual(len(conflict), 1)
        self.assertEqual(conflict.category, "conflict")
        self.assertEqual(json.loads(conflict.incoming_values), {"state": "cancelled"})
        self.assertEqual((conflict.res_model, conflict.res_id), ("sale.order", order.id))
        self.assertEqual((order.state, order.psa_contract_state), ("sale", "active"))
        self.assertEqual((invoice.state, invoice.amount_total), ("posted", total))
        self.assertEqual(invoice.amount_untaxed, 18000.0)

    def test_cancelling_without_posted_invoices_cancels_the_order_and_its_drafts(self):
        self.apply("contract.created", milestone_contract())
        self.apply("billing_event.created", billing_event_data())
        order = self.order()
        draft = order.invoice_ids
        self.assertEqual(draft.state, "draft")
        event = self.apply("contract.updated", milestone_contract(state="cancelled", version=2))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual((order.state, draft.state), ("cancel", "cancel"))

    def test_a_billing_event_on_a_closed_contract_is_one_exception_and_no_line(self):
        self.apply(
            "contract.created",
            contract_data(
                id="K-5",
                type="retainer",
                rate_card=None,
                retainer_amount=4000.0,
                retainer_period="month",
            ),
        )
        order = self.order("K-5")
        event = self.apply(
            "contract.updated",
            contract_data(
                id="K-5",
                type="retainer",
                rate_card=None,
                retainer_amount=4000.0,
                retainer_period="month",
                state="closed",
                version=2,
            ),
        )
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(
            (order.state, order.locked, order.psa_contract_state), ("sale", True, "closed")
        )
        lines = len(order.order_line)
        billed = self.apply(
            "billing_event.created",
            billing_event_data(
                id="BE-R",
                contract_id="K-5",
                kind="retainer.period",
                period="2026-12",
                milestone_id=None,
            ),
        )
        self.assertEqual(billed.state, "failed")
        exception = billed.exception_ids
        self.assertEqual(len(exception), 1)
        self.assertIn("closed", exception.name)
        self.assertEqual(len(order.order_line), lines)
        self.assertFalse(self.env["psa.billing.event.record"]._find(self.backend, "BE-R"))
