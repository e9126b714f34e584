from odoo.exceptions import AccessDenied, AccessError

from .common import PsaTransactionCase, customer_data, project_data

INTEGRATION = "psa_connector_base.group_connector_integration"


class TestIntegrationUser(PsaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.backend.company_id
        cls.integration = cls.company.psa_integration_user_id
        cls.company_b = cls.env["res.company"].create({"name": "Fabrikam Consulting B.V."})
        cls.backend_b = cls._create_backend(code="test-psa-b", company_id=cls.company_b.id)
        cls.integration_b = cls.company_b.psa_integration_user_id

    def test_each_company_has_a_technical_user_without_settings_rights_or_password(self):
        user = self.integration
        self.assertTrue(user, "the installed company got its integration user")
        self.assertEqual(user.login, f"psa_integration_{self.company.id}")
        self.assertEqual(user.name, f"PSA Connector Integration ({self.company.name})")
        self.assertFalse(user.share)
        self.assertFalse(user.active, "archived, as __system__ is: no login, follows nothing")
        self.assertEqual(user.company_id, self.company)
        self.assertEqual(user.company_ids, self.company)
        self.assertTrue(user.has_group(INTEGRATION))
        self.assertTrue(user.has_group("psa_connector_base.group_connector_user"))
        for xmlid in (
            "base.group_system",
            "base.group_erp_manager",
            "psa_connector_base.group_connector_manager",
        ):
            self.assertFalse(user.has_group(xmlid), xmlid)
        # No password: no interactive login, whatever is typed.
        self.env.cr.execute("SELECT password FROM res_users WHERE id = %s", [user.id])
        self.assertIsNone(self.env.cr.fetchone()[0])
        for password in ("", "admin", user.login):
            with self.assertRaises(AccessDenied):
                user.with_user(user)._check_credentials(
                    {"type": "password", "password": password}, {"interactive": True}
                )
        # Even given a password, it is no one Odoo's login finds (archived users are not).
        user.sudo().password = "integration-pass-42"
        Users = self.env["res.users"]
        self.assertFalse(Users.search(Users._get_login_domain(user.login)))
        # The helper is the one place that decides it, and gives the same user again.
        self.assertEqual(self.company._psa_integration_user(), user)

    def test_a_company_created_later_gets_its_own_user(self):
        user_b = self.integration_b
        self.assertTrue(user_b)
        self.assertNotEqual(user_b, self.integration)
        self.assertEqual(user_b.login, f"psa_integration_{self.company_b.id}")
        self.assertEqual(user_b.company_ids, self.company_b)
        # Also from code that sees archived records (as the install hook does).
        company_c = (
            self.env["res.company"].with_context(active_test=False).create({"name": "C Ltd"})
        )
        self.assertEqual(company_c.psa_integration_user_id.company_ids, company_c)
        # A lost link is mended on demand, reusing the user of that login.
        self.company_b.psa_integration_user_id = False
        self.assertEqual(self.company_b._psa_integration_user(), user_b)
        self.assertEqual(self.company_b.psa_integration_user_id, user_b)
        # Nobody but the connector points a company's jobs at a user, not even an
        # administrator of companies and users.
        erp_manager = self.env["res.users"].create(
            {
                "name": "Access rights manager",
                "login": "psa_identity_erp_manager",
                "groups_id": [(6, 0, [self.env.ref("base.group_erp_manager").id])],
            }
        )
        company = self.company.with_user(erp_manager)
        company.write({"report_header": "Consulting"})  # theirs to edit, but not this
        with self.assertRaises(AccessError):
            company.write({"psa_integration_user_id": erp_manager.id})
        self.assertEqual(self.company.psa_integration_user_id, self.integration)

    def test_integration_user_cannot_see_another_companys_backend(self):
        Backend = self.env["psa.backend"]
        self.assertEqual(
            Backend.with_user(self.integration_b).search([("code", "like", "test-psa")]),
            self.backend_b,
        )
        with self.assertRaises(AccessError):
            self.backend.with_user(self.integration_b).check_access("read")
        with self.assertRaises(AccessError):
            self.backend_b.with_user(self.integration).check_access("read")
        # Nor configure a backend of its own company: that is the Connector Manager's.
        with self.assertRaises(AccessError):
            self.backend_b.with_user(self.integration_b).write({"timeout": 5})

    def test_webhook_events_are_queued_and_applied_as_the_company_integration_user(self):
        event = self.receive("project.created", project_data(customer=customer_data()))
        drain = self.env["queue.job"].search([("method_name", "=", "_drain_webhooks")])
        self.assertEqual(drain.user_id, self.integration)
        self.run_jobs(methods=("_drain_webhooks",))
        job = self.env["queue.job"].search([("uuid", "=", event.job_uuid)])
        self.assertEqual(job.user_id, self.integration)
        self.assertEqual(job.records.env.uid, self.integration.id)
        self.assertEqual(job.company_id, self.company)

        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "done", event.result)
        project = self.bound("project", "P-1")
        partner = self.bound("customer", "C-1")
        self.assertEqual(project.create_uid, self.integration)
        self.assertEqual(partner.create_uid, self.integration)
        bindings = self.env["psa.binding"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(len(bindings), 2)
        self.assertEqual(bindings.create_uid, self.integration)
        # The jobs the import queued (ids written back) are the integration user's too.
        write_backs = self.env["queue.job"].search([("method_name", "=", "_write_back_job")])
        self.assertEqual(len(write_backs), 2)
        self.assertEqual(write_backs.user_id, self.integration)

    def test_company_b_backend_is_processed_by_company_b_user(self):
        event = self.receive(
            "customer.created",
            customer_data(id="C-B1", vat="NL853746333B01"),
            backend=self.backend_b,
        )
        self.run_jobs(methods=("_process_job",))
        job = self.env["queue.job"].search([("uuid", "=", event.job_uuid)])
        self.assertEqual(job.user_id, self.integration_b)
        self.assertEqual(event.state, "done", event.result)
        partner = self.bound("customer", "C-B1", backend=self.backend_b)
        self.assertEqual(partner.create_uid, self.integration_b)
        self.assertEqual(partner.company_id, self.company_b)
        self.assertFalse(
            self.env["res.partner"].with_user(self.integration).search([("id", "=", partner.id)]),
            "company A's user does not see company B's customer",
        )

    def test_pulls_and_retries_are_queued_as_the_integration_user(self):
        # A Connector Manager presses "Pull now": the jobs are still the integration user's.
        manager = self.env["res.users"].create(
            {
                "name": "Connector manager",
                "login": "psa_identity_manager",
                "company_id": self.company.id,
                "company_ids": [(6, 0, [self.company.id])],
                "groups_id": [
                    (6, 0, [self.env.ref("psa_connector_base.group_connector_manager").id])
                ],
            }
        )
        self.backend.with_user(manager).action_pull_now()
        # The cron (root) queues every company's pulls, each as its company's user.
        self.env["psa.backend"]._cron_pull()
        pulls = self.env["queue.job"].search([("method_name", "=", "_pull_job")])
        by_backend = {job.records.id: job.user_id for job in pulls}
        self.assertEqual(set(by_backend.values()), {self.integration, self.integration_b})
        self.assertEqual(by_backend[self.backend.id], self.integration)
        self.assertEqual(by_backend[self.backend_b.id], self.integration_b)
        # A user working in several companies queues company B's work as B's user, in B
        # only (B's user may not enter the others).
        self.env["queue.job"].search([]).unlink()
        both = [self.company_b.id, self.company.id]
        self.backend_b.with_context(allowed_company_ids=both).action_pull_now()
        job = self.env["queue.job"].search([("method_name", "=", "_pull_job")], limit=1)
        self.assertEqual(job.user_id, self.integration_b)
        self.assertEqual(job.records.env.context["allowed_company_ids"], [self.company_b.id])
        self.assertEqual(job.records.env.companies, self.company_b)
        # A failed event retried by a person runs as the integration user, not that person.
        event = self.apply("project.created", project_data(customer_id="C-404"))
        self.assertEqual(event.state, "waiting")
        event.with_user(manager)._retry()
        job = self.env["queue.job"].search([("uuid", "=", event.job_uuid)])
        self.assertEqual(job.user_id, self.integration)
