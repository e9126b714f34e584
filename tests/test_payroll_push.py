"""Payroll batches to the payroll system over real HTTP (the demo PSA's endpoint)."""

from odoo.tests import new_test_user

from odoo.addons.psa_connector_hr_payroll.tests.payroll_common import PayrollCase
from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data

from .common import SuiteTagsMixin


class TestPayrollPush(SuiteTagsMixin, PayrollCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.simulator = cls.start_simulator()
        cls.payroll = cls._create_backend(
            code="payroll-sim",
            kind="payroll",
            name="Payroll",
            base_url=cls.simulator.url,
            max_attempts=2,
        )
        cls.september.backend_id = cls.payroll
        # Finance approves too, without any connector rights.
        cls.finance = new_test_user(
            cls.env,
            "payroll_finance",
            groups="account.group_account_manager",
            company_id=cls.company.id,
        )

    def test_batch_and_its_adjustment_reach_the_payroll_system_once_each(self):
        self.entry("TE-1", "2026-09-07", 8.0)
        self.entry("TE-2", "2026-09-08", 2.0, pay_category="overtime")
        regular = self.send(self.september)
        self.assertFalse(regular.attachment_id, "a backend gets the batch, not a file")
        stored = self.simulator.payroll_batches[regular.name]
        self.assertEqual(
            sorted(
                (line["employee_id"], line["category"], line["hours"]) for line in stored["lines"]
            ),
            [("PR-100", "normal", 8.0), ("PR-100", "overtime", 2.0)],
        )
        self.assertEqual((stored["kind"], stored["pushes"]), ("regular", 1))
        self.assertEqual(stored["approved_by"], self.hr_user.name)

        self.apply(
            "time_entry.updated",
            time_entry_data(id="TE-1", date="2026-09-07", hours=6.5, version=2),
        )
        adjustment = self.september.with_user(self.hr_user).action_compute_adjustment()
        adjustment.check_ids.with_user(self.finance).action_accept()
        # The payroll system is down: the approved batch waits, the failure is queued.
        self.simulator.add_fault(503, count=2, path_prefix="/api/v1/payroll_batches")
        adjustment.with_user(self.finance).action_approve()
        self.assertEqual((adjustment.state, adjustment.approved_by_id), ("approved", self.finance))
        failure = self.env["psa.exception"].search(
            [("backend_id", "=", self.payroll.id), ("external_id", "=", adjustment.name)]
        )
        self.assertEqual(failure.category, "remote_error")
        # The daily export sends it when the system is back; it also builds October's
        # batch (its cut-off has passed) for review and opens November.
        self.env["psa.payroll.period"]._cron_payroll_export()
        self.assertEqual(self.october.batch_ids.state, "to_approve")
        november = self.env["psa.payroll.period"].search(
            [("company_id", "=", self.company.id), ("date_start", "=", "2026-11-01")]
        )
        self.assertEqual(
            (str(november.date_end), str(november.cutoff)), ("2026-11-30", "2026-12-03 12:00:00")
        )
        self.assertEqual(adjustment.state, "sent")
        stored = self.simulator.payroll_batches[adjustment.name]
        self.assertEqual(
            [(line["category"], line["hours"]) for line in stored["lines"]], [("normal", -1.5)]
        )
        self.assertEqual((stored["kind"], stored["adjusts"]), ("adjustment", regular.name))
        self.assertEqual(self.simulator.payroll_batches[regular.name]["pushes"], 1)
