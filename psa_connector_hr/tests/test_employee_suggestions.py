"""Suggested employees for a time entry that names someone Odoo does not know."""

import json

from odoo.tests import new_test_user, tagged

from .common import HrSyncCase


@tagged("post_install", "-at_install")
class TestEmployeeSuggestions(HrSyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.backend.company_id
        # Time entries come from the PSA; the HR backend brings employees.
        cls.psa_backend = cls._create_backend(code="psa-test")

        def employee(name, email, **values):
            return cls.env["hr.employee"].create(
                {"name": name, "work_email": email, "company_id": company.id, **values}
            )

        cls.anna = employee(
            "Anna Schmidt", "anna.schmidt@consultancy.example", psa_payroll_id="PR-100"
        )
        cls.anne = employee("Anne Schmitt", "anne.schmitt@consultancy.example")
        cls.hanna = employee("Hanna Schmidt", "hanna.schmidt@consultancy.example")
        other_company = cls.env["res.company"].create({"name": "Consultancy UK Ltd"})
        cls.namesake = employee(
            "Anna Schmidt", "anna.schmidt@consultancy.example", company_id=other_company.id
        )

    def waiting_for_employee(self, external_id, **entry):
        """The exception a time entry naming an unknown employee raises (timesheet addon)."""
        data = {
            "id": f"TE-{external_id}",
            "project_id": "P-1",
            "date": "2026-11-20",
            "hours": 8,
            "state": "submitted",
            "employee_id": external_id,
            **entry,
        }
        return self.env["psa.exception"].create(
            {
                "name": f"Waiting for employee {external_id}",
                "category": "missing_reference",
                "backend_id": self.psa_backend.id,
                "object_type": "time_entry",
                "waiting_type": "employee",
                "waiting_external_id": external_id,
                "payload": json.dumps({"type": "time_entry.created", "data": data}),
            }
        )

    def test_right_employee_ranked_first(self):
        cases = [
            ("e-mail case", "E-1", {"employee_email": "Anna.Schmidt@Consultancy.EXAMPLE"}),
            (
                "e-mail plus and dots",
                "E-2",
                {"employee_email": "annaschmidt+time@consultancy.example"},
            ),
            ("e-mail is the reference", "anna.schmidt@consultancy.example", {"employee_id": None}),
            ("name misspelled", "E-3", {"employee_name": "Ana Schmidt"}),
            ("payroll id", "E-4", {"employee_payroll_id": "pr 100"}),
        ]
        for label, external_id, entry in cases:
            with self.subTest(label):
                suggestions = self.waiting_for_employee(external_id, **entry)._suggest_references()
                self.assertEqual(suggestions[0]["res_model"], "hr.employee")
                self.assertEqual(suggestions[0]["res_id"], self.anna.id, f"{label}: {suggestions}")
                self.assertNotIn(self.namesake.id, [s["res_id"] for s in suggestions])

    def test_only_users_who_may_read_employees_get_suggestions(self):
        exception = self.waiting_for_employee("E-5", employee_payroll_id="PR-100")
        finance = new_test_user(
            self.env, "suggest_hr_fin", groups="psa_connector_base.group_connector_user"
        )
        # No read access to employees: nothing to suggest (mapping one by hand is refused
        # too, the map wizard checks the record is readable).
        self.assertEqual(exception.with_user(finance)._suggest_references(), [])
        # A cost reader reads employees and their payroll id, not the HR officers' badge
        # and identification numbers: those are left out, not an access error.
        cost_reader = new_test_user(
            self.env,
            "suggest_hr_cost",
            groups="psa_connector_base.group_connector_user,"
            "psa_connector_base.group_cost_reader",
        )
        best = exception.with_user(cost_reader)._suggest_references()[0]
        self.assertEqual(
            (best["res_id"], best["evidence"]), (self.anna.id, "code exact ('PR-100')")
        )
