"""Purchases and vendor bills pulled from the demo PSA over real HTTP."""

from .common import SuiteTransactionCase


class TestProcurementSync(SuiteTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.simulator = cls.start_simulator()
        cls.backend = cls._create_backend(code="sim-procurement", base_url=cls.simulator.url)

    def pull(self):
        self.backend.action_pull_now()
        return self.run_jobs()

    def test_seeded_purchases_commit_and_their_approved_bills_are_drafted_once(self):
        self.pull()
        approved = self.bound("purchase", "PU-7501")
        self.assertEqual(approved.state, "purchase")
        self.assertEqual(approved.psa_project_id, self.bound("project", "P-2001"))
        self.assertAlmostEqual(approved.amount_untaxed, 80 * 95.0)
        self.assertEqual(self.bound("purchase", "PU-7503").state, "draft", "only submitted")
        bill = self.env["psa.vendor.bill.record"]._find(self.backend, "VB-7801").bill_id
        self.assertEqual((bill.state, bill.amount_untaxed), ("draft", 32 * 95.0))
        self.assertEqual(approved.invoice_ids, bill)
        # The PSA sends the same vendor bill again with a new version: still one bill.
        self.simulator.update("vendor_bill", "VB-7801", {"description": "Weeks 46-48"})
        self.pull()
        self.assertEqual(approved.invoice_ids, bill)
        self.assertEqual(
            self.env["psa.vendor.bill.record"].search_count(
                [("backend_id", "=", self.backend.id), ("idempotency_key", "=", "VB-7801")]
            ),
            1,
        )

    def test_nightly_project_financials_reach_the_psa(self):
        self.pull()
        self.backend.billing_push_financials = True
        self.env["psa.backend"]._cron_push_project_financials()
        # The cron twice the same day queues one push.
        self.env["psa.backend"]._cron_push_project_financials()
        jobs = self.run_jobs(methods=("_push_project_financials_job",))
        self.assertEqual(len(jobs), 1)
        rows = {row["project_id"]: row for row in self.simulator.project_financials}
        self.assertIn("P-2001", rows)
        rollout = rows["P-2001"]
        order = self.bound("purchase", "PU-7501")
        # The subcontract (80 h x 95) is committed: its bill is still a draft.
        self.assertAlmostEqual(rollout["committed_cost"], 80 * 95.0 / order.currency_rate, 2)
        self.assertEqual(rollout["currency"], self.env.company.currency_id.name)
        self.assertEqual(rollout["odoo_project_id"], self.bound("project", "P-2001").id)
        self.assertEqual(
            sum(month["committed_cost"] for month in rollout["months"]),
            rollout["committed_cost"],
        )
        # P-2003's only purchase awaits approval: nothing committed there.
        self.assertEqual(rows.get("P-2003", {}).get("committed_cost", 0.0), 0.0)
