"""Suggested Odoo records for a missing reference: ranked, explained, mapped by a person."""

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import PsaTransactionCase, customer_data, project_data


@tagged("post_install", "-at_install")
class TestExceptionSuggestions(PsaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.backend.company_id

        def partner(name, **values):
            return cls.env["res.partner"].create(
                {"name": name, "is_company": True, "company_id": company.id, **values}
            )

        # Each right candidate has decoys a careless match would pick.
        cls.acme = partner(
            "ACME Limited", email="accounts@acme.example", vat="GB 123 4567 89", ref="ACM-01"
        )
        cls.acme_tools = partner(
            "Acme Tools Ltd", email="sales@acmetools.example", vat="GB987654321"
        )
        cls.acne = partner("Acne Ltd")
        cls.globex = partner("Globex Corporation", email="finance@globex.example")
        cls.globe = partner("Globe Corp")
        cls.global_exports = partner("Global Exports Corp")
        cls.initech = partner("Initech")
        cls.initrode = partner("Initrode")
        cls.mueller = partner("Müller Maschinenbau GmbH", vat="DE811907980")
        cls.miller = partner("Miller Maschinenbau GmbH", vat="DE129273398")
        cls.jane = partner("Jane Doe Consulting", email="jane.doe@doe-consulting.example")
        cls.john = partner("John Doe Consulting", email="john.doe@doe-consulting.example")
        cls.finance = new_test_user(
            cls.env, "suggest_fin", groups="psa_connector_base.group_connector_user"
        )

    def waiting_for_customer(self, customer_id, **customer_hints):
        """A project naming a customer Odoo does not know, with what the PSA sent of it."""
        event = self.apply(
            "project.created",
            project_data(id=f"P-{customer_id}", customer_id=customer_id, **customer_hints),
        )
        exception = event.exception_ids
        self.assertEqual(
            (exception.category, exception.state, exception.waiting_type),
            ("missing_reference", "open", "customer"),
        )
        return exception

    def test_right_customer_ranked_first_among_decoys(self):
        cases = [
            ("legal form spelled out", {"customer_name": "Acme Ltd"}, self.acme),
            ("legal form abbreviated", {"customer_name": "Globex Corp"}, self.globex),
            ("transposed letters", {"customer_name": "Intiech"}, self.initech),
            ("missing accent", {"customer_name": "Muller Maschinenbau GmbH"}, self.mueller),
            ("e-mail case", {"customer_email": "Jane.Doe@Doe-Consulting.EXAMPLE"}, self.jane),
            (
                "e-mail without dots",
                {"customer_email": "janedoe@doe-consulting.example"},
                self.jane,
            ),
            (
                "e-mail plus-addressing",
                {"customer_email": "jane.doe+psa@doe-consulting.example"},
                self.jane,
            ),
            (
                "e-mail domain alias",
                {"customer_email": "jane.doe@mail.doe-consulting.example"},
                self.jane,
            ),
            ("VAT without country prefix", {"customer_vat": "123456789"}, self.acme),
            ("VAT with prefix and spaces", {"customer_vat": "DE 811 907 980"}, self.mueller),
            (
                "VAT decides between near names",
                {"customer_name": "Miller Maschinenbau", "customer_vat": "DE811907980"},
                self.mueller,
            ),
        ]
        for number, (label, hints, expected) in enumerate(cases):
            with self.subTest(label):
                exception = self.waiting_for_customer(f"C-S{number}", **hints)
                suggestions = exception.with_user(self.finance)._suggest_references()
                self.assertTrue(suggestions, label)
                best = suggestions[0]
                self.assertEqual(
                    (best["res_model"], best["display_name"]),
                    ("res.partner", expected.display_name),
                    f"{label}: {suggestions}",
                )
                self.assertTrue(0 < best["score"] <= 100 and best["evidence"])
                if len(suggestions) > 1:
                    self.assertGreater(best["score"], suggestions[1]["score"], label)

    def test_evidence_names_each_attribute(self):
        exception = self.waiting_for_customer(
            "C-EV", customer_name="Acme Ltd", customer_email="Accounts@acme.example"
        )
        best = exception._suggest_references()[0]
        self.assertEqual(best["res_id"], self.acme.id)
        self.assertEqual(
            best["evidence"],
            "name 100 (token_sort_ratio 'Acme Ltd' ~ 'ACME Limited'); e-mail exact",
        )
        self.assertEqual(best["score"], 100)
        self.assertEqual(exception.suggestion_best_score, 100)
        self.assertTrue(exception.suggestion_best.startswith("ACME Limited: name 100"))

    def test_hints_from_the_customers_own_event(self):
        exception = self.waiting_for_customer("C-OWN")
        self.assertFalse(exception._suggest_references(), "an id alone names no one")
        # The customer's own event arrived but is not applied yet (queued, or failed).
        self.receive(
            "customer.created",
            customer_data(
                id="C-OWN", name="Globex Corp", vat=None, ref=None, email="Finance@Globex.example"
            ),
        )
        exception.invalidate_recordset()
        suggested = exception.with_user(self.finance)._suggest_references()
        self.assertEqual(suggested[0]["res_id"], self.globex.id)

    def test_one_click_maps_that_candidate_and_retries(self):
        exception = self.waiting_for_customer("C-MAP", customer_name="Acme Ltd")
        action = exception.with_user(self.finance).action_open_map_wizard()
        wizard = self.env["psa.exception.map.wizard"].browse(action["res_id"])
        lines = wizard.suggestion_ids
        self.assertLessEqual(len(lines), 5)
        self.assertEqual(lines[0].res_id, self.acme.id)
        self.assertEqual(lines.mapped("score"), sorted(lines.mapped("score"), reverse=True))
        # The second best, to show the click maps exactly the line clicked.
        chosen = lines[1]
        chosen.with_user(self.finance).action_map_and_retry()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(self.bound("customer", "C-MAP").id, chosen.res_id)
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(exception.event_id.state, "done")
        project = self.bound("project", "P-C-MAP")
        self.assertEqual(project.partner_id.id, chosen.res_id)

    def test_a_perfect_candidate_is_never_mapped_on_its_own(self):
        exception = self.waiting_for_customer(
            "C-WAIT", customer_name="ACME Limited", customer_vat="GB123456789"
        )
        self.assertEqual(exception.suggestion_best_score, 100)
        self.env["psa.exception.map.wizard"].with_user(self.finance).create(
            {"exception_id": exception.id}
        )
        self.run_jobs()
        self.env["psa.exception"]._cron_retry_arrived_references()
        self.env["psa.exception"]._cron_refresh_age_buckets()
        self.assertEqual(exception.state, "open")
        self.assertFalse(self.bound("customer", "C-WAIT"))

    def test_user_without_connector_rights_cannot_map(self):
        exception = self.waiting_for_customer("C-NR", customer_name="Acme Ltd")
        action = exception.with_user(self.finance).action_open_map_wizard()
        line = self.env["psa.exception.map.wizard"].browse(action["res_id"]).suggestion_ids[0]
        employee = new_test_user(self.env, "suggest_plain", groups="base.group_user")
        with self.assertRaises(AccessError):
            line.with_user(employee).action_map_and_retry()
        with self.assertRaises(AccessError):
            exception.with_user(employee).action_open_map_wizard()
        self.assertEqual(exception.state, "open")
        self.assertFalse(self.bound("customer", "C-NR"))

    def test_other_companies_and_bound_partners_are_not_suggested(self):
        other_company = self.env["res.company"].create({"name": "Consultancy UK Ltd"})
        foreign = self.env["res.partner"].create(
            {
                "name": "ACME Limited",
                "vat": "GB123456789",
                "email": "accounts@acme.example",
                "company_id": other_company.id,
            }
        )
        self.env["psa.binding"].create(
            {
                "backend_id": self.backend.id,
                "external_type": "customer",
                "external_id": "C-TAKEN",
                "res_model": "res.partner",
                "res_id": self.jane.id,
            }
        )
        exception = self.waiting_for_customer(
            "C-CO", customer_name="ACME Limited", customer_vat="GB123456789"
        )
        for user in (self.env.user, self.finance):
            with self.subTest(user=user.login):
                suggested = [s["res_id"] for s in exception.with_user(user)._suggest_references()]
                self.assertEqual(suggested[0], self.acme.id)
                self.assertNotIn(foreign.id, suggested)
        jane_case = self.waiting_for_customer(
            "C-JANE", customer_email="jane.doe@doe-consulting.example"
        )
        self.assertNotIn(self.jane.id, [s["res_id"] for s in jane_case._suggest_references()])
        # Nor can a hand-made line map a record the user may not read.
        action = exception.with_user(self.finance).action_open_map_wizard()
        wizard = self.env["psa.exception.map.wizard"].browse(action["res_id"])
        crafted = (
            self.env["psa.exception.map.suggestion"]
            .with_user(self.finance)
            .create({"wizard_id": wizard.id, "res_id": foreign.id, "name": "x", "score": 100})
        )
        with self.assertRaises(AccessError):
            crafted.action_map_and_retry()
        self.assertFalse(self.bound("customer", "C-CO"))

    def test_task_suggestions_stay_within_the_known_project(self):
        self.apply("customer.created", customer_data())
        self.apply("project.created", project_data())
        project = self.bound("project", "P-1")
        other = self.env["project.project"].create({"name": "Other project"})
        right = self.env["project.task"].create(
            {"name": "Data migration", "project_id": project.id}
        )
        elsewhere = self.env["project.task"].create(
            {"name": "Data migration", "project_id": other.id}
        )
        self.env["project.task"].create({"name": "Data validation", "project_id": project.id})
        exception = self.env["psa.exception"].create(
            {
                "name": "Waiting for task T-9",
                "category": "missing_reference",
                "backend_id": self.backend.id,
                "waiting_type": "task",
                "waiting_external_id": "T-9",
                "payload": '{"data": {"id": "TE-1", "project_id": "P-1", "task_id": "T-9"}}',
            }
        )
        self.receive("task.created", {"id": "T-9", "project_id": "P-1", "name": "Data migraton"})
        suggested = exception._suggest_references()
        self.assertEqual(suggested[0]["res_id"], right.id)
        self.assertNotIn(
            elsewhere.id,
            [s["res_id"] for s in suggested],
            "only tasks of the project the waiting change names",
        )
