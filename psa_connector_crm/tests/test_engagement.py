"""A won opportunity becomes one engagement on the demo PSA, over real HTTP."""

from unittest.mock import patch

from odoo.exceptions import AccessError, ValidationError
from odoo.tests.common import TransactionCase, new_test_user

from odoo.addons.psa_connector_base.adapters.canonical import CanonicalRestAdapter
from odoo.addons.psa_connector_base.tests.common import API_TOKEN, PsaTestMixin

from psa_simulator import PsaSimulator

JOB = ("_psa_engagement_job", "_process_job")
VAT = "DE811907980"


class TestEngagement(PsaTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.simulator = PsaSimulator(token=API_TOKEN, seed=False).start()
        cls.addClassCleanup(cls.simulator.stop)
        cls.backend = cls._create_backend(
            code="sim-crm", base_url=cls.simulator.url, max_attempts=1
        )
        cls.salesperson = new_test_user(
            cls.env, login="crm-sales", groups="sales_team.group_sale_salesman"
        )
        cls.partner = cls.env["res.partner"].create(
            {"name": "Northwind Logistics GmbH", "is_company": True, "vat": VAT}
        )
        cls.template = cls.env["psa.engagement.template"].create(
            {
                "name": "Fixed-fee assessment",
                "code": "ASSESS",
                "backend_id": cls.backend.id,
                "psa_project_template": "TPL-ASSESS",
                "contract_type": "fixed_fee",
                "fixed_amount": 24000.0,
                "duration_months": 3,
                "budget_hours": 160.0,
            }
        )

    def setUp(self):
        super().setUp()
        self.simulator.reset()

    def lead(self, **values):
        return self.env["crm.lead"].create(
            {
                "name": "Northwind warehouse assessment",
                "type": "opportunity",
                "partner_id": self.partner.id,
                "user_id": self.salesperson.id,
                "expected_revenue": 24000.0,
                "psa_engagement_template_id": self.template.id,
                "psa_engagement_start_date": "2026-12-01",
                **values,
            }
        )

    def psa_projects(self):
        return self.simulator.records("projects")

    def assert_one_engagement(self, lead):
        projects = self.psa_projects()
        contracts = self.simulator.records("contracts")
        self.assertEqual(len(projects), 1)
        self.assertEqual(len(contracts), 1)
        project, contract = projects[0], contracts[0]
        self.assertEqual(project["name"], "Northwind warehouse assessment")
        self.assertEqual(project["template_code"], "TPL-ASSESS")
        self.assertEqual(project["date_end"], "2027-02-28")  # 3 months from 1 December
        self.assertEqual(contract["project_id"], project["id"])
        self.assertEqual(contract["type"], "fixed_fee")
        self.assertEqual(contract["fixed_amount"], 24000.0)
        # One customer on the PSA, bound to the lead's partner.
        customers = self.simulator.records("customers")
        self.assertEqual([c["vat"] for c in customers], [VAT])
        self.assertEqual(self.bound("customer", customers[0]["id"]), self.partner)
        # One set of Odoo records, bound and linked from the lead.
        self.assertEqual(lead.psa_engagement_state, "created")
        self.assertEqual(lead.psa_engagement_external_id, project["id"])
        odoo_project = self.bound("project", project["id"])
        order = self.bound("contract", contract["id"])
        self.assertEqual(lead.psa_project_id, odoo_project)
        self.assertEqual(lead.psa_sale_order_id, order)
        self.assertEqual(odoo_project.partner_id, self.partner)
        self.assertEqual(order.partner_id, self.partner)
        self.assertEqual(order.psa_project_id, odoo_project)
        self.assertEqual(
            self.env["project.project"].search_count(
                [("name", "=", "Northwind warehouse assessment")]
            ),
            1,
        )
        self.assertEqual(
            self.env["psa.binding"].search_count(
                [("backend_id", "=", self.backend.id), ("external_type", "=", "project")]
            ),
            1,
        )
        self.assertEqual(
            self.env["sale.order"].search_count([("partner_id", "=", self.partner.id)]), 1
        )
        return project, contract

    def test_won_opportunity_creates_one_engagement(self):
        lead = self.lead()
        lead.action_set_won()
        self.assertEqual(lead.psa_engagement_state, "queued")
        jobs = self.run_jobs(methods=JOB)
        self.assertEqual([job.method_name for job in jobs].count("_psa_engagement_job"), 1)
        project, _contract = self.assert_one_engagement(lead)
        # The job run again (a retry) and the PSA's own webhook afterwards: nothing new.
        lead._psa_engagement_job()
        event = self.apply("project.created", project)
        self.assertIn(event.state, ("done", "skipped"), event.result)
        self.assert_one_engagement(lead)

    def test_retried_job_gets_the_project_it_created(self):
        """A job whose transaction was lost after the PSA created the engagement creates
        nothing the second time: the PSA answers the key's records."""
        lead = self.lead()
        lead.action_set_won()
        with self.env.cr.savepoint(flush=True) as savepoint:
            lead._psa_engagement_job()
            savepoint.rollback()
        lead.invalidate_recordset()
        self.assertEqual(lead.psa_engagement_state, "queued")
        self.assertEqual(len(self.psa_projects()), 1)
        self.run_jobs(methods=JOB)
        self.assert_one_engagement(lead)

    def test_webhook_before_the_job_commits(self):
        """The PSA's webhook for the new project is applied while the creating job is
        still running: the job's own import lands on the same records."""
        original = CanonicalRestAdapter.create_record
        test = self

        def create_then_webhook(adapter, object_type, record, key):
            created = original(adapter, object_type, record, key)
            if object_type in ("project", "contract"):
                event = test.receive(f"{object_type}.created", created)
                event._process_job()
                test.assertEqual(event.state, "done", event.result)
            return created

        lead = self.lead()
        lead.action_set_won()
        with patch.object(CanonicalRestAdapter, "create_record", create_then_webhook):
            self.run_jobs(methods=JOB)
        self.assert_one_engagement(lead)

    def test_won_without_template_is_an_exception(self):
        lead = self.lead(psa_engagement_template_id=False)
        lead.action_set_won()
        self.run_jobs(methods=JOB)
        self.assertEqual(self.psa_projects(), [])
        self.assertEqual(lead.psa_engagement_state, "exception")
        exception = self.exceptions(res_model="crm.lead", res_id=lead.id)
        self.assertEqual(len(exception), 1)
        self.assertIn("without an engagement template", exception.name)
        self.assertIn('"name": "Northwind warehouse assessment"', exception.payload)
        self.assertEqual(exception.user_id, self.salesperson)
        activity = lead.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.salesperson)
        # The job run again (a retry): still one exception, one activity.
        lead._psa_engagement_job()
        self.assertEqual(self.exceptions(res_model="crm.lead", res_id=lead.id), exception)
        self.assertEqual(lead.activity_ids, activity)

    def test_corrected_exception_is_tried_again(self):
        lead = self.lead(psa_engagement_template_id=False)
        lead.action_set_won()
        self.run_jobs(methods=JOB)
        self.assertEqual(lead.psa_engagement_state, "exception")
        self.assertEqual(self.psa_projects(), [])
        # The salesperson picks the template on the won opportunity: queued again.
        lead.psa_engagement_template_id = self.template
        self.assertEqual(lead.psa_engagement_state, "queued")
        self.run_jobs(methods=JOB)
        self.assert_one_engagement(lead)
        # Its exception is resolved, its activity done.
        exception = self.exceptions(res_model="crm.lead", res_id=lead.id)
        self.assertEqual(exception.state, "resolved")
        self.assertFalse(lead.activity_ids)

    def test_lead_created_won_is_queued(self):
        """A CRM backend's import may create the opportunity in its won stage."""
        won = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        lead = self.lead(stage_id=won.id)
        self.assertEqual(lead.psa_engagement_state, "queued")
        self.run_jobs(methods=JOB)
        self.assert_one_engagement(lead)

    def test_ambiguous_customer_is_an_exception(self):
        for name in ("Northwind Logistics GmbH", "Northwind Logistics (Hamburg)"):
            self.simulator.create("customers", {"name": name, "vat": VAT})
        lead = self.lead()
        lead.action_set_won()
        self.run_jobs(methods=JOB)
        self.assertEqual(self.psa_projects(), [])
        self.assertEqual(lead.psa_engagement_state, "exception")
        exception = self.exceptions(res_model="crm.lead", res_id=lead.id)
        self.assertEqual(exception.category, "ambiguous_match")
        self.assertIn("matches 2 customers", exception.name)
        self.assertTrue(exception.payload)
        self.assertEqual(lead.activity_ids.user_id, self.salesperson)
        self.assertFalse(
            self.env["psa.binding"]._external_ids_of(self.backend, "customer", self.partner)
        )

    def test_existing_psa_customer_is_bound_not_duplicated(self):
        existing = self.simulator.create("customers", {"name": "Northwind", "vat": VAT})
        lead = self.lead()
        lead.write({"stage_id": self.env["crm.stage"].search([("is_won", "=", True)], limit=1).id})
        self.run_jobs(methods=JOB)
        self.assertEqual(len(self.simulator.records("customers")), 1)
        self.assertEqual(self.bound("customer", existing["id"]), self.partner)
        self.assertEqual(self.psa_projects()[0]["customer_id"], existing["id"])

    def test_rights(self):
        lead = self.lead().with_user(self.salesperson)
        # The engagement's state and links are the workflow's, whatever the rights.
        with self.assertRaises(AccessError):
            lead.write({"psa_engagement_state": "created"})
        with self.assertRaises(AccessError):
            lead.write({"psa_engagement_external_id": "P-999"})
        # Salespeople pick a template; only connector managers define them.
        Template = self.env["psa.engagement.template"].with_user(self.salesperson)
        self.assertEqual(Template.search([("code", "=", "ASSESS")]), self.template)
        with self.assertRaises(AccessError):
            Template.create({"name": "X", "code": "X", "backend_id": self.backend.id})
        with self.assertRaises(AccessError):
            self.template.with_user(self.salesperson).write({"fixed_amount": 1.0})
        # Another company's templates are not visible.
        other = self.env["res.company"].create({"name": "Other Co"})
        outsider = new_test_user(
            self.env,
            login="crm-other",
            groups="sales_team.group_sale_salesman",
            company_id=other.id,
            company_ids=[other.id],
        )
        self.assertFalse(self.env["psa.engagement.template"].with_user(outsider).search([]))
        # ... nor can their id be written on a lead over JSON-RPC: the server refuses a
        # template of another company (its backend would create the engagement).
        foreign = self.template.copy({"code": "OTHER", "company_id": other.id})
        with self.assertRaises(ValidationError):
            lead.write({"psa_engagement_template_id": foreign.id})
        # The salesperson marking the lead won queues the job; the job runs as the
        # integration user.
        lead.action_set_won()
        job = self.env["queue.job"].search([("method_name", "=", "_psa_engagement_job")])
        self.assertEqual(len(job), 1)
        self.assertEqual(job.user_id, self.env.company._psa_integration_user())
