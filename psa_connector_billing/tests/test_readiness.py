from odoo.tests import tagged

from odoo.addons.psa_connector_base.tools.access import workflow_write
from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data

from .common import BillingCase, contract_data


@tagged("post_install", "-at_install")
class TestInvoiceReadiness(BillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert cls.apply("contract.created", contract_data()).state == "done"
        assert cls.apply("time_entry.created", time_entry_data()).state == "done"
        cls.contract = cls.bound("contract", "K-1")

    def assertReadiness(self, score, *reasons):
        self.contract.invalidate_recordset()
        self.assertEqual(self.contract.psa_readiness_score, score)
        text = self.contract.psa_readiness_reasons or ""
        self.assertEqual(len(text.splitlines()), len(reasons), text)
        for reason in reasons:
            self.assertIn(reason, text)

    def test_a_clean_contract_is_ready_today(self):
        self.assertReadiness(100)
        self.backend.invalidate_recordset()
        self.assertEqual(
            (self.backend.dash_contracts_ready, self.backend.dash_contracts_not_ready), (1, 0)
        )

    def test_time_not_approved_in_the_psa_lowers_readiness(self):
        self.apply(
            "time_entry.created",
            time_entry_data(id="TE-2", date="2026-11-18", hours=3.0, state="submitted"),
        )
        self.apply(
            "time_entry.created",
            time_entry_data(id="TE-3", date="2026-11-19", hours=1.5, state="draft"),
        )
        # 100 - 25 (unapproved time); 3.0 + 1.5 = 4.5 h in 2 entries.
        self.assertReadiness(75, "2 time entries (4.50 h) not approved or not applied yet")
        # Once approved and applied, it no longer counts.
        self.apply(
            "time_entry.updated",
            time_entry_data(id="TE-2", date="2026-11-18", hours=3.0, version=2),
        )
        self.assertReadiness(75, "1 time entries (1.50 h)")

    def test_an_open_exception_about_the_contract_lowers_readiness(self):
        # A contract update without a rate card fails: an exception about K-1.
        event = self.apply("contract.updated", contract_data(rate_card=[], version=2))
        self.assertEqual(event.state, "failed")
        self.assertReadiness(70, "1 open exception(s) about the contract or its project")
        self.backend.invalidate_recordset()
        self.assertEqual(
            (self.backend.dash_contracts_ready, self.backend.dash_contracts_not_ready), (0, 1)
        )
        event.exception_ids.action_ignore("Sent by mistake")
        self.assertReadiness(100)

    def test_open_anomaly_flags_lower_readiness_until_acknowledged(self):
        line = self.line()
        line.write(
            {"so_line": self.contract._psa_line("role:Architect").id, "is_so_line_edited": True}
        )
        self.apply("time_entry.updated", time_entry_data(version=2))
        self.assertReadiness(80, "1 open anomaly flag(s)")
        self.backend.invalidate_recordset()
        self.assertEqual(self.backend.dash_open_anomalies, 1)
        self.contract.psa_anomaly_ids.action_acknowledge("Architect work this week, agreed.")
        self.assertReadiness(100)

    def test_time_without_a_rate_lowers_readiness(self):
        with workflow_write():
            self.env["account.analytic.line"].create(
                {
                    "name": "Unpriced work",
                    "project_id": self.project.id,
                    "employee_id": self.anna.id,
                    "unit_amount": 2.25,
                    "date": "2026-11-17",
                    "psa_billable": True,
                    "so_line": False,
                    "is_so_line_edited": True,
                }
            )
        self.assertReadiness(75, "1 billable line(s) (2.25 h) without a rate on the rate card")

    def test_every_problem_at_once_scores_zero_with_four_reasons(self):
        self.apply(
            "time_entry.created",
            time_entry_data(id="TE-2", date="2026-11-18", hours=3.0, state="submitted"),
        )
        self.apply("contract.updated", contract_data(rate_card=[], version=2))
        self.line().write(
            {"so_line": self.contract._psa_line("role:Architect").id, "is_so_line_edited": True}
        )
        self.apply("time_entry.updated", time_entry_data(version=2))
        with workflow_write():
            self.env["account.analytic.line"].create(
                {
                    "name": "Unpriced work",
                    "project_id": self.project.id,
                    "employee_id": self.anna.id,
                    "unit_amount": 1.0,
                    "date": "2026-11-17",
                    "psa_billable": True,
                    "so_line": False,
                    "is_so_line_edited": True,
                }
            )
        # 100 - 25 - 30 - 20 - 25 = 0
        self.assertReadiness(
            0,
            "not approved",
            "open exception",
            "anomaly flag",
            "without a rate",
        )
