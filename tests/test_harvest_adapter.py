"""The Harvest API v2 adapter against a vendor-faithful Harvest simulator over real HTTP."""

from datetime import UTC, datetime
from unittest.mock import patch

from odoo.addons.psa_connector_base.adapters.harvest import HarvestAdapter
from odoo.addons.psa_connector_base.tools.errors import RemoteServiceError

from psa_simulator.vendors.harvest import HarvestSimulator

from .common import SuiteTransactionCase

TOKEN = "harvest-pat-5a1c"
ACCOUNT = "778899"


def seed_harvest(sim):
    """Two clients, three projects, six time entries (four closed), two expenses."""
    acme = sim.create(
        "clients", {"id": 501, "name": "Acme Corp", "address": "1 Main St", "currency": "EUR"}
    )
    globex = sim.create("clients", {"id": 502, "name": "Globex", "currency": "EUR"})
    sim.create(
        "contacts",
        {
            "id": 601,
            "client": {"id": 501, "name": "Acme Corp"},
            "title": "CFO",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@acme.example",
            "phone_office": "+49 40 1234",
        },
    )
    client = {"id": acme["id"], "name": acme["name"], "currency": "EUR"}
    sim.create(
        "projects",
        {
            "id": 701,
            "client": client,
            "name": "Website relaunch",
            "code": "ACME-WEB",
            "is_active": True,
            "is_billable": True,
            "is_fixed_fee": False,
            "bill_by": "Project",
            "hourly_rate": 120.0,
            "budget": 200.0,
            "budget_by": "project",
            "starts_on": "2026-10-01",
            "ends_on": None,
            "notes": "Phase 1",
            "fee": None,
        },
    )
    sim.create(
        "projects",
        {
            "id": 702,
            "client": client,
            "name": "Audit",
            "code": "ACME-AUD",
            "is_active": True,
            "is_billable": True,
            "is_fixed_fee": True,
            "bill_by": "none",
            "hourly_rate": None,
            "budget": 5000.0,
            "budget_by": "project_cost",
            "fee": 5000.0,
        },
    )
    sim.create(
        "projects",
        {
            "id": 703,
            "client": {"id": globex["id"], "name": "Globex", "currency": "EUR"},
            "name": "Internal tooling",
            "code": "GLX-INT",
            "is_active": True,
            "is_billable": False,
            "is_fixed_fee": False,
            "bill_by": "none",
            "budget_by": "none",
        },
    )
    for ta_id, project_id, task in ((801, 701, "Design"), (802, 701, "Development")):
        sim.create(
            "task_assignments",
            {
                "id": ta_id,
                "project": {"id": project_id, "name": "Website relaunch", "code": "ACME-WEB"},
                "task": {"id": ta_id + 100, "name": task},
                "is_active": True,
                "billable": True,
                "hourly_rate": 120.0,
                "budget": 40.0 if task == "Design" else None,
            },
        )
    for user_id, first, last, email in (
        (901, "Grace", "Hopper", "grace@firm.example"),
        (902, "Alan", "Turing", "alan@firm.example"),
    ):
        sim.create(
            "users",
            {
                "id": user_id,
                "first_name": first,
                "last_name": last,
                "email": email,
                "is_active": True,
                "weekly_capacity": 126000,
                "cost_rate": 55.0,
                "default_hourly_rate": 120.0,
            },
        )
    entries = [
        # id, user, task assignment, date, hours, is_closed, billable
        (1001, 901, 801, "2026-11-02", 3.5, True, True),
        (1002, 901, 802, "2026-11-03", 2.0, True, True),
        (1003, 902, 802, "2026-11-03", 4.25, True, False),
        (1004, 902, 801, "2026-11-04", 1.0, False, True),
        (1005, 901, 802, "2026-11-05", 6.0, False, True),
        (1006, 902, 802, "2026-11-05", 0.75, True, True),
    ]
    for entry_id, user_id, ta_id, day, hours, closed, billable in entries:
        sim.create(
            "time_entries", time_entry(entry_id, user_id, ta_id, day, hours, closed, billable)
        )
    for expense_id, closed, cost in ((1101, True, 84.5), (1102, False, 19.9)):
        sim.create(
            "expenses",
            {
                "id": expense_id,
                "notes": f"Train ticket {expense_id}",
                "total_cost": cost,
                "units": None,
                "is_closed": closed,
                "is_locked": closed,
                "is_billed": False,
                "spent_date": "2026-11-04",
                "billable": True,
                "receipt": {"url": "https://x.example/r.pdf", "file_name": f"r{expense_id}.pdf"},
                "user": {"id": 901, "name": "Grace Hopper"},
                "project": {"id": 701, "name": "Website relaunch", "code": "ACME-WEB"},
                "expense_category": {"id": 1201, "name": "Travel", "unit_price": None},
                "client": client,
                "invoice": None,
            },
        )


def time_entry(entry_id, user_id, ta_id, day, hours, closed, billable):
    return {
        "id": entry_id,
        "spent_date": day,
        "hours": hours,
        "rounded_hours": hours,
        "notes": f"Work {entry_id}",
        "is_locked": closed,
        "locked_reason": "Item Approved and Locked for this Time Period" if closed else None,
        "is_closed": closed,
        "is_billed": False,
        "is_running": False,
        "billable": billable,
        "budgeted": True,
        "billable_rate": 120.0 if billable else None,
        "cost_rate": 55.0,
        "user": {"id": user_id, "name": "someone"},
        "client": {"id": 501, "name": "Acme Corp", "currency": "EUR"},
        "project": {"id": 701, "name": "Website relaunch", "code": "ACME-WEB"},
        "task": {"id": ta_id + 100, "name": "task"},
        "task_assignment": {"id": ta_id, "billable": True, "is_active": True},
        "invoice": None,
    }


class TestHarvestAdapter(SuiteTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = HarvestSimulator(token=TOKEN, account_id=ACCOUNT).start()
        cls.addClassCleanup(cls.sim.stop)
        cls.backend = cls._create_backend(
            code="harvest-test",
            adapter="harvest_v2",
            base_url=cls.sim.url,
            api_token=TOKEN,
            vendor_account=ACCOUNT,
            contact_email="ops@firm.example",
            page_size=2,
        )
        for name, email in (
            ("Grace Hopper", "grace@firm.example"),
            ("Alan Turing", "alan@firm.example"),
        ):
            cls.env["hr.employee"].create({"name": name, "work_email": email})

    def setUp(self):
        super().setUp()
        self.sim.reset()
        seed_harvest(self.sim)
        self.sim.clear_log()

    def pull(self):
        self.backend.action_pull_now()
        return self.run_jobs()

    def lines(self):
        return self.env["account.analytic.line"].search(
            [("project_id", "in", self.bound("project", "701").ids)]
        )

    def test_full_pull_maps_every_object_and_reads_every_page(self):
        self.pull()
        self.assertFalse(self.exceptions().filtered(lambda e: e.state == "open"))
        self.assertEqual(self.bound("customer", "501").name, "Acme Corp")
        contact = self.bound("contact", "601")
        self.assertEqual(contact.name, "Ada Lovelace")
        self.assertEqual(contact.parent_id, self.bound("customer", "501"))
        project = self.bound("project", "701")
        self.assertEqual(project.name, "Website relaunch")
        self.assertEqual(project.partner_id, self.bound("customer", "501"))
        self.assertEqual(project.account_id.code, "ACME-WEB")
        self.assertEqual(self.bound("task", "801").project_id, project)
        self.assertEqual(self.bound("task", "801").name, "Design")

        # Only closed (approved) entries are timesheet lines: 1001, 1002, 1003, 1006.
        lines = self.lines()
        self.assertEqual(len(lines), 4)
        self.assertAlmostEqual(sum(lines.mapped("unit_amount")), 3.5 + 2.0 + 4.25 + 0.75)
        grace = self.env["hr.employee"].search([("work_email", "=", "grace@firm.example")])
        self.assertEqual(
            sorted(lines.filtered(lambda line: line.employee_id == grace).mapped("unit_amount")),
            [2.0, 3.5],
        )
        self.assertEqual(lines.filtered(lambda line: not line.psa_billable).unit_amount, 4.25)
        self.assertFalse(self.bound("time_entry", "1004"))
        # 1001 and 1003 came without task_assignment (the simulator leaves it out of the
        # list for odd ids, as one version of Harvest's docs says): same tasks all the same.
        for entry_id, task_id in (
            ("1001", "801"),
            ("1002", "802"),
            ("1003", "802"),
            ("1006", "802"),
        ):
            self.assertEqual(
                self.bound("time_entry", entry_id).task_id, self.bound("task", task_id), entry_id
            )

        # Billable projects are contracts: the T&M one at the project rate, the fixed fee.
        tm = self.bound("contract", "701")
        self.assertEqual(tm.psa_contract_type, "time_and_materials")
        self.assertEqual(tm.order_line.mapped("price_unit"), [120.0])
        fixed = self.bound("contract", "702")
        self.assertEqual(fixed.psa_contract_type, "fixed_fee")
        self.assertEqual(fixed.amount_untaxed, 5000.0)
        self.assertFalse(self.bound("contract", "703"))

        # The closed expense became an expense; the open one did not.
        expense = self.bound("expense", "1101")
        self.assertEqual(expense.total_amount_currency, 84.5)
        self.assertEqual(expense.employee_id, grace)
        self.assertFalse(self.bound("expense", "1102"))

        # Every list was read to its last page (page size 2), with Harvest's headers.
        pages = [r for r in self.sim.requests if r["path"] == "/v2/time_entries"]
        self.assertEqual([r["query"].get("page") for r in pages], [None, "2", "3"])
        self.assertTrue(all(r["status"] == 200 for r in self.sim.requests))
        headers = pages[0]["headers"]
        self.assertEqual(headers["Authorization"], f"Bearer {TOKEN}")
        self.assertEqual(headers["Harvest-Account-Id"], ACCOUNT)
        self.assertIn("ops@firm.example", headers["User-Agent"])
        self.assertEqual(pages[0]["query"]["per_page"], "2")

    def test_incremental_pull_asks_updated_since_and_applies_approval_changes(self):
        self.pull()
        self.assertEqual(len(self.lines()), 4)
        watermark = self.env["psa.sync.watermark"].search(
            [("backend_id", "=", self.backend.id), ("object_type", "=", "time_entry")]
        )
        newest = max(e["updated_at"] for e in self.sim.store["time_entries"].values())
        self.assertEqual(watermark.last_updated_at[:19] + "Z", newest)
        # Approve 1004, un-approve 1006 (reopened timesheet) in Harvest.
        self.sim.update("time_entries", 1004, {"is_closed": True, "is_locked": True})
        self.sim.update("time_entries", 1006, {"is_closed": False, "is_locked": False})
        self.sim.clear_log()
        self.pull()
        calls = [r for r in self.sim.requests if r["path"] == "/v2/time_entries"]
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["query"]["updated_since"], newest)
        lines = self.lines()
        self.assertEqual(sorted(lines.mapped("unit_amount")), sorted([3.5, 2.0, 4.25, 1.0]))
        self.assertTrue(self.bound("time_entry", "1004"))
        self.assertFalse(self.bound("time_entry", "1006"))

    def test_429_retry_after_is_honoured_and_the_limiter_avoids_it(self):
        self.sim.rate_limit, self.sim.rate_window = 3, 1.0
        self.addCleanup(setattr, self.sim, "rate_limit", 100)
        # Without a client-side limit the simulator answers 429 and the adapter waits.
        with patch.object(HarvestAdapter, "rate_limit", 1000):
            adapter = self.backend._get_adapter()
            entries = [e for page in adapter.iter_changes("time_entry") for e in page]
        self.assertEqual(len(entries), 6)
        statuses = [r["status"] for r in self.sim.requests]
        self.assertIn(429, statuses)
        throttled = next(r for r in self.sim.requests if r["status"] == 429)
        retried = self.sim.requests[self.sim.requests.index(throttled) + 1]
        self.assertGreaterEqual(retried["time"] - throttled["time"], 0.9)
        # With the limit matching Harvest's, no request is refused.
        self.sim.clear_log()
        with (
            patch.object(HarvestAdapter, "rate_limit", 3),
            patch.object(HarvestAdapter, "rate_window", 1.0),
        ):
            adapter = self.backend._get_adapter()
            entries = [e for page in adapter.iter_changes("time_entry") for e in page]
        self.assertEqual(len(entries), 6)
        self.assertGreater(len(self.sim.requests), 3)
        self.assertNotIn(429, [r["status"] for r in self.sim.requests])
        self.assertGreater(adapter.limiter.waited, 0)

    def test_503_is_retried_and_a_bad_token_is_not(self):
        self.sim.add_fault(status=503, count=2, path="/v2/clients")
        adapter = self.backend._get_adapter()
        clients = [c for page in adapter.iter_changes("customer") for c in page]
        self.assertEqual(sorted(c["id"] for c in clients), ["501", "502"])
        self.assertEqual([r["status"] for r in self.sim.requests], [503, 503, 200])
        self.backend.api_token = "expired"
        self.sim.clear_log()
        with self.assertRaises(RemoteServiceError) as caught:
            list(self.backend._get_adapter().iter_changes("customer"))
        self.assertEqual(caught.exception.status, 401)
        self.assertFalse(caught.exception.retryable)
        self.assertEqual(len(self.sim.requests), 1)
        # A changed account clears the stored token (psa.backend.write): entered again.
        self.backend.write({"vendor_account": "1", "api_token": TOKEN})
        status = self.backend.action_test_connection()["params"]
        self.assertEqual(status["type"], "danger")
        self.assertIn("refused the credentials (403)", status["message"])
        self.backend.write({"vendor_account": ACCOUNT, "api_token": TOKEN})
        self.assertIn(
            "Simulated Consulting", self.backend.action_test_connection()["params"]["message"]
        )

    def test_reconciliation_reads_entries_by_date_and_approval(self):
        adapter = self.backend._get_adapter()
        entries = [
            e
            for page in adapter.iter_time_entries("2026-11-03", "2026-11-05", {"approved"})
            for e in page
        ]
        self.assertEqual(sorted(e["id"] for e in entries), ["1002", "1003", "1006"])
        query = next(r for r in self.sim.requests if r["path"] == "/v2/time_entries")["query"]
        self.assertEqual((query["from"], query["to"]), ("2026-11-03", "2026-11-05"))

    def test_payment_status_is_written_back_as_invoice_payments_once(self):
        invoice = self.sim.create(
            "invoices",
            {
                "id": 1301,
                "client": {"id": 501, "name": "Acme Corp"},
                "number": "INV/2026/00007",
                "amount": 1190.0,
                "due_amount": 1190.0,
                "state": "open",
                "currency": "EUR",
                "line_items": [
                    {"id": 1, "kind": "Service", "amount": 1000.0, "project": {"id": 701}}
                ],
            },
        )
        payload = {
            "number": "INV/2026/00007",
            "odoo_id": 42,
            "move_type": "out_invoice",
            "state": "posted",
            "payment_state": "partial",
            "currency": "EUR",
            "amount_total": 1190.0,
            "amount_residual": 690.0,
            "contract_ids": ["701"],
        }
        self.backend._send_invoice_status(payload)
        self.backend._send_invoice_status(payload)  # a replay posts nothing more
        self.backend._send_invoice_status(
            {**payload, "payment_state": "paid", "amount_residual": 0.0}
        )
        posts = [r for r in self.sim.requests if r["method"] == "POST"]
        self.assertEqual([r["path"] for r in posts], ["/v2/invoices/1301/payments"] * 2)
        today = datetime.now(UTC).date().isoformat()
        self.assertEqual(
            [r["body"] for r in posts],
            [
                {
                    "amount": 500.0,
                    "paid_date": today,
                    "notes": "Payment recorded in Odoo on invoice INV/2026/00007",
                },
                {
                    "amount": 690.0,
                    "paid_date": today,
                    "notes": "Payment recorded in Odoo on invoice INV/2026/00007",
                },
            ],
        )
        self.assertEqual(posts[0]["headers"]["Content-Type"], "application/json")
        self.assertEqual(self.sim.get("invoices", invoice["id"])["state"], "paid")
        self.assertFalse(self.exceptions())
        # An invoice Harvest does not hold is not an error, just nothing to record.
        self.sim.clear_log()
        self.backend._send_invoice_status({**payload, "number": "INV/2026/00099"})
        self.assertFalse([r for r in self.sim.requests if r["method"] == "POST"])
