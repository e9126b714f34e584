import json

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user

from .common import PsaTransactionCase, customer_data


class TestExceptionWorkflowAndFourEyes(PsaTransactionCase):
    """The exception's workflow is the server's: forged fields are refused, and an edited
    payload of a covered type is replayed only after a second Connector Manager."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finance = new_test_user(
            cls.env, "finance_4e", groups="psa_connector_base.group_connector_user"
        )
        cls.manager_a = new_test_user(
            cls.env, "manager_a_4e", groups="psa_connector_base.group_connector_manager"
        )
        cls.manager_b = new_test_user(
            cls.env, "manager_b_4e", groups="psa_connector_base.group_connector_manager"
        )

    def failed_customer(self, **overrides):
        event = self.receive("customer.created", customer_data(name=None, **overrides))
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "failed")
        return event, event.exception_ids

    def corrected(self, event, name="Northwind Logistics GmbH"):
        envelope = json.loads(event.payload)
        envelope["data"]["name"] = name
        return json.dumps(envelope)

    def replays_of(self, event):
        return self.env["psa.event"].search([("replay_of_id", "=", event.id)])

    def audit_rows(self, exception, operation):
        return self.env["psa.audit.log"].search(
            [
                ("res_model", "=", "psa.exception"),
                ("res_id", "=", exception.id),
                ("operation", "=", operation),
            ]
        )

    def cover_customers(self, required=True):
        """Put customers under the four-eyes rule (as a Connector Manager would)."""
        return (
            self.env["psa.four.eyes.rule"]
            .with_user(self.manager_a)
            .create({"object_type": "customer", "approval_required": required})
        )

    # A. Workflow fields --------------------------------------------------------------

    def test_connector_user_cannot_forge_the_exceptions_workflow_fields(self):
        event, exception = self.failed_customer()
        other_event = self.receive("customer.created", customer_data(id="C-9"))
        as_finance = exception.with_user(self.finance)
        forged = {
            "payload_edited_by_id": self.manager_b.id,
            "payload_edited": True,
            "event_id": other_event.id,
            "state": "resolved",
            "approval_state": "approved",
            "approved_by_id": self.manager_b.id,
            "ignore_reason": "looks fine",
            "retry_count": 0,
        }
        for field, value in forged.items():
            with self.subTest(field=field), self.assertRaises(AccessError):
                as_finance.write({field: value})
        # A manager may edit the payload, but not claim someone else edited it.
        with self.assertRaises(AccessError):
            exception.with_user(self.manager_a).write(
                {"payload": self.corrected(event), "payload_edited_by_id": self.manager_b.id}
            )
        exception.invalidate_recordset()
        self.assertEqual(
            (exception.state, exception.event_id, exception.payload_edited_by_id.id),
            ("open", event, False),
        )
        self.assertFalse(exception.payload_edited)
        # The assignee stays a person's choice.
        as_finance.user_id = self.finance
        self.assertEqual(exception.user_id, self.finance)

    def test_public_actions_check_the_callers_group(self):
        _event, exception = self.failed_customer()
        outsider = new_test_user(self.env, "no_connector_4e", groups="base.group_user")
        for action in ("action_retry", "action_open_ignore_wizard", "action_open_record"):
            with self.subTest(action=action), self.assertRaises(AccessError):
                getattr(exception.with_user(outsider), action)()
        with self.assertRaises(AccessError):
            exception.with_user(outsider).action_ignore("no")
        for action in ("action_approve_payload", "action_reject_payload"):
            with self.subTest(action=action), self.assertRaises(AccessError):
                getattr(exception.with_user(self.finance), action)()

    # B. Four eyes ---------------------------------------------------------------------

    def test_second_manager_approves_an_edited_payload_and_it_is_replayed_once(self):
        self.cover_customers()
        event, exception = self.failed_customer()
        exception.with_user(self.manager_a).payload = self.corrected(event)
        self.assertEqual(
            (exception.payload_edited_by_id, exception.approval_state),
            (self.manager_a, "awaiting"),
        )
        self.assertEqual(len(self.audit_rows(exception, "payload_edit")), 1)

        with self.assertRaisesRegex(UserError, "must first be approved"):
            exception.with_user(self.manager_a).action_retry()
        with self.assertRaisesRegex(AccessError, "Four eyes"):
            exception.with_user(self.manager_a).action_approve_payload()
        # A reference arriving does not replay it either.
        exception.sudo()._retry(automatic=True)
        self.run_jobs(methods=("_process_job",))
        self.assertFalse(self.replays_of(event))
        self.assertFalse(self.bound("customer", "C-1"))
        self.assertEqual((exception.state, exception.approval_state), ("open", "awaiting"))

        exception.with_user(self.manager_b).action_approve_payload()
        self.assertEqual(
            (exception.approval_state, exception.approved_by_id), ("approved", self.manager_b)
        )
        self.assertTrue(exception.approved_date)
        self.run_jobs(methods=("_process_job",))
        replay = self.replays_of(event)
        self.assertEqual(len(replay), 1, "approving replays the edited payload once")
        self.assertEqual(replay.state, "done", replay.result)
        self.assertEqual(self.bound("customer", "C-1").name, "Northwind Logistics GmbH")
        self.assertEqual(self.env["res.partner"].search_count([("vat", "=", "DE811907980")]), 1)
        approval = self.audit_rows(exception, "payload_approve")
        self.assertEqual((len(approval), approval.create_uid), (1, self.manager_b))
        self.assertEqual(approval.event_id, event)
        with self.assertRaisesRegex(UserError, "no edited payload awaiting approval"):
            exception.with_user(self.manager_b).action_approve_payload()

        # Editing again after the approval needs a new approval.
        exception.with_user(self.manager_b).payload = self.corrected(event, "Northwind AG")
        self.assertEqual(
            (exception.approval_state, exception.approved_by_id.id, exception.payload_edited_by_id),
            ("awaiting", False, self.manager_b),
        )
        with self.assertRaises(AccessError):
            exception.with_user(self.manager_b).action_approve_payload()

    def test_rejected_edit_restores_the_payload_as_received(self):
        self.cover_customers()
        event, exception = self.failed_customer()
        received = exception.payload
        exception.with_user(self.manager_a).payload = self.corrected(event)
        exception.with_user(self.manager_b).action_reject_payload()
        self.assertEqual(exception.payload, received)
        self.assertFalse(exception.payload_edited)
        self.assertFalse(exception.payload_edited_by_id)
        self.assertFalse(exception.approval_state)
        reject = self.audit_rows(exception, "payload_reject")
        self.assertEqual((len(reject), reject.create_uid), (1, self.manager_b))
        self.assertIn(self.manager_a.name, reject.message)
        # A plain retry runs the event as received again (and fails the same way).
        exception.with_user(self.finance).action_retry()
        self.run_jobs(methods=("_process_job",))
        self.assertFalse(self.replays_of(event))
        self.assertEqual((event.state, exception.state), ("failed", "open"))

    def test_type_without_a_rule_replays_without_approval(self):
        event, exception = self.failed_customer()
        exception.with_user(self.manager_a).payload = self.corrected(event)
        self.assertFalse(exception.approval_state)
        exception.with_user(self.manager_a).action_retry()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(self.replays_of(event).state, "done")
        edit = self.audit_rows(exception, "payload_edit")
        self.assertEqual(json.loads(edit.values)["approval_required"], False)

    def test_rule_switched_off_replays_without_approval_and_the_change_is_audited(self):
        rule = self.cover_customers()
        rule.with_user(self.manager_b).approval_required = False
        changes = self.env["psa.audit.log"].search(
            [("operation", "=", "rule_change"), ("res_id", "=", rule.id)], order="id"
        )
        self.assertEqual(len(changes), 2)
        self.assertEqual(changes.mapped("create_uid"), self.manager_a | self.manager_b)
        self.assertEqual(
            json.loads(changes[1].values),
            {
                "before": {"object_type": "customer", "approval_required": True, "active": True},
                "after": {"object_type": "customer", "approval_required": False, "active": True},
            },
        )
        with self.assertRaises(AccessError):
            rule.with_user(self.finance).approval_required = True

        event, exception = self.failed_customer()
        exception.with_user(self.manager_a).payload = self.corrected(event)
        self.assertFalse(exception.approval_state)
        exception.with_user(self.manager_a).action_retry()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(self.replays_of(event).state, "done")

    def test_money_and_pay_are_covered_by_default(self):
        Rule = self.env["psa.four.eyes.rule"]
        for object_type in (
            "time_entry",
            "billing_event",
            "expense",
            "vendor_bill",
            "payroll_batch",
        ):
            with self.subTest(object_type=object_type):
                self.assertTrue(Rule._approval_required(object_type))
        self.assertFalse(Rule._approval_required("customer"))

    def test_ignoring_is_audited_with_its_reason(self):
        _event, exception = self.failed_customer()
        wizard = (
            self.env["psa.exception.ignore.wizard"]
            .with_user(self.finance)
            .create({"exception_ids": [(6, 0, exception.ids)], "reason": "Duplicate test data"})
        )
        wizard.action_confirm()
        self.assertEqual(exception.state, "ignored")
        ignored = self.audit_rows(exception, "ignore")
        self.assertEqual((len(ignored), ignored.create_uid), (1, self.finance))
        self.assertEqual(json.loads(ignored.values)["reason"], "Duplicate test data")

    def test_rules_are_per_company(self):
        """Another company's Connector Manager can neither see nor switch off this
        company's rules; a company without rules of its own gets the defaults."""
        Rule = self.env["psa.four.eyes.rule"]
        company_b = self.env["res.company"].create({"name": "Four Eyes B Ltd"})
        manager_other = new_test_user(
            self.env,
            "manager_other_4e",
            groups="psa_connector_base.group_connector_manager",
            company_id=company_b.id,
            company_ids=[(6, 0, company_b.ids)],
        )
        rule_a = Rule.search(
            [("object_type", "=", "time_entry"), ("company_id", "=", self.env.company.id)]
        )
        self.assertEqual(len(rule_a), 1)
        self.assertFalse(Rule.with_user(manager_other).search([("id", "=", rule_a.id)]))
        with self.assertRaises(AccessError):
            rule_a.with_user(manager_other).write({"approval_required": False})
        self.assertTrue(Rule._approval_required("time_entry", self.env.company))
        # Company B has no rule rows: money and pay are still covered there.
        self.assertTrue(Rule._approval_required("time_entry", company_b))
        self.assertFalse(Rule._approval_required("customer", company_b))
        # B's manager switches time entries off for B only.
        Rule.with_user(manager_other).with_company(company_b).create(
            {"object_type": "time_entry", "approval_required": False}
        )
        self.assertFalse(Rule._approval_required("time_entry", company_b))
        self.assertTrue(Rule._approval_required("time_entry", self.env.company))
