"""The Productive.io adapter against a vendor-faithful Productive simulator over real HTTP,
and Productive's signed webhooks through Odoo's /psa/webhook/<code>/productive route."""

import json
import time
from datetime import UTC, datetime

from odoo.tools import config

from odoo.addons.psa_connector_base.tests.common import WEBHOOK_SECRET
from odoo.addons.psa_connector_base.tools.errors import RemoteServiceError

from psa_simulator.vendors.productive import ProductiveSimulator, sign

from .common import SuiteHttpCase, SuiteTransactionCase

TOKEN = "productive-token-91ab"
ORG = "31337"


def seed_productive(sim):
    """One company, one project with a budget (deal) and a service, three people,
    two tasks, five time entries (two approved, one rejected), two expenses, a booking."""
    sim.create("companies", 11, name="Initech", vat="GB123456789", company_code="INI")
    sim.create("people", 21, first_name="Peter", last_name="Gibbons", email="peter@firm.example")
    sim.create("people", 22, first_name="Milton", last_name="Waddams", email="milton@firm.example")
    sim.create(
        "projects",
        31,
        relationships={"company": ("companies", 11), "project_manager": ("people", 21)},
        name="TPS reports",
        project_number="INI-TPS",
    )
    sim.create("deals", 41, relationships={"project": ("projects", 31)}, name="TPS budget")
    sim.create("services", 51, relationships={"deal": ("deals", 41)}, name="Consulting")
    sim.create(
        "tasks",
        61,
        relationships={"project": ("projects", 31), "assignee": ("people", 21)},
        title="Cover sheets",
        initial_estimate=600,
        closed=False,
    )
    sim.create(
        "tasks",
        62,
        relationships={"project": ("projects", 31)},
        title="Stapler audit",
        closed=True,
    )
    entries = [
        # id, person, task, date, minutes, billable minutes, approved, rejected
        (71, 21, 61, "2026-11-02", 150, 150, True, False),
        (72, 22, 62, "2026-11-03", 45, 0, True, False),
        (73, 21, 61, "2026-11-03", 60, 60, False, False),
        (74, 22, None, "2026-11-04", 480, 480, False, True),
        (75, 21, 62, "2026-11-05", 90, 90, False, False),
    ]
    for entry_id, person, task, day, minutes, billable, approved, rejected in entries:
        relationships = {"person": ("people", person), "service": ("services", 51)}
        relationships["task"] = ("tasks", task) if task else None
        sim.create(
            "time_entries",
            entry_id,
            relationships=relationships,
            date=day,
            time=minutes,
            billable_time=billable,
            note=f"Entry {entry_id}",
            approved=approved,
            rejected=rejected,
            invoiced=False,
        )
    for expense_id, approved, cents in ((81, True, 4250), (82, False, 999)):
        sim.create(
            "expenses",
            expense_id,
            relationships={"person": ("people", 21), "deal": ("deals", 41)},
            name=f"Taxi {expense_id}",
            date="2026-11-04",
            amount=cents,
            currency="EUR",
            approved=approved,
            reimbursable=True,
        )
    sim.create(
        "bookings",
        91,
        relationships={"person": ("people", 22), "service": ("services", 51), "event": None},
        started_on="2026-11-09",
        ended_on="2026-11-13",
        time=360,
        draft=True,
    )


class ProductiveMixin:
    @classmethod
    def start_productive(cls, **options):
        sim = ProductiveSimulator(token=TOKEN, organization_id=ORG, **options).start()
        cls.addClassCleanup(sim.stop)
        return sim

    @classmethod
    def create_productive_backend(cls, sim, code, **values):
        return cls._create_backend(
            code=code,
            adapter="productive_v2",
            base_url=sim.url,
            api_token=TOKEN,
            vendor_account=ORG,
            contact_email="ops@firm.example",
            page_size=2,
            approved_time_states="approved",
            **values,
        )


class TestProductiveAdapter(ProductiveMixin, SuiteTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_productive()
        cls.backend = cls.create_productive_backend(cls.sim, "productive-test")
        for name, email in (
            ("Peter Gibbons", "peter@firm.example"),
            ("Milton Waddams", "milton@firm.example"),
        ):
            cls.env["hr.employee"].create({"name": name, "work_email": email})

    def setUp(self):
        super().setUp()
        self.sim.reset()
        seed_productive(self.sim)

    def pull(self):
        self.backend.action_pull_now()
        return self.run_jobs()

    def lines(self):
        return self.env["account.analytic.line"].search(
            [("project_id", "in", self.bound("project", "31").ids)]
        )

    def test_full_pull_follows_included_relationships_and_every_page(self):
        self.pull()
        company = self.bound("customer", "11")
        self.assertEqual(
            (company.name, company.vat, company.ref), ("Initech", "GB123456789", "INI")
        )
        project = self.bound("project", "31")
        self.assertEqual(project.partner_id, company)
        self.assertEqual(project.account_id.code, "INI-TPS")
        task = self.bound("task", "61")
        self.assertEqual((task.project_id, task.allocated_hours), (project, 10.0))
        self.assertEqual(self.bound("task", "62").state, "1_done")

        # Approved entries only (71, 72); their project comes through service → deal.
        lines = self.lines()
        self.assertEqual(sorted(lines.mapped("unit_amount")), [0.75, 2.5])
        peter = self.env["hr.employee"].search([("work_email", "=", "peter@firm.example")])
        self.assertEqual(lines.filtered(lambda line: line.unit_amount == 2.5).employee_id, peter)
        self.assertEqual(lines.filtered(lambda line: line.unit_amount == 2.5).task_id, task)
        self.assertFalse(lines.filtered(lambda line: line.unit_amount == 0.75).psa_billable)
        for unapproved in ("73", "74", "75"):
            self.assertFalse(self.bound("time_entry", unapproved))
        expense = self.bound("expense", "81")
        self.assertEqual((expense.total_amount_currency, expense.employee_id), (42.5, peter))
        self.assertFalse(self.bound("expense", "82"))
        self.assertFalse(self.exceptions().filtered(lambda e: e.state == "open"))

        # JSON:API paging (size 2) to the last page, with Productive's headers.
        calls = [r for r in self.sim.requests if r["path"] == "/api/v2/time_entries"]
        self.assertEqual([r["query"]["page[number]"] for r in calls], ["1", "2", "3"])
        self.assertEqual(calls[0]["query"]["include"], "person,service.deal")
        headers = calls[0]["headers"]
        self.assertEqual(headers["X-Auth-Token"], TOKEN)
        self.assertEqual(headers["X-Organization-Id"], ORG)
        self.assertEqual(headers["Content-Type"], "application/vnd.api+json")

    def test_incremental_pull_filters_on_updated_at_and_follows_approval(self):
        self.pull()
        newest = max(e["attributes"]["updated_at"] for e in self.sim.store["time_entries"].values())
        self.sim.update("time_entries", 73, approved=True)
        self.sim.update("time_entries", 72, approved=False)
        self.sim.clear_log()
        self.pull()
        calls = [r for r in self.sim.requests if r["path"] == "/api/v2/time_entries"]
        # 75 (at the watermark, inclusive), 72 and 73: two pages of two.
        self.assertEqual(len(calls), 2)
        self.assertEqual({r["query"]["filter[updated_at][gt_eq]"] for r in calls}, {newest})
        self.assertEqual(sorted(self.lines().mapped("unit_amount")), [1.0, 2.5])

    def test_429_and_503_are_retried_and_a_bad_token_is_not(self):
        self.sim.add_fault(status=429, count=1, path="/api/v2/companies", retry_after=1)
        self.sim.add_fault(status=503, count=1, path="/api/v2/companies")
        adapter = self.backend._get_adapter()
        companies = [c for page in adapter.iter_changes("customer") for c in page]
        self.assertEqual([c["id"] for c in companies], ["11"])
        statuses = [r["status"] for r in self.sim.requests if r["path"] == "/api/v2/companies"]
        self.assertEqual(statuses, [429, 503, 200])
        self.backend.api_token = "revoked"
        with self.assertRaises(RemoteServiceError) as caught:
            list(self.backend._get_adapter().iter_changes("customer"))
        self.assertEqual((caught.exception.status, caught.exception.retryable), (401, False))

    def test_bookings_map_to_allocations(self):
        adapter = self.backend._get_adapter()
        [booking] = [b for page in adapter.iter_changes("allocation") for b in page]
        self.assertEqual(
            {k: booking[k] for k in ("employee_email", "project_id", "hours_per_day", "status")},
            {
                "employee_email": "milton@firm.example",
                "project_id": "31",
                "hours_per_day": 6.0,
                "status": "tentative",
            },
        )

    def test_payment_status_is_written_back_as_a_payment_once(self):
        self.sim.create("invoices", 1501, number="INV/2026/00031", amount=238000, currency="EUR")
        payload = {
            "number": "INV/2026/00031",
            "odoo_id": 7,
            "move_type": "out_invoice",
            "state": "posted",
            "payment_state": "paid",
            "currency": "EUR",
            "amount_total": 2380.0,
            "amount_residual": 0.0,
            "contract_ids": [],
        }
        self.sim.clear_log()
        self.backend._send_invoice_status(payload)
        self.backend._send_invoice_status(payload)
        posts = [r for r in self.sim.requests if r["method"] == "POST"]
        self.assertEqual(len(posts), 1)
        self.assertEqual(posts[0]["path"], "/api/v2/payments")
        self.assertEqual(posts[0]["headers"]["Content-Type"], "application/vnd.api+json")
        self.assertEqual(
            posts[0]["body"],
            {
                "data": {
                    "type": "payments",
                    "attributes": {
                        "amount": 238000,
                        "currency": "EUR",
                        "paid_on": datetime.now(UTC).date().isoformat(),
                        "note": "Payment recorded in Odoo on invoice INV/2026/00031",
                    },
                    "relationships": {"invoice": {"data": {"type": "invoices", "id": "1501"}}},
                }
            },
        )
        self.assertEqual(self.sim.get("invoices", 1501)["attributes"]["amount_unpaid"], 0)


class TestProductiveWebhooks(ProductiveMixin, SuiteHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_productive()
        seed_productive(cls.sim)
        cls.backend = cls.create_productive_backend(cls.sim, "prod-hook")
        cls.url = f"http://127.0.0.1:{config['http_port']}/psa/webhook/prod-hook/productive"
        cls.env["hr.employee"].create({"name": "Peter Gibbons", "work_email": "peter@firm.example"})

    def deliver(self, body, **kwargs):
        return self.sim.deliver_webhook(self.url, WEBHOOK_SECRET, body, **kwargs)

    def test_signed_webhooks_are_accepted_once_and_applied(self):
        for resource, record_id, include in (
            ("companies", 11, None),
            ("projects", 31, "project_manager"),
            ("tasks", 61, "assignee"),
            ("time_entries", 71, "person,service.deal"),
        ):
            status, answer = self.deliver(self.sim.document(resource, record_id, include))
            self.assertEqual(status, 202, answer)
        # The same delivery again (Productive retries): 200, nothing new.
        document = self.sim.document("time_entries", 71, "person,service.deal")
        status, answer = self.deliver(document)
        self.assertEqual((status, answer["message"]), (200, "duplicate: already received"))
        events = self.env["psa.event"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(len(events), 4)
        self.run_jobs()
        line = self.bound("time_entry", "71")
        self.assertEqual((line.unit_amount, line.project_id), (2.5, self.bound("project", "31")))
        # A later version of the record is a new event.
        self.sim.update("time_entries", 71, time=180)
        status, _answer = self.deliver(self.sim.document("time_entries", 71, "person,service.deal"))
        self.assertEqual(status, 202)
        self.run_jobs()
        self.assertEqual(self.bound("time_entry", "71").unit_amount, 3.0)

    def test_bad_signature_wrong_secret_and_stale_timestamp_are_401(self):
        body = json.dumps(self.sim.document("companies", 11)).encode()
        now = int(time.time())
        wrong = sign("not-the-secret", now, body)
        stale = now - self.backend.timestamp_tolerance - 60
        for kwargs in (
            {"signature": wrong},
            {"signature": ""},
            {"signature": f"t={now}, s=deadbeef"},
            {"timestamp": stale},
            {"signature": f"t={now}, s=ünïcode"},
        ):
            with self.subTest(**kwargs):
                status, _answer = self.deliver(body, **kwargs)
                self.assertEqual(status, 401)
        # A signature of another body does not carry over.
        other = sign(WEBHOOK_SECRET, now, body + b" ")
        self.assertEqual(self.deliver(body, signature=other)[0], 401)
        self.assertFalse(self.env["psa.event"].search([("backend_id", "=", self.backend.id)]))

    def test_unusable_signed_body_is_400_and_kept_in_the_exception_queue(self):
        for body, reason in (
            (b"{not json", "unusable productive webhook"),
            (json.dumps({"data": {"id": "1", "type": "invoices"}}).encode(), "not synchronised"),
        ):
            status, answer = self.deliver(body)
            self.assertEqual(status, 400, answer)
            exception = self.env["psa.exception"].search(
                [("backend_id", "=", self.backend.id)], order="id desc", limit=1
            )
            self.assertEqual(exception.category, "invalid_payload")
            self.assertEqual(exception.payload, body.decode())
            self.assertIn(reason, exception.name)

    def test_backend_shows_the_vendor_webhook_url(self):
        self.assertTrue(self.backend.webhook_url.endswith("/psa/webhook/prod-hook/productive"))

    def test_webhook_for_another_vendor_or_backend_is_404(self):
        body = self.sim.document("companies", 11)
        wrong_vendor = self.url.replace("/productive", "/harvest")
        status, _answer = self.sim.deliver_webhook(wrong_vendor, WEBHOOK_SECRET, body)
        self.assertEqual(status, 404)
