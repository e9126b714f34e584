"""Entity routing: one backend, two companies (the main one and a GBP company in the UK).

Records name their legal entity; psa.entity.mapping routes it to a company. Everything
below runs the real importers through the job runner stand-in, as the integration user.
"""

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from odoo.addons.psa_connector_base.tests.common import customer_data, project_data, task_data
from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data

from .common import BillingCase, contract_data


def uk_company(env, name="Consultancy UK Ltd"):
    """A GBP company with a chart of accounts (journals, sequences) of its own."""
    env.ref("base.GBP").active = True
    company = env["res.company"].create(
        {"name": name, "currency_id": env.ref("base.GBP").id, "country_id": env.ref("base.uk").id}
    )
    env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
    # The generic chart brings US dollars: the company keeps its pounds (no entries yet).
    # Its fiscal country stays the generic chart's, which its taxes belong to.
    company.currency_id = env.ref("base.GBP")
    return company


@tagged("post_install", "-at_install")
class TestEntityRouting(BillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.home = cls.backend.company_id
        cls.uk = uk_company(cls.env)
        cls.mapping = cls.env["psa.entity.mapping"].create(
            {"backend_id": cls.backend.id, "code": "UK01", "target_company_id": cls.uk.id}
        )
        # Oliver works for the UK entity: his time on UK projects is UK time.
        cls.oliver = cls.env["hr.employee"].create(
            {
                "name": "Oliver Bennett",
                "work_email": "oliver.bennett@consultancy.example",
                "company_id": cls.uk.id,
            }
        )
        cls.env["psa.binding"].create(
            {
                "backend_id": cls.backend.id,
                "external_type": "employee",
                "external_id": "E-UK",
                "res_model": "hr.employee",
                "res_id": cls.oliver.id,
            }
        )

    def apply_uk_engagement(self):
        """A UK customer, project, task, T&M contract in GBP and 5 approved hours."""
        for event_type, data in (
            (
                "customer.created",
                customer_data(
                    id="C-UK",
                    name="Thames Freight plc",
                    vat="GB123456789",
                    ref="TF-1",
                    email="ap@thames.example",
                    country_code="GB",
                    legal_entity="UK01",
                ),
            ),
            (
                "project.created",
                project_data(id="P-UK", code="TF-26", customer_id="C-UK", legal_entity="UK01"),
            ),
            ("task.created", task_data(id="T-UK", project_id="P-UK")),
            (
                "contract.created",
                contract_data(
                    id="K-UK",
                    project_id="P-UK",
                    customer_id="C-UK",
                    currency="GBP",
                    rate_card=[{"role": "Consultant", "hourly_rate": 120.0, "default": True}],
                ),
            ),
            (
                "time_entry.approved",
                time_entry_data(
                    id="TE-UK",
                    project_id="P-UK",
                    task_id="T-UK",
                    employee_id="E-UK",
                    employee_email="oliver.bennett@consultancy.example",
                    hours=5.0,
                ),
            ),
        ):
            event = self.apply(event_type, data)
            self.assertEqual(event.state, "done", f"{event_type}: {event.result}")

    def test_records_land_in_the_company_of_their_legal_entity(self):
        self.apply_uk_engagement()
        customer = self.bound("customer", "C-UK")
        project = self.bound("project", "P-UK")
        order = self.bound("contract", "K-UK")
        line = self.bound("time_entry", "TE-UK")
        self.assertEqual(customer.company_id, self.uk)
        self.assertEqual(project.company_id, self.uk)
        self.assertEqual(project.account_id.company_id, self.uk)
        self.assertEqual(self.bound("task", "T-UK").company_id, self.uk)
        self.assertEqual(order.company_id, self.uk)
        self.assertEqual(order.currency_id.name, "GBP")
        self.assertEqual(line.company_id, self.uk)
        self.assertEqual(line.employee_id, self.oliver)
        # Seconded: Anna (home company) books time on the UK project; it is UK time.
        event = self.apply(
            "time_entry.approved", time_entry_data(id="TE-UK2", project_id="P-UK", task_id="T-UK")
        )
        self.assertEqual(event.state, "done", event.result)
        seconded = self.bound("time_entry", "TE-UK2")
        self.assertEqual((seconded.company_id, seconded.employee_id), (self.uk, self.anna))
        # Without a legal entity, the backend's company (the fixture's P-1).
        self.assertEqual(self.project.company_id, self.home)
        self.assertEqual(self.bound("customer", "C-1").company_id, self.home)

    def test_a_uk_invoice_is_in_gbp_with_the_uk_journal_and_sequence(self):
        self.apply_uk_engagement()
        order = self.bound("contract", "K-UK")
        self.backend._as_integration_user()._create_draft_invoices()
        invoice = order.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.company_id, self.uk)
        self.assertEqual(invoice.currency_id.name, "GBP")
        # Posted in pounds: the UK company's own currency, not the generic chart's.
        self.assertEqual(invoice.company_currency_id.name, "GBP")
        self.assertEqual(invoice.journal_id.company_id, self.uk)
        self.assertEqual(invoice.journal_id.type, "sale")
        # 5 approved hours x 120.00 GBP (the contract's default role rate).
        self.assertAlmostEqual(invoice.amount_untaxed, 5 * 120.0)
        invoice.action_post()
        self.assertEqual(invoice.name.split("/")[0], invoice.journal_id.code)
        # The sequence is the UK journal's: the home company's invoices count apart.
        self.assertFalse(
            self.env["account.move"].search_count(
                [("journal_id", "=", invoice.journal_id.id), ("company_id", "!=", self.uk.id)]
            )
        )

    def test_an_unmapped_entity_is_one_exception_and_nothing_is_created(self):
        event = self.apply(
            "project.created", project_data(id="P-FR", customer_id="C-1", legal_entity="FR01")
        )
        self.apply("contract.created", contract_data(id="K-FR", project_id="P-FR"))
        self.apply("time_entry.approved", time_entry_data(id="TE-FR", project_id="P-FR"))
        self.assertEqual(event.state, "failed")
        unmapped = self.exceptions(object_type="project")
        self.assertEqual(len(unmapped), 1)
        self.assertEqual(unmapped.category, "invalid_payload")
        self.assertIn("'FR01' is not mapped", unmapped.name)
        self.assertEqual(
            unmapped.reason_pattern, "Legal entity 'FR01' is not mapped to an Odoo company"
        )
        self.assertIn('"legal_entity": "FR01"', unmapped.payload)
        self.assertFalse(self.bound("project", "P-FR"))
        self.assertFalse(self.bound("contract", "K-FR"))
        self.assertFalse(self.env["sale.order"].search([("psa_contract_ref", "=", "K-FR")]))
        self.backend.action_create_draft_invoices()
        self.assertFalse(self.env["account.move"].search([("invoice_origin", "ilike", "K-FR")]))
        # Mapped, then retried: the project lands in the mapped company, and what waited
        # for it follows.
        self.env["psa.entity.mapping"].create(
            {"backend_id": self.backend.id, "code": "FR01", "target_company_id": self.uk.id}
        )
        unmapped.action_retry()
        self.run_jobs()
        self.assertEqual(self.bound("project", "P-FR").company_id, self.uk)

    def test_a_customer_used_by_another_company_becomes_shared(self):
        customer = self.bound("customer", "C-1")
        self.assertEqual(customer.company_id, self.home)
        event = self.apply(
            "project.created", project_data(id="P-UK2", customer_id="C-1", legal_entity="UK01")
        )
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(self.bound("project", "P-UK2").company_id, self.uk)
        self.assertFalse(customer.company_id, "used by two companies: shared, as Odoo shares")

    def test_the_integration_user_works_in_the_mapped_companies(self):
        user = self.home._psa_integration_user()
        self.assertIn(self.uk, user.company_ids)
        backend = self.backend._as_integration_user()
        self.assertEqual(backend.env.user, user)
        self.assertEqual(backend.env.company, self.home, "the backend's company first")
        self.assertEqual(backend.env.companies, self.home | self.uk)
        # An archived mapping routes nothing more.
        self.mapping.active = False
        self.assertEqual(self.backend._as_integration_user().env.companies, self.home)

    def test_users_of_one_company_see_only_its_routed_records(self):
        self.apply_uk_engagement()
        self.backend._as_integration_user()._create_draft_invoices()
        groups = (
            "base.group_user,sales_team.group_sale_manager,account.group_account_manager,"
            "hr_timesheet.group_timesheet_manager,project.group_project_manager"
        )
        uk_user = new_test_user(
            self.env,
            "uk_only",
            groups=groups,
            company_id=self.uk.id,
            company_ids=[(6, 0, self.uk.ids)],
        )
        home_user = new_test_user(
            self.env,
            "home_only",
            groups=groups,
            company_id=self.home.id,
            company_ids=[(6, 0, self.home.ids)],
        )
        uk_records = {
            "project.project": self.bound("project", "P-UK"),
            "sale.order": self.bound("contract", "K-UK"),
            "account.move": self.bound("contract", "K-UK").invoice_ids,
            "account.analytic.line": self.bound("time_entry", "TE-UK"),
        }
        self.apply("time_entry.approved", time_entry_data())
        home_records = {
            "project.project": self.project,
            "account.analytic.line": self.bound("time_entry", "TE-1"),
        }
        for model, record in uk_records.items():
            with self.subTest(model=model, user="uk"):
                self.assertTrue(record)
                self.assertEqual(
                    self.env[model].with_user(uk_user).search([("id", "=", record.id)]), record
                )
            with self.subTest(model=model, user="home"):
                self.assertFalse(
                    self.env[model].with_user(home_user).search([("id", "=", record.id)])
                )
                with self.assertRaises(AccessError):
                    record.with_user(home_user).read(["company_id"])
        for model, record in home_records.items():
            with self.subTest(model=model, user="uk reads home"):
                self.assertTrue(record)
                self.assertFalse(
                    self.env[model].with_user(uk_user).search([("id", "=", record.id)])
                )
                with self.assertRaises(AccessError):
                    record.with_user(uk_user).read(["company_id"])
