from datetime import date

from odoo.tests import tagged

from odoo.addons.psa_connector_billing.tests.common import BillingCase
from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data


@tagged("post_install", "-at_install")
class TestLeaveAnomaly(BillingCase):
    """With HR installed, time on the employee's approved leave is flagged."""

    def leave(self, date_from, date_to):
        leave_type = self.env["hr.leave.type"].create(
            {"name": "Paid time off", "requires_allocation": "no"}
        )
        leave = (
            self.env["hr.leave"]
            .with_context(leave_skip_state_check=True)
            .create(
                {
                    "employee_id": self.anna.id,
                    "holiday_status_id": leave_type.id,
                    "request_date_from": date_from,
                    "request_date_to": date_to,
                }
            )
        )
        if leave.state != "validate":
            leave.sudo().action_validate()
        self.assertEqual(leave.state, "validate")
        return leave

    def test_work_on_approved_leave_is_flagged_and_work_outside_it_is_not(self):
        self.leave("2026-12-07", "2026-12-08")  # Monday and Tuesday
        self.apply("time_entry.created", time_entry_data(id="TE-L1", date="2026-12-08", hours=3.0))
        self.apply("time_entry.created", time_entry_data(id="TE-L2", date="2026-12-09", hours=8.0))
        flag = self.env["psa.anomaly"].search([("kind", "=", "leave")])
        self.assertEqual(flag.analytic_line_id, self.line("TE-L1"))
        self.assertEqual(flag.date, date(2026, 12, 8))
        self.assertIn("3.00 h on 2026-12-08", flag.message)
        self.assertIn("Paid time off", flag.message)

    def test_a_leave_not_yet_approved_is_not_flagged(self):
        leave_type = self.env["hr.leave.type"].create(
            {"name": "Unpaid", "requires_allocation": "no", "leave_validation_type": "manager"}
        )
        leave = self.env["hr.leave"].create(
            {
                "employee_id": self.anna.id,
                "holiday_status_id": leave_type.id,
                "request_date_from": "2026-12-07",
                "request_date_to": "2026-12-07",
            }
        )
        self.assertNotEqual(leave.state, "validate")
        self.apply("time_entry.created", time_entry_data(id="TE-L1", date="2026-12-07", hours=3.0))
        self.assertFalse(self.env["psa.anomaly"].search([("kind", "=", "leave")]))
