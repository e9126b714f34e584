import json
from unittest.mock import patch

import psycopg2
from psycopg2.errorcodes import LOCK_NOT_AVAILABLE

from odoo.sql_db import db_connect
from odoo.tools import mute_logger

from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data

from .common import BillingCase, billing_event_data, contract_data, milestone_contract


class TestContracts(BillingCase):
    def test_time_and_materials_prices_roles_and_people_and_invoices_time_as_draft(self):
        event = self.apply("contract.created", contract_data())
        self.assertEqual(event.state, "done", event.result)
        order = self.order("K-1")
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.currency_id.name, "EUR")
        self.assertEqual(order.partner_id, self.project.partner_id)
        lines = {line.psa_line_key: line for line in order.order_line}
        self.assertEqual(set(lines), {"role:Consultant", "role:Architect", "employee:E-1"})
        self.assertEqual(lines["role:Architect"].price_unit, 210.0)
        self.assertEqual(lines["role:Consultant"].product_id.service_type, "timesheet")
        self.assertTrue(self.project.allow_billable)
        self.assertEqual(self.project.sale_line_id, lines["role:Consultant"])
        mapping = self.project.sale_line_employee_ids
        self.assertEqual(
            (mapping.employee_id, mapping.sale_line_id), (self.anna, lines["employee:E-1"])
        )

        self.apply("time_entry.created", time_entry_data())
        self.assertEqual(self.line().so_line, lines["employee:E-1"])
        self.backend.action_create_draft_invoices()
        invoice = order.invoice_ids
        self.assertEqual(invoice.state, "draft")
        self.assertEqual(invoice.currency_id.name, "EUR")
        self.assertAlmostEqual(invoice.amount_untaxed, 6.5 * 190.0)

    def test_nightly_drafting_runs_as_the_integration_user(self):
        """The cron drafts as the company's integration user, who is no Connector
        Manager: the button's group check must not stop it."""
        self.apply("contract.created", contract_data())
        self.apply("time_entry.created", time_entry_data())
        order = self.order("K-1")
        self.env["psa.backend"]._cron_create_draft_invoices()
        invoice = order.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.state, "draft")
        self.assertAlmostEqual(invoice.amount_untaxed, 6.5 * 190.0)
        self.assertEqual(invoice.create_uid, self.env.company._psa_integration_user())

    def test_time_on_tasks_approved_before_the_contract_is_invoiced_with_it(self):
        # The demo's order: the PSA's time arrives first, the contract after it.
        self.apply("time_entry.created", time_entry_data())
        self.assertFalse(self.line().so_line)
        self.apply("contract.created", contract_data())
        order = self.order("K-1")
        self.assertEqual(self.line().so_line, order._psa_line("employee:E-1"))
        self.backend.action_create_draft_invoices()
        self.assertAlmostEqual(order.invoice_ids.amount_untaxed, 6.5 * 190.0)

    def test_contract_update_reprices_open_lines_and_adds_new_ones(self):
        self.apply("contract.created", contract_data())
        card = contract_data()["rate_card"] + [{"role": "Trainer", "hourly_rate": 95.0}]
        card[0] = {**card[0], "hourly_rate": 160.0}
        event = self.apply("contract.updated", contract_data(rate_card=card, version=2))
        self.assertEqual(event.state, "done", event.result)
        order = self.order("K-1")
        self.assertEqual(order._psa_line("role:Consultant").price_unit, 160.0)
        self.assertEqual(order._psa_line("role:Trainer").price_unit, 95.0)

    def test_fixed_fee_without_schedule_is_invoiced_once_as_a_draft(self):
        self.apply(
            "contract.created",
            contract_data(id="K-3", type="fixed_fee", rate_card=None, fixed_amount=50000.0),
        )
        order = self.order("K-3")
        self.assertEqual(order.order_line.product_id.invoice_policy, "order")
        self.backend.action_create_draft_invoices()
        self.assertEqual(order.invoice_ids.state, "draft")
        self.assertAlmostEqual(order.invoice_ids.amount_untaxed, 50000.0)
        self.backend.action_create_draft_invoices()
        self.assertEqual(len(order.invoice_ids), 1, "nothing is invoiced twice")

    def test_fixed_fee_instalments_bill_as_they_fall_due(self):
        self.apply(
            "contract.created",
            contract_data(
                id="K-4",
                type="fixed_fee",
                currency="GBP",
                rate_card=None,
                fixed_amount=96000.0,
                milestones=[
                    {"id": "I-1", "name": "Design instalment", "amount": 24000.0},
                    {"id": "I-2", "name": "Go-live instalment", "amount": 72000.0},
                ],
            ),
        )
        order = self.order("K-4")
        self.assertEqual(order.currency_id.name, "GBP")
        self.assertEqual(order.invoice_status, "no")
        event = self.apply(
            "billing_event.created",
            billing_event_data(
                id="BE-I1", contract_id="K-4", kind="instalment.due", milestone_id="I-1"
            ),
        )
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(order.invoice_ids.state, "draft")
        self.assertAlmostEqual(order.invoice_ids.amount_untaxed, 24000.0)

    def test_milestones_bill_on_acceptance_only(self):
        self.apply("contract.created", milestone_contract())
        order = self.order()
        self.assertEqual(order.currency_id.name, "USD")
        self.assertEqual(len(order.order_line), 2)
        completed = self.apply(
            "billing_event.created", billing_event_data(id="BE-C", kind="milestone.completed")
        )
        self.assertEqual(completed.state, "done", completed.result)
        self.assertFalse(order.invoice_ids, "completion alone bills nothing by default")
        self.apply("billing_event.created", billing_event_data())
        invoice = order.invoice_ids
        self.assertEqual(invoice.state, "draft")
        self.assertAlmostEqual(invoice.amount_untaxed, 18000.0)
        record = self.env["psa.billing.event.record"]._find(self.backend, "BE-1")
        self.assertEqual(
            (record.invoice_id, record.sale_line_id.psa_line_key), (invoice, "milestone:M-1")
        )

    def test_retainer_periods_add_lines_and_auto_post_when_configured(self):
        self.backend.billing_auto_post_kinds = "retainer.period"
        self.apply(
            "contract.created",
            contract_data(
                id="K-5",
                type="retainer",
                rate_card=None,
                retainer_amount=5000.0,
                retainer_period="month",
            ),
        )
        order = self.order("K-5")
        self.assertFalse(order.order_line)
        self.apply(
            "billing_event.created",
            billing_event_data(
                id="BE-R1",
                contract_id="K-5",
                kind="retainer.period",
                period="2026-11",
                milestone_id=None,
            ),
        )
        invoice = order.invoice_ids
        self.assertEqual(invoice.state, "posted")
        self.assertAlmostEqual(invoice.amount_untaxed, 5000.0)
        self.assertEqual(order._psa_line("retainer:2026-11").name, "Retainer 2026-11")

    def test_change_order_adds_an_invoiceable_line(self):
        self.apply("contract.created", milestone_contract())
        self.apply(
            "billing_event.created",
            billing_event_data(
                id="BE-CO",
                kind="change_order.approved",
                change_order_id="CO-7",
                amount=3500.0,
                description="Extra dashboard",
                milestone_id=None,
            ),
        )
        order = self.order()
        self.assertEqual(order._psa_line("change_order:CO-7").price_unit, 3500.0)
        self.assertAlmostEqual(order.invoice_ids.amount_untaxed, 3500.0)


class TestIdempotency(BillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert cls.apply("contract.created", milestone_contract()).state == "done"

    def test_replayed_five_times_yields_one_invoice_line(self):
        first = self.apply("billing_event.created", billing_event_data(), event_id="evt-be-1")
        self.assertEqual(first.state, "done", first.result)
        # The same delivery again (same envelope id), and four redeliveries under new
        # envelope ids carrying the same billing event id.
        self.apply("billing_event.created", billing_event_data(), event_id="evt-be-1")
        replays = [self.apply("billing_event.created", billing_event_data()) for _i in range(4)]
        self.assertEqual({replay.state for replay in replays}, {"skipped"})
        order = self.order()
        self.assertEqual(len(self.invoice_lines(order)), 1)
        self.assertEqual(len(order.invoice_ids), 1)
        self.assertEqual(
            self.env["psa.billing.event.record"].search_count([("idempotency_key", "=", "BE-1")]), 1
        )

    def test_a_concurrent_worker_waits_on_the_key_instead_of_applying_twice(self):
        self.apply("billing_event.created", billing_event_data())
        record = self.env["psa.billing.event.record"]._find(self.backend, "BE-1")
        self.env.flush_all()
        # A second worker, on its own connection, claims the same key while this
        # transaction (the first worker) has not committed: the unique index makes it
        # wait for us (here: until its lock timeout), never insert a second row.
        second = db_connect(self.env.cr.dbname).cursor()
        try:
            second.execute("SET lock_timeout = '300ms'")
            with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.OperationalError) as caught:
                second.execute(
                    """INSERT INTO psa_billing_event_record
                           (backend_id, company_id, idempotency_key, state)
                       VALUES (%s, %s, %s, 'applied')
                       ON CONFLICT (backend_id, idempotency_key) DO NOTHING RETURNING id""",
                    (record.backend_id.id, record.company_id.id, "BE-1"),
                )
            self.assertEqual(caught.exception.pgcode, LOCK_NOT_AVAILABLE)
        finally:
            second.rollback()
            second.close()
        # Once the first commits, the same statement finds the row and does nothing;
        # within one transaction that is what the claim reports.
        Record = self.env["psa.billing.event.record"]
        self.assertFalse(Record._claim(self.backend, "BE-1", {"kind": "milestone.accepted"}))
        self.assertEqual(len(self.invoice_lines(self.order())), 1)

    def test_a_crash_mid_event_leaves_no_trace_and_the_retry_applies_once(self):
        importer = type(self.env["psa.importer.billing_event"])
        with patch.object(importer, "_invoice_after", side_effect=RuntimeError("worker killed")):
            event = self.apply("billing_event.created", billing_event_data())
        self.assertEqual(event.state, "failed")
        self.assertFalse(self.env["psa.billing.event.record"]._find(self.backend, "BE-1"))
        self.assertEqual(self.order()._psa_line("milestone:M-1").qty_delivered, 0.0)
        event._retry()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(len(self.invoice_lines(self.order())), 1)


class TestFinanceControl(BillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert cls.apply("contract.created", milestone_contract()).state == "done"

    def test_a_posted_invoice_is_never_modified_by_an_inbound_event(self):
        self.apply("billing_event.created", billing_event_data())
        order = self.order()
        invoice = order.invoice_ids
        invoice.action_post()
        total = invoice.amount_total
        amend = self.apply(
            "billing_event.created",
            billing_event_data(id="BE-A", kind="change_order.amended", amount=20000.0),
        )
        self.assertEqual(amend.state, "failed")
        conflict = amend.exception_ids
        self.assertEqual(conflict.category, "conflict")
        self.assertEqual(json.loads(conflict.incoming_values), {"price_unit": 20000.0})
        self.assertEqual(conflict.res_model, "sale.order.line")
        self.assertFalse(self.env["psa.billing.event.record"]._find(self.backend, "BE-A"))
        cancel = self.apply(
            "billing_event.created", billing_event_data(id="BE-X", kind="change_order.cancelled")
        )
        self.assertEqual(cancel.state, "failed")
        update = self.apply(
            "contract.updated",
            milestone_contract(
                version=2,
                milestones=[
                    {"id": "M-1", "name": "Discovery report", "amount": 19000.0},
                    {"id": "M-2", "name": "Dashboards live", "amount": 42000.0},
                ],
            ),
        )
        self.assertEqual(update.state, "failed")
        self.assertEqual(update.exception_ids.category, "conflict")
        self.assertEqual((invoice.state, invoice.amount_total), ("posted", total))
        self.assertEqual(order._psa_line("milestone:M-1").price_unit, 18000.0)

    def test_an_amendment_before_posting_follows_into_the_draft(self):
        self.apply("billing_event.created", billing_event_data())
        invoice = self.order().invoice_ids
        event = self.apply(
            "billing_event.created",
            billing_event_data(id="BE-A", kind="change_order.amended", amount=20000.0),
        )
        self.assertEqual(event.state, "done", event.result)
        self.assertAlmostEqual(invoice.amount_untaxed, 20000.0)

    def test_posting_and_payment_queue_a_status_push_per_state(self):
        self.apply("billing_event.created", billing_event_data())
        invoice = self.order().invoice_ids
        invoice.action_post()
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        jobs = self.env["queue.job"].search([("method_name", "=", "_push_invoice_status_job")])
        jobs = jobs.sorted("id")
        # One push per state, each naming the invoice and a higher sequence than the last.
        self.assertEqual(len(jobs), 2)
        self.assertEqual({job.args[0] for job in jobs}, {invoice.id})
        sequences = [job.args[1] for job in jobs]
        self.assertEqual(sequences, sorted(set(sequences)))
        # What is sent is read when the push runs: the invoice as it is now.
        payload = invoice._psa_status_payload(invoice._psa_contract_orders(), sequences[-1])
        self.assertEqual(payload["number"], invoice.name)
        self.assertEqual(payload["sequence"], sequences[-1])
        self.assertIn(payload["payment_state"], ("paid", "in_payment"))
        self.assertEqual(payload["contract_ids"], ["K-2"])
        self.assertEqual(payload["currency"], "USD")


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
        "receipt_ref": "RCPT-2026-1102-01",
        "updated_at": "2026-11-03T09:00:00Z",
        "version": 1,
        **overrides,
    }


class TestExpenses(BillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert cls.apply("contract.created", contract_data()).state == "done"

    def test_approved_reimbursable_expense_is_reinvoiced_at_cost(self):
        event = self.apply("expense.created", expense_data())
        self.assertEqual(event.state, "done", event.result)
        expense = self.bound("expense", "X-1")
        order = self.order("K-1")
        self.assertEqual(expense.psa_receipt_ref, "RCPT-2026-1102-01")
        self.assertEqual(expense.sale_order_id, order)
        self.assertEqual(expense.product_id.expense_policy, "cost")
        self.assertEqual(expense.sheet_id.state, "approve")
        # Accounting posts the report; Odoo re-invoices it on the contract's order.
        expense.sheet_id.action_sheet_move_post()
        reinvoiced = order.order_line.filtered("is_expense")
        self.assertEqual(len(reinvoiced), 1)
        # At cost means the amount without recoverable tax, in the expense's currency.
        self.assertAlmostEqual(reinvoiced.price_unit, expense.untaxed_amount_currency)
        self.assertEqual(reinvoiced.order_id.currency_id, expense.currency_id)

    def test_an_expense_in_a_currency_odoo_has_inactive_is_applied(self):
        gbp = self.env.ref("base.GBP")
        gbp.active = False
        event = self.apply("expense.created", expense_data(id="X-GBP", currency="GBP"))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(self.bound("expense", "X-GBP").currency_id, gbp)
        self.assertTrue(gbp.active)
        unknown = self.apply("expense.created", expense_data(id="X-XXX", currency="XXQ"))
        self.assertIn("Unknown currency", unknown.result)

    def test_unapproved_or_personal_expenses_create_nothing(self):
        self.apply("expense.created", expense_data(id="X-2", state="submitted"))
        self.apply("expense.created", expense_data(id="X-3", reimbursable=False))
        self.assertFalse(self.bound("expense", "X-2") or self.bound("expense", "X-3"))
