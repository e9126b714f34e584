from datetime import date

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user

from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data

from .common import BillingCase, contract_data

NOVEMBER = date(2026, 11, 1)


class TestFinancialSnapshot(BillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Anna costs 80 an hour; the contract bills her at 190 an hour.
        cls.anna.hourly_cost = 80.0
        assert cls.apply("contract.created", contract_data()).state == "done"
        assert cls.apply("time_entry.created", time_entry_data()).state == "done"

    def live(self, month=NOVEMBER):
        self.env.flush_all()
        self.env["psa.project.financial"].invalidate_model()
        return self.env["psa.project.financial"].search(
            [("project_id", "=", self.project.id), ("date", "=", month)]
        )

    def test_a_frozen_month_does_not_move_when_late_work_arrives(self):
        Snapshot = self.env["psa.project.financial.snapshot"]
        company = self.project.company_id
        snapshot = Snapshot._psa_freeze(company, date(2026, 11, 17))
        self.assertEqual(len(snapshot), 1)
        self.assertEqual((snapshot.project_id, snapshot.date), (self.project, NOVEMBER))
        # 6.5 h on 16 November: cost 6.5 x 80 = 520, WIP 6.5 x 190 = 1,235, nothing invoiced.
        self.assertEqual(snapshot.hours, 6.5)
        self.assertAlmostEqual(snapshot.labour_cost, 6.5 * 80.0)
        self.assertAlmostEqual(snapshot.cost, 520.0)
        self.assertAlmostEqual(snapshot.margin, -520.0)
        self.assertAlmostEqual(snapshot.wip, 6.5 * 190.0)
        self.assertEqual((snapshot.revenue, snapshot.revenue_recognised), (0.0, 0.0))

        # Late November work: 3 h on 20 November.
        late = time_entry_data(id="TE-2", date="2026-11-20", hours=3.0)
        self.assertEqual(self.apply("time_entry.created", late).state, "done")
        live = self.live()
        self.assertEqual(live.hours, 9.5)
        self.assertAlmostEqual(live.wip, 9.5 * 190.0)
        self.assertAlmostEqual(live.labour_cost, 9.5 * 80.0)
        # The snapshot did not move, and freezing again returns it unchanged.
        snapshot.invalidate_recordset()
        self.assertEqual(snapshot.hours, 6.5)
        self.assertAlmostEqual(snapshot.wip, 1235.0)
        again = Snapshot._psa_freeze(company, NOVEMBER)
        self.assertEqual(again, snapshot)
        self.assertEqual(Snapshot.search_count([("date", "=", NOVEMBER)]), 1)
        self.assertAlmostEqual(again.labour_cost, 520.0)

        # Frozen: the figures are never written, not even by a sudo write; the close's
        # own columns are filled once.
        with self.assertRaises(UserError):
            snapshot.sudo().write({"wip": 0.0})
        with self.assertRaises(UserError):
            snapshot.sudo().unlink()
        snapshot.sudo().write({"deferred_balance": 300.0})
        with self.assertRaises(UserError):
            snapshot.sudo().write({"deferred_balance": 0.0})

    def test_december_work_stays_out_of_november_and_balances_carry(self):
        december = time_entry_data(id="TE-3", date="2026-12-02", hours=2.0)
        self.assertEqual(self.apply("time_entry.created", december).state, "done")
        Snapshot = self.env["psa.project.financial.snapshot"]
        company = self.project.company_id
        november = Snapshot._psa_freeze(company, NOVEMBER)
        self.assertEqual(november.hours, 6.5)
        self.assertAlmostEqual(november.wip, 6.5 * 190.0)
        snapshot = Snapshot._psa_freeze(company, date(2026, 12, 1))
        # December's flows are its own 2 h; its WIP at month end carries November's.
        self.assertEqual(snapshot.hours, 2.0)
        self.assertAlmostEqual(snapshot.wip, (6.5 + 2.0) * 190.0)

    def test_read_only_to_users_and_finance_reads(self):
        snapshot = self.env["psa.project.financial.snapshot"]._psa_freeze(
            self.project.company_id, NOVEMBER
        )
        reader = new_test_user(
            self.env, "snap_reader", groups="base.group_user,psa_connector_base.group_cost_reader"
        )
        self.assertEqual(snapshot.with_user(reader).wip, 1235.0)
        with self.assertRaises(AccessError):
            snapshot.with_user(reader).write({"deferred_balance": 1.0})
        with self.assertRaises(AccessError):
            self.env["psa.project.financial.snapshot"].with_user(reader).create(
                {
                    "company_id": self.project.company_id.id,
                    "date": "2026-10-01",
                    "project_id": self.project.id,
                    "currency_id": self.project.company_id.currency_id.id,
                }
            )
        manager = new_test_user(
            self.env, "snap_cm", groups="psa_connector_base.group_connector_manager"
        )
        with self.assertRaises(AccessError):
            snapshot.with_user(manager).read(["wip"])
        # Another company's reader does not see it (multi-company rule).
        other = self.env["res.company"].create({"name": "Other entity"})
        outsider = new_test_user(
            self.env,
            "snap_other",
            groups="base.group_user,psa_connector_base.group_cost_reader",
            company_id=other.id,
            company_ids=[(6, 0, other.ids)],
        )
        self.assertFalse(self.env["psa.project.financial.snapshot"].with_user(outsider).search([]))
        with self.assertRaises(AccessError):
            self.env["psa.project.financial.snapshot"].with_user(outsider)._psa_freeze(
                self.project.company_id, NOVEMBER
            )
