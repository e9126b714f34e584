from datetime import date
from unittest.mock import patch

import psycopg2
from psycopg2.errorcodes import LOCK_NOT_AVAILABLE

from odoo import Command
from odoo.exceptions import AccessError
from odoo.sql_db import db_connect
from odoo.tools import mute_logger

from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data

from .common import BillingCase, billing_event_data, contract_data, milestone_contract

NOVEMBER = date(2026, 11, 1)
DECEMBER = date(2026, 12, 1)


def purchase_data(**overrides):
    return {
        "id": "PU-1",
        "project_id": "P-1",
        "kind": "subcontract",
        "vendor_id": "V-1",
        "vendor_name": "Datawerk Freelance GmbH",
        "vendor_email": "billing@datawerk.example",
        "description": "Freelance data migration specialist",
        "hours": 40.0,
        "hourly_rate": 95.0,
        "amount": 3800.0,
        "date": "2026-11-02",
        "state": "approved",
        "updated_at": "2026-11-02T09:00:00Z",
        "version": 1,
        **overrides,
    }


def vendor_bill_data(**overrides):
    return {
        "id": "VB-1",
        "purchase_id": "PU-1",
        "kind": "subcontractor_time",
        "date": "2026-11-27",
        "hours": 16.0,
        "hourly_rate": 95.0,
        "amount": 1520.0,
        "vendor_ref": "DW-2026-041",
        "description": "Approved subcontractor time, weeks 46-48",
        "state": "approved",
        "updated_at": "2026-11-27T09:00:00Z",
        "version": 1,
        **overrides,
    }


class FinancialsCase(BillingCase):
    """One engagement (project P-1): a T&M contract K-1 (Anna at 190/h) and a milestone
    contract K-2 (18,000 + 42,000), in the company currency; Anna costs 60/h (Odoo's
    hourly cost, which her timesheets are costed with when they are written)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.currency = cls.env.company.currency_id
        code = cls.currency.name
        cls.anna.hourly_cost = 60.0
        for data in (contract_data(currency=code), milestone_contract(currency=code)):
            event = cls.apply("contract.created", data)
            assert event.state == "done", event.result
        cls.account = cls.project.account_id
        assert cls.account

    def figures(self, month=None, project=None):
        project = project or self.project
        domain = [("project_id", "=", project.id)]
        if month:
            domain.append(("date", "=", month))
        totals = self.env["psa.project.financial"]._totals(domain)
        return totals.get(project.id) or dict.fromkeys(
            ("revenue", "cost", "margin", "margin_pct", "committed_cost", "wip", "backlog"), 0.0
        )

    def post(self, moves, day="2026-11-30"):
        moves.write({"invoice_date": day})
        moves.action_post()
        self.assertEqual(set(moves.mapped("state")), {"posted"})
        return moves

    def assertFigures(self, expected, month=None):
        figures = self.figures(month)
        for name, value in expected.items():
            self.assertAlmostEqual(figures[name], value, places=2, msg=name)


class TestProcurement(FinancialsCase):
    def test_commitment_is_visible_before_the_bill_and_billed_once_under_replay(self):
        event = self.apply("purchase.created", purchase_data())
        self.assertEqual(event.state, "done", event.result)
        order = self.bound("purchase", "PU-1")
        self.assertEqual(order.state, "purchase")
        self.assertEqual(order.partner_id.name, "Datawerk Freelance GmbH")
        self.assertEqual(order.psa_project_id, self.project)
        self.assertEqual((order.order_line.product_qty, order.order_line.price_unit), (40.0, 95.0))
        self.assertEqual(order.order_line.analytic_distribution, {str(self.account.id): 100})
        # Committed before any bill: 40 h x 95 = 3,800.
        self.assertFigures({"committed_cost": 3800.0, "cost": 0.0})

        first = self.apply("vendor_bill.created", vendor_bill_data(), event_id="evt-vb-1")
        self.assertEqual(first.state, "done", first.result)
        # The same delivery again, and four redeliveries under new envelope ids.
        self.apply("vendor_bill.created", vendor_bill_data(), event_id="evt-vb-1")
        replays = [self.apply("vendor_bill.created", vendor_bill_data()) for _i in range(4)]
        self.assertEqual({replay.state for replay in replays}, {"skipped"})
        records = self.env["psa.vendor.bill.record"].search([("idempotency_key", "=", "VB-1")])
        self.assertEqual(len(records), 1)
        bill = order.invoice_ids
        self.assertEqual(len(bill), 1)
        self.assertEqual(records.bill_id, bill)
        self.assertEqual((bill.move_type, bill.state), ("in_invoice", "draft"))
        self.assertEqual(bill.ref, "DW-2026-041")
        self.assertAlmostEqual(bill.amount_untaxed, 1520.0)
        self.assertEqual(bill.invoice_line_ids.purchase_line_id, order.order_line)
        self.assertEqual(bill.invoice_line_ids.analytic_distribution, {str(self.account.id): 100})
        # A draft is not a cost yet: the whole order is still committed.
        self.assertFigures({"committed_cost": 3800.0, "cost": 0.0})

        self.post(bill, "2026-11-27")
        # Posted: 1,520 moves from committed to cost; 3,800 - 1,520 = 2,280 stays committed.
        self.assertFigures(
            {"committed_cost": 2280.0, "vendor_bill_cost": 1520.0, "cost": 1520.0},
            month=NOVEMBER,
        )
        again = self.apply("vendor_bill.created", vendor_bill_data(version=2))
        self.assertEqual(again.state, "skipped", again.result)
        self.assertEqual(len(order.invoice_ids), 1)

    def test_only_approved_purchases_are_committed(self):
        self.apply("purchase.created", purchase_data(state="submitted"))
        order = self.bound("purchase", "PU-1")
        self.assertEqual(order.state, "draft")
        self.assertFigures({"committed_cost": 0.0})
        early = self.apply("vendor_bill.created", vendor_bill_data())
        self.assertNotEqual(early.state, "done")
        self.assertTrue(self.exceptions(external_id="VB-1"))
        self.assertFalse(order.invoice_ids)

        self.apply("purchase.updated", purchase_data(version=2))
        self.assertEqual(order.state, "purchase")
        self.assertFigures({"committed_cost": 3800.0})
        # The engagement grows to 60 h: so does the commitment.
        self.apply("purchase.updated", purchase_data(version=3, hours=60.0, amount=5700.0))
        self.assertFigures({"committed_cost": 5700.0})
        # Closed in the PSA: what is left unbilled is no longer committed.
        self.apply(
            "purchase.updated", purchase_data(version=4, amount=5700.0, hours=60.0, state="closed")
        )
        self.assertEqual(order.state, "done")
        self.assertFigures({"committed_cost": 0.0})

    def test_cancelling_a_billed_purchase_is_a_conflict_not_a_silent_change(self):
        self.apply("purchase.created", purchase_data())
        self.apply("vendor_bill.created", vendor_bill_data())
        order = self.bound("purchase", "PU-1")
        event = self.apply("purchase.updated", purchase_data(version=2, state="cancelled"))
        self.assertNotEqual(event.state, "done")
        self.assertEqual(order.state, "purchase")
        self.assertTrue(self.exceptions(external_id="PU-1"))

    def test_unapproved_vendor_bills_bill_nothing_and_do_not_burn_the_key(self):
        self.apply("purchase.created", purchase_data())
        pending = self.apply("vendor_bill.created", vendor_bill_data(state="submitted"))
        self.assertEqual(pending.state, "skipped")
        order = self.bound("purchase", "PU-1")
        self.assertFalse(order.invoice_ids)
        approved = self.apply("vendor_bill.created", vendor_bill_data(version=2))
        self.assertEqual(approved.state, "done", approved.result)
        self.assertEqual(len(order.invoice_ids), 1)

    def test_a_vendor_is_created_once_and_reused(self):
        self.apply("purchase.created", purchase_data())
        self.apply("purchase.created", purchase_data(id="PU-2", amount=500.0, hours=None))
        first, second = self.bound("purchase", "PU-1"), self.bound("purchase", "PU-2")
        self.assertEqual(first.partner_id, second.partner_id)
        self.assertEqual(
            (second.order_line.product_qty, second.order_line.price_unit), (1.0, 500.0)
        )


class TestProjectFinancials(FinancialsCase):
    def test_grouped_margin_pct_is_the_margin_of_the_summed_rows(self):
        # November: 6.5 h (Anna at 60/h) invoiced at 190; December: 4 h (at 80/h) at 190.
        self.apply("time_entry.created", time_entry_data())
        self.backend.action_create_draft_invoices()
        self.post(self.order("K-1").invoice_ids)
        # A raise: December's time is costed at it, November's keeps its cost.
        self.anna.hourly_cost = 80.0
        self.apply("time_entry.created", time_entry_data(id="TE-2", date="2026-12-02", hours=4.0))
        self.backend.action_create_draft_invoices()
        self.post(
            self.order("K-1").invoice_ids.filtered(lambda m: m.state == "draft"), "2026-12-04"
        )
        Financial = self.env["psa.project.financial"]
        domain = [("project_id", "=", self.project.id), ("revenue", "!=", 0)]
        rows = Financial.search(domain, order="date")
        # Two rows with different revenues: 6.5 x 190 = 1,235 less 6.5 x 60 = 390, and
        # 4 x 190 = 760 less 4 x 80 = 320.
        self.assertEqual(
            [(row.date, row.revenue, row.margin) for row in rows],
            [(NOVEMBER, 1235.0, 845.0), (DECEMBER, 760.0, 440.0)],
        )
        hand = 100.0 * (845.0 + 440.0) / (1235.0 + 760.0)  # 64.41 %
        naive = (100.0 * 845.0 / 1235.0 + 100.0 * 440.0 / 760.0) / 2  # 63.16 %
        self.assertGreater(abs(hand - naive), 1.0)
        # As the pivot asks (the field's aggregator), as a list group asks, and by name.
        for spec in ("margin_pct:avg", "margin_pct:sum", "margin_pct"):
            [group] = Financial.read_group(domain, [spec, "revenue:sum"], ["project_id"])
            self.assertAlmostEqual(group["margin_pct"], hand, places=6, msg=spec)
        self.assertEqual(Financial.fields_get(["margin_pct"])["margin_pct"]["aggregator"], "avg")
        # The best month stays a row's own ratio.
        [group] = Financial.read_group(domain, ["margin_pct:max"], ["project_id"])
        self.assertAlmostEqual(group["margin_pct"], 100.0 * 845.0 / 1235.0, places=6)
        # Per month, each group is its own row's ratio; the web client's read_group too.
        months = Financial.web_read_group(
            domain, ["margin_pct:avg"], ["date:month"], orderby="date:month"
        )["groups"]
        self.assertEqual(
            [round(group["margin_pct"], 4) for group in months],
            [round(100.0 * 845.0 / 1235.0, 4), round(100.0 * 440.0 / 760.0, 4)],
        )
        # A group without revenue has no margin %, not a division error.
        [empty] = Financial.read_group(
            [("project_id", "=", self.project.id), ("revenue", "=", 0)], ["margin_pct"], []
        )
        self.assertEqual(empty["margin_pct"], 0.0)

    def test_wip_falls_when_time_is_invoiced(self):
        self.apply("time_entry.created", time_entry_data())
        # 6.5 h of Anna at her contract rate of 190.
        self.assertFigures({"wip": 1235.0, "revenue": 0.0})
        self.backend.action_create_draft_invoices()
        invoice = self.order("K-1").invoice_ids
        self.assertEqual(invoice.state, "draft")
        self.assertFigures({"wip": 1235.0}, month=NOVEMBER)
        self.post(invoice)
        self.assertFigures({"wip": 0.0, "revenue": 1235.0})
        self.apply("time_entry.created", time_entry_data(id="TE-2", date="2026-11-23", hours=4.0))
        self.assertFigures({"wip": 760.0, "revenue": 1235.0})

    def test_backlog_falls_as_milestones_are_invoiced(self):
        # K-2: 18,000 + 42,000 not invoiced; the T&M contract has no fixed value.
        self.assertFigures({"backlog": 60000.0, "wip": 0.0})
        self.apply("billing_event.created", billing_event_data())
        order = self.order("K-2")
        # Accepted: earned, not billed yet (its invoice is a draft).
        self.assertEqual(order.invoice_ids.state, "draft")
        self.assertFigures({"backlog": 60000.0, "wip": 18000.0})
        self.post(order.invoice_ids)
        self.assertFigures({"backlog": 42000.0, "wip": 0.0, "revenue": 18000.0})
        self.apply("billing_event.created", billing_event_data(id="BE-2", milestone_id="M-2"))
        self.post(order.invoice_ids.filtered(lambda m: m.state == "draft"), "2026-12-02")
        self.assertFigures({"backlog": 0.0, "wip": 0.0, "revenue": 60000.0})
        self.assertFigures({"revenue": 42000.0}, month=DECEMBER)

    def test_report_revenue_equals_posted_invoice_lines_on_the_analytic_accounts(self):
        self.apply("time_entry.created", time_entry_data())
        self.apply("billing_event.created", billing_event_data())
        self.backend.action_create_draft_invoices()
        self.post(self.order("K-1").invoice_ids | self.order("K-2").invoice_ids)
        # In December: M-2 posted; a retainer-like draft stays out of any period.
        self.apply("billing_event.created", billing_event_data(id="BE-2", milestone_id="M-2"))
        self.post(
            self.order("K-2").invoice_ids.filtered(lambda m: m.state == "draft"), "2026-12-02"
        )
        self.apply(
            "billing_event.created",
            billing_event_data(
                id="BE-CO",
                kind="change_order.approved",
                change_order_id="CO-1",
                amount=900.0,
                milestone_id=None,
            ),
        )
        # A credit note of 1 h in November lowers November's revenue.
        invoice_tm = self.order("K-1").invoice_ids
        refund = self.env["account.move"].create(
            {
                "move_type": "out_refund",
                "partner_id": invoice_tm.partner_id.id,
                "invoice_date": "2026-11-30",
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Goodwill: one hour",
                            "quantity": 1.0,
                            "price_unit": 190.0,
                            "tax_ids": [Command.clear()],
                            "analytic_distribution": {str(self.account.id): 100},
                        }
                    )
                ],
            }
        )
        refund.action_post()

        for month, start, end, hand_computed in (
            # 6.5 h x 190 + 18,000 - 190
            (NOVEMBER, "2026-11-01", "2026-11-30", 1235.0 + 18000.0 - 190.0),
            (DECEMBER, "2026-12-01", "2026-12-31", 42000.0),
        ):
            lines = self.env["account.move.line"].search(
                [
                    ("parent_state", "=", "posted"),
                    ("move_id.move_type", "in", ("out_invoice", "out_refund")),
                    ("date", ">=", start),
                    ("date", "<=", end),
                    ("display_type", "=", "product"),
                ]
            )
            on_account = sum(
                -line.balance
                * (line.analytic_distribution or {}).get(str(self.account.id), 0)
                / 100
                for line in lines
            )
            report = sum(
                row.revenue
                for row in self.env["psa.project.financial"].search(
                    [("account_id", "=", self.account.id), ("date", "=", month)]
                )
            )
            self.assertAlmostEqual(on_account, hand_computed, places=2)
            self.assertAlmostEqual(report, on_account, places=2)

    def test_figures_stay_within_their_company_and_need_finance_rights(self):
        self.apply("billing_event.created", billing_event_data())
        # 6.5 h of Anna at 60/h: a cost that reveals her rate.
        self.apply("time_entry.created", time_entry_data())
        Financial = self.env["psa.project.financial"]
        self.assertTrue(Financial.search([("project_id", "=", self.project.id)]))
        other = self.env["res.company"].create({"name": "Other Consultancy Ltd"})
        finance_here = self.env["res.users"].create(
            {
                "name": "Fiona Finance",
                "login": "fiona.finance@example.com",
                "company_id": self.env.company.id,
                "company_ids": [Command.set(self.env.company.ids)],
                "groups_id": [
                    Command.set(
                        [
                            self.env.ref("account.group_account_invoice").id,
                            self.env.ref("psa_connector_base.group_cost_reader").id,
                        ]
                    )
                ],
            }
        )
        finance_there = finance_here.copy(
            {
                "login": "olaf.other@example.com",
                "company_id": other.id,
                "company_ids": [Command.set(other.ids)],
            }
        )
        connector_user = self.env["res.users"].create(
            {
                "name": "Connie Connector",
                "login": "connie@example.com",
                "groups_id": [
                    Command.set(
                        [
                            self.env.ref("base.group_user").id,
                            self.env.ref("psa_connector_base.group_connector_user").id,
                        ]
                    )
                ],
            }
        )
        domain = [("project_id", "=", self.project.id)]
        self.assertEqual(
            Financial.with_user(finance_here).search_count(domain),
            Financial.search_count(domain),
        )
        self.assertEqual(
            Financial.with_user(finance_there).with_company(other).search_count(domain), 0
        )
        with self.assertRaises(AccessError):
            Financial.with_user(connector_user).search(domain)
        # Cost and margin reveal cost rates: invoicing users and connector managers
        # without the cost group read neither the report nor the project's figures.
        invoicing_only = finance_here.copy(
            {
                "login": "ivan.invoicing@example.com",
                "groups_id": [Command.set([self.env.ref("account.group_account_invoice").id])],
            }
        )
        connector_manager = connector_user.copy(
            {
                "login": "mona.manager@example.com",
                "groups_id": [
                    Command.set([self.env.ref("psa_connector_base.group_connector_manager").id])
                ],
            }
        )
        for user in (invoicing_only, connector_manager, connector_user):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    Financial.with_user(user).search_read(domain, ["margin"])
                with self.assertRaises(AccessError):
                    self.project.with_user(user).read(["psa_margin"])
        self.project.invalidate_recordset()
        margin = self.project.with_user(finance_here).read(["psa_margin", "psa_cost"])[0]
        self.assertAlmostEqual(margin["psa_margin"], self.figures()["margin"], places=2)
        self.assertAlmostEqual(margin["psa_cost"], 6.5 * 60.0, places=2)


class TestVendorBillConcurrency(FinancialsCase):
    def test_a_concurrent_worker_waits_on_the_key_instead_of_billing_twice(self):
        self.apply("purchase.created", purchase_data())
        self.apply("vendor_bill.created", vendor_bill_data())
        record = self.env["psa.vendor.bill.record"]._find(self.backend, "VB-1")
        self.assertTrue(record.bill_id)
        self.env.flush_all()
        # A second worker on its own connection claims the same key before this one
        # commits: the unique index makes it wait (until its lock timeout), never insert.
        second = db_connect(self.env.cr.dbname).cursor()
        try:
            second.execute("SET lock_timeout = '300ms'")
            with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.OperationalError) as caught:
                second.execute(
                    """INSERT INTO psa_vendor_bill_record
                           (backend_id, company_id, idempotency_key)
                       VALUES (%s, %s, %s)
                       ON CONFLICT (backend_id, idempotency_key) DO NOTHING RETURNING id""",
                    (record.backend_id.id, record.company_id.id, "VB-1"),
                )
            self.assertEqual(caught.exception.pgcode, LOCK_NOT_AVAILABLE)
        finally:
            second.rollback()
            second.close()
        Record = self.env["psa.vendor.bill.record"]
        self.assertFalse(Record._claim(self.backend, "VB-1", {"kind": "vendor_invoice"}))
        self.assertEqual(len(self.bound("purchase", "PU-1").invoice_ids), 1)

    def test_a_crash_mid_bill_leaves_no_trace_and_the_retry_bills_once(self):
        self.apply("purchase.created", purchase_data())
        importer = type(self.env["psa.importer.vendor_bill"])
        with patch.object(importer, "_create_bill", side_effect=RuntimeError("worker killed")):
            event = self.apply("vendor_bill.created", vendor_bill_data())
        self.assertEqual(event.state, "failed")
        self.assertFalse(self.env["psa.vendor.bill.record"]._find(self.backend, "VB-1"))
        event._retry()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(len(self.bound("purchase", "PU-1").invoice_ids), 1)
