"""The controller closes November in a real browser: Accounting > PSA > Close the month."""

import shutil

from odoo.addons.psa_connector_base.tests.common import customer_data, project_data, task_data
from odoo.addons.psa_connector_billing.tests.common import contract_data
from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data

from .common import SuiteHttpCase


class TestMonthCloseTour(SuiteHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls._create_backend()
        company = cls.env.company
        for event_type, data in (
            ("customer.created", customer_data()),
            ("project.created", project_data()),
            ("task.created", task_data()),
        ):
            assert cls.apply(event_type, data).state == "done"
        anna = cls.env["hr.employee"].create(
            {"name": "Anna Schmidt", "work_email": "anna.schmidt@consultancy.example"}
        )
        cls.env["psa.binding"].create(
            {
                "backend_id": cls.backend.id,
                "external_type": "employee",
                "external_id": "E-1",
                "res_model": "hr.employee",
                "res_id": anna.id,
            }
        )
        event = cls.apply("contract.created", contract_data(currency=company.currency_id.name))
        assert event.state == "done", event.result
        assert cls.apply("time_entry.created", time_entry_data()).state == "done"
        cls.close = cls.env["psa.month.close"].create(
            {"company_id": company.id, "month": "2026-11-01"}
        )

    def test_controller_closes_november(self):
        self.assertTrue(
            shutil.which("chromium") or shutil.which("google-chrome"),
            "Chromium is needed for the browser tours (scripts/test.sh installs it).",
        )
        self.start_tour(
            "/odoo/action-psa_connector_billing.action_psa_month_close",
            "psa_month_close",
            login="admin",
        )
        # 6.5 h approved and unbilled at Anna's rate of 190 = 1,235.00, posted and
        # reversed on December 1.
        self.assertEqual(self.close.state, "posted")
        self.assertAlmostEqual(self.close.accrued_amount, 6.5 * 190.0, places=2)
        move = self.close.sudo().cutoff_ids.move_id
        self.assertEqual(move.state, "posted")
        self.assertEqual(str(move.reversal_move_ids.date), "2026-12-01")
