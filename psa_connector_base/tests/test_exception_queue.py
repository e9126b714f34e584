import json

from odoo.exceptions import AccessError
from odoo.tests import new_test_user

from .common import PsaTransactionCase, customer_data


class TestExceptionQueue(PsaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finance = new_test_user(
            cls.env, "finance_q", groups="psa_connector_base.group_connector_user"
        )
        cls.manager = new_test_user(
            cls.env, "manager_q", groups="psa_connector_base.group_connector_manager"
        )

    def failed_customer(self):
        event = self.receive("customer.created", customer_data(name=None))
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "failed")
        return event, event.exception_ids

    def test_manager_corrects_the_payload_and_replays_it_keeping_the_original(self):
        event, exception = self.failed_customer()
        original = event.payload
        envelope = json.loads(original)
        envelope["data"]["name"] = "Northwind Logistics GmbH"
        exception.with_user(self.manager).payload = json.dumps(envelope)
        self.assertTrue(exception.payload_edited)
        exception.with_user(self.manager).action_retry()
        self.run_jobs(methods=("_process_job",))
        replay = self.env["psa.event"].search([("replay_of_id", "=", event.id)])
        self.assertEqual((replay.source, replay.state), ("replay", "done"), replay.result)
        self.assertEqual(event.payload, original, "the event as received is never altered")
        self.assertEqual(event.state, "ignored")
        self.assertEqual(exception.state, "retrying")
        self.assertEqual(self.bound("customer", "C-1").name, "Northwind Logistics GmbH")

    def test_finance_user_retries_and_ignores_but_cannot_edit_payloads(self):
        _event, exception = self.failed_customer()
        as_finance = exception.with_user(self.finance)
        with self.assertRaises(AccessError):
            as_finance.payload = "{}"
        as_finance.action_retry()
        self.assertEqual(exception.state, "retrying")
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(exception.state, "open", "the same cause fails again")
        self.assertEqual(exception.retry_count, 2)
        wizard = (
            self.env["psa.exception.ignore.wizard"]
            .with_user(self.finance)
            .create(
                {"exception_ids": [(6, 0, exception.ids)], "reason": "Test customer, never billed."}
            )
        )
        wizard.action_confirm()
        self.assertEqual(
            (exception.state, exception.ignore_reason), ("ignored", "Test customer, never billed.")
        )

    def test_users_see_only_their_companies_connector_data(self):
        self.failed_customer()
        self.receive("customer.created", customer_data(id="C-2", vat=None, ref=None))
        self.run_jobs(methods=("_process_job",))
        other_company = self.env["res.company"].create({"name": "Consultancy UK Ltd"})
        outsider = new_test_user(
            self.env,
            "uk_finance",
            groups="psa_connector_base.group_connector_user",
            company_id=other_company.id,
            company_ids=[(6, 0, other_company.ids)],
        )
        for model in ("psa.exception", "psa.event", "psa.backend", "psa.binding", "psa.audit.log"):
            with self.subTest(model=model):
                self.assertTrue(self.env[model].search_count([]), model)
                self.assertFalse(self.env[model].with_user(outsider).search_count([]))
