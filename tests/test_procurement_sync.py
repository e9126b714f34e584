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
