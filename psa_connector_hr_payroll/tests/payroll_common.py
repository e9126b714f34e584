import base64

from odoo.tests import new_test_user

from odoo.addons.psa_connector_timesheet.tests.common import TimesheetCase, time_entry_data


class PayrollCase(TimesheetCase):
    """Anna (payroll id PR-100) and two monthly periods, September and October 2026."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.backend.company_id
        cls.anna.psa_payroll_id = "PR-100"
        cls.hr_user = new_test_user(
            cls.env, "payroll_hr", groups="hr.group_hr_user", company_id=cls.company.id
        )
        cls.editor = new_test_user(
            cls.env,
            "payroll_editor",
            groups="hr.group_hr_user,psa_connector_base.group_connector_manager",
            company_id=cls.company.id,
        )
        cls.travel = cls.env["product.product"].create(
            {"name": "Travel", "type": "service", "can_be_expensed": True, "standard_price": 0.0}
        )
        Period = cls.env["psa.payroll.period"]
        cls.september = Period.create(
            {
                "date_start": "2026-09-01",
                "date_end": "2026-09-30",
                "cutoff": "2026-10-02 12:00:00",
                "company_id": cls.company.id,
            }
        )
        cls.october = Period.create(
            {
                "date_start": "2026-10-01",
                "date_end": "2026-10-31",
                "cutoff": "2026-11-03 12:00:00",
                "company_id": cls.company.id,
            }
        )

    def entry(self, external_id, day, hours, **overrides):
        data = time_entry_data(
            id=external_id,
            date=day,
            hours=hours,
            approved_at=overrides.pop("approved_at", f"{day}T18:00:00Z"),
            **overrides,
        )
        event = self.apply("time_entry.created", data)
        self.assertEqual(event.state, "done", event.result)
        return self.line(external_id)

    def expense(self, amount, day, receipt=True, **values):
        expense = self.env["hr.expense"].create(
            {
                "name": f"Train ticket {day}",
                "employee_id": self.anna.id,
                "date": day,
                "total_amount_currency": amount,
                "product_id": self.travel.id,
                "payment_mode": "own_account",
                "company_id": self.company.id,
                **values,
            }
        )
        if receipt:
            self.env["ir.attachment"].create(
                {
                    "name": "receipt.pdf",
                    "datas": base64.b64encode(b"%PDF receipt"),
                    "res_model": "hr.expense",
                    "res_id": expense.id,
                }
            )
        return expense

    def approve_expense(self, expense, approved_on="2026-09-25 10:00:00"):
        sheet = expense._create_sheets_from_expense()
        sheet.action_submit_sheet()
        sheet._do_approve()
        # Approved before September's cut-off (Odoo stamps today).
        sheet.approval_date = approved_on
        self.assertEqual(expense.state, "approved")
        return expense

    def lines_of(self, batch):
        return {
            (line.employee_id.name, line.category): (round(line.hours, 2), round(line.amount, 2))
            for line in batch.line_ids
        }

    def send(self, period, user=None):
        batch = period.with_user(user or self.hr_user).action_compute_batch()
        batch.with_user(user or self.hr_user).action_approve()
        self.assertEqual(batch.state, "sent")
        return batch
