import json
import time

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from ..tools.errors import SyncError
from ..tools.exception_reason import group_key, reason_pattern
from ..tools.signature import sign
from .common import WEBHOOK_SECRET, PsaTransactionCase, customer_data

# (message, pattern): what differs between occurrences becomes a placeholder.
REASON_CASES = [
    (
        "A webhook from Acme could not be read: malformed JSON: Expecting value: "
        "line 1 column 31 (char 30)",
        "A webhook from Acme could not be read: malformed JSON: Expecting value: "
        "line <n> column <n> (char <n>)",
    ),
    (
        "Waiting for project P-2001, which has not reached Odoo yet.",
        "Waiting for project <id>, which has not reached Odoo yet.",
    ),
    (
        "Time entry TE-5001 of employee E-4002 is locked",
        "Time entry <id> of employee <id> is locked",
    ),
    ("Invoice INV/2026/0042 is posted", "Invoice <id> is posted"),
    ("Event evt_3f9a12 was replayed", "Event <id> was replayed"),
    (
        "Event 3f9a1c2e-1b2c-4d5e-8f90-123456789abc failed",
        "Event <uuid> failed",
    ),
    ("Body hash 9f86d081884c7d65 and byte 0xff", "Body hash <hex> and byte <hex>"),
    ("customer 'Northwind GmbH' is archived", "customer <text> is archived"),
    ('field "vat" is not a string', "field <text> is not a string"),
    ("No partner with e-mail ap@northwind.example", "No partner with e-mail <email>"),
    ("Dated 2026-11-20T10:00:00Z, due 20.12.2026", "Dated <date>, due <date>"),
    ("Closed at 17:45 on 2026-11-20", "Closed at <time> on <date>"),
    (
        "Rate EUR 1,234.50 differs from 95.00 and 1.234,50 €",
        "Rate <amount> differs from <amount> and <amount>",
    ),
    ("Remote error 503 after 3 attempts", "Remote error <n> after <n> attempts"),
    ("HTTP 429   Too Many\nRequests", "HTTP <n> Too Many Requests"),
    (
        # An unmapped legal entity keeps its code (one group per entity), whatever the
        # backend and the guidance that follow.
        "Legal entity 'UK01' is not mapped to an Odoo company on backend PSA 7. Map it "
        "under Connector > Configuration > Legal entities, then retry.",
        "Legal entity 'UK01' is not mapped to an Odoo company",
    ),
    ("", ""),
    (None, ""),
]


def bad_body(number):
    """A body that is not JSON; where the parser stops depends on the number."""
    return f'{{"id": "evt-{number}", "type": "customer.created", "data": '.encode()


@tagged("post_install", "-at_install")
class TestExceptionGroups(PsaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finance = new_test_user(
            cls.env, "finance_groups", groups="psa_connector_base.group_connector_user"
        )
        cls.manager = new_test_user(
            cls.env, "manager_groups", groups="psa_connector_base.group_connector_manager"
        )
        cls.Group = cls.env["psa.exception.group"]

    def post_signed(self, raw, backend=None):
        """What the webhook controller does with a signed body, without HTTP."""
        timestamp = str(int(time.time()))
        headers = {
            "X-PSA-Timestamp": timestamp,
            "X-PSA-Signature": sign(WEBHOOK_SECRET, timestamp, raw),
        }
        return self.env["psa.event"]._accept_webhook(backend or self.backend, headers, raw)

    def groups(self, backend=None):
        # The view is read fresh: the exceptions changed since the last read.
        self.Group.invalidate_model()
        return self.Group.search([("backend_id", "=", (backend or self.backend).id)])

    def failed_customers(self, count):
        events = self.env["psa.event"]
        for number in range(1, count + 1):
            events |= self.receive(
                "customer.created",
                customer_data(id=f"C-{number}", name=None, vat=None, ref=f"R-{number}"),
            )
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(set(events.mapped("state")), {"failed"})
        return events.exception_ids

    def test_reason_pattern_table(self):
        for message, pattern in REASON_CASES:
            with self.subTest(message=message):
                self.assertEqual(reason_pattern(message), pattern)
        self.assertEqual(len(reason_pattern("x " * 1000)), 500, "long patterns are cut")

    def test_thousand_unreadable_bodies_from_one_sender_are_one_group(self):
        bodies = [bad_body(number) for number in range(1, 1001)]
        for raw in bodies:
            self.assertEqual(self.post_signed(raw).status, 400)
        exceptions = self.exceptions()
        self.assertEqual(len(exceptions), 1000, "every bad body is kept")
        self.assertEqual(
            sorted(exceptions.mapped("payload")), sorted(raw.decode() for raw in bodies)
        )
        # The parser stops at a column that grows with the number's digits (1 to 1000).
        self.assertEqual(len(set(exceptions.mapped("name"))), 4)
        group = self.groups()
        self.assertEqual(len(group), 1)
        self.assertEqual(
            (group.exception_count, group.open_count, group.state), (1000, 1000, "open")
        )
        self.assertEqual(group.category, "invalid_payload")
        self.assertEqual(group.id, min(exceptions.ids))
        self.assertEqual(group.first_seen, min(exceptions.mapped("create_date")))
        self.assertEqual(group.last_seen, max(exceptions.mapped("create_date")))
        self.assertEqual(group.exception_ids, exceptions)
        self.assertEqual(exceptions.group_id, group)
        self.assertEqual(
            self.env["psa.exception"].search_count([("group_id", "=", group.id)]), 1000
        )
        self.assertEqual(
            group.group_key,
            group_key(self.backend.id, "invalid_payload", False, group.reason_pattern),
        )
        # The first three and the latest payload, formatted.
        first = exceptions.sorted("id")[:3] | exceptions.sorted("id")[-1:]
        for exception in first:
            self.assertIn(f"Exception #{exception.id},", group.sample_payloads)
        self.assertEqual(group.sample_payloads.count("<pre"), 4)
        self.assertNotIn(f"Exception #{exceptions.sorted('id')[3].id},", group.sample_payloads)

    def test_different_causes_are_different_groups(self):
        other_backend = self._create_backend(code="other-hook")
        self.post_signed(bad_body(1))
        self.post_signed(bad_body(2))
        # Valid JSON that is no envelope: another reason.
        self.post_signed(json.dumps({"hello": "world"}).encode())
        # The same bad body from another sender: another group.
        self.post_signed(bad_body(1), backend=other_backend)
        failed = self.failed_customers(2)
        groups = self.groups()
        self.assertEqual(len(groups), 3)
        self.assertEqual(
            sorted((g.category, g.object_type or "", g.exception_count) for g in groups),
            [
                ("invalid_payload", "", 1),
                ("invalid_payload", "", 2),
                ("invalid_payload", "customer", 2),
            ],
        )
        self.assertEqual(failed.group_id, groups.filtered(lambda g: g.object_type == "customer"))
        other = self.groups(other_backend)
        self.assertEqual(other.exception_count, 1)
        self.assertNotIn(other, groups)

    def test_refreshing_an_exception_keeps_its_group(self):
        exception = self.failed_customers(1)
        pattern, key = exception.reason_pattern, exception.group_key
        self.env["psa.exception"]._record(
            SyncError("A wholly different message 42"), event=exception.event_id
        )
        self.assertEqual(exception.name, "A wholly different message 42")
        self.assertEqual((exception.reason_pattern, exception.group_key), (pattern, key))

    def test_bulk_retry_respects_four_eyes_and_touches_only_the_group(self):
        members = self.failed_customers(3)
        self.post_signed(bad_body(1))
        outsider = self.exceptions().filtered(lambda e: not e.object_type)
        self.env["psa.four.eyes.rule"].create(
            {"object_type": "customer", "company_id": self.env.company.id, "name": "Customers"}
        )
        edited = members.sorted("id")[0]
        envelope = json.loads(edited.payload)
        edited.with_user(self.manager).payload = json.dumps(envelope)
        self.assertEqual(edited.approval_state, "awaiting")
        group = members.group_id
        self.assertEqual(len(group), 1)
        group.with_user(self.finance).action_retry_group()
        self.assertEqual(
            sorted(members.mapped("state")), ["open", "retrying", "retrying"], "2 of 3 retried"
        )
        self.assertEqual(edited.state, "open", "awaiting a second approval: not replayed")
        self.assertEqual(outsider.state, "open")
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(members.mapped("state"), ["open"] * 3, "the same cause fails again")
        self.assertEqual(sorted(members.mapped("retry_count")), [0, 2, 2])

    def test_bulk_ignore_with_a_reason_through_the_wizard(self):
        members = self.failed_customers(3)
        self.post_signed(bad_body(1))
        outsider = self.exceptions().filtered(lambda e: not e.object_type)
        group = members.group_id
        action = group.with_user(self.finance).action_open_ignore_wizard()
        self.assertEqual(action["res_model"], "psa.exception.ignore.wizard")
        wizard = (
            self.env["psa.exception.ignore.wizard"]
            .with_user(self.finance)
            .with_context(action["context"])
            .create({"reason": "Test customers, never billed."})
        )
        self.assertEqual(wizard.exception_ids, members)
        wizard.action_confirm()
        self.assertEqual(members.mapped("state"), ["ignored"] * 3)
        self.assertEqual(set(members.mapped("ignore_reason")), {"Test customers, never billed."})
        self.assertEqual(outsider.state, "open")
        group = self.groups().filtered(lambda g: g.object_type == "customer")
        self.assertEqual((group.state, group.open_count, group.exception_count), ("ignored", 0, 3))
        other = self.groups().filtered(lambda g: not g.object_type)
        self.assertEqual(other.state, "open")
        # The same without the wizard (what the wizard does on a selection of members).
        other.with_user(self.finance).action_ignore_group("The sender was fixed.")
        self.assertEqual(
            (outsider.state, outsider.ignore_reason), ("ignored", "The sender was fixed.")
        )
        self.assertEqual(self.groups().mapped("state"), ["ignored", "ignored"])

    def test_a_new_occurrence_reopens_a_resolved_group(self):
        self.post_signed(bad_body(1))
        self.post_signed(bad_body(2))
        group = self.groups()
        self.exceptions()._mark_resolved("Fixed by the sender.")
        group = self.groups()
        self.assertEqual((group.state, group.open_count, group.exception_count), ("resolved", 0, 2))
        self.post_signed(bad_body(3))
        reopened = self.groups()
        self.assertEqual(reopened, group, "the same group")
        self.assertEqual(
            (reopened.state, reopened.open_count, reopened.exception_count), ("open", 1, 3)
        )

    def test_groups_need_connector_rights_and_stay_in_their_company(self):
        self.post_signed(bad_body(1))
        group = self.groups()
        employee = new_test_user(self.env, "plain_employee", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.Group.with_user(employee).search([])
        for method, args in (
            ("action_retry_group", ()),
            ("action_ignore_group", ("no reason",)),
            ("action_open_ignore_wizard", ()),
            ("action_open_exceptions", ()),
        ):
            with self.subTest(method=method), self.assertRaises(AccessError):
                getattr(group.with_user(employee), method)(*args)
        # Nobody writes a group: it is the exceptions, read.
        for user in (self.finance, self.manager):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                group.with_user(user).check_access("write")
        other_company = self.env["res.company"].create({"name": "Consultancy UK Ltd"})
        outsider = new_test_user(
            self.env,
            "uk_finance_groups",
            groups="psa_connector_base.group_connector_user",
            company_id=other_company.id,
            company_ids=[(6, 0, other_company.ids)],
        )
        self.assertEqual(self.Group.with_user(self.finance).search_count([]), 1)
        self.assertFalse(self.Group.with_user(outsider).search_count([]))
        with self.assertRaises(AccessError):
            group.with_user(outsider).action_retry_group()
        with self.assertRaises(AccessError):
            group.with_user(outsider).action_ignore_group("not mine")
        self.assertEqual(self.exceptions().state, "open")
        # The finance user of the company opens the members.
        action = group.with_user(self.finance).action_open_exceptions()
        self.assertEqual(self.env["psa.exception"].search(action["domain"]), self.exceptions())
