"""The BambooHR adapter against a BambooHR stand-in over real HTTP, data landing in Odoo."""

import base64
import json
import time
from datetime import date, timedelta

from odoo.tests import tagged

from odoo.addons.psa_connector_base.adapters.bamboohr import BambooHrAdapter
from odoo.addons.psa_connector_base.tests.common import API_TOKEN, WEBHOOK_SECRET
from odoo.addons.psa_connector_base.tools.errors import RemoteServiceError

from psa_simulator.vendors.bamboohr import BambooHrSimulator, signed_webhook

from .common import SuiteHttpCase, SuiteTransactionCase

NEXT_MONDAY = date.today() + timedelta(days=7 - date.today().weekday())


def seed(sim):
    sim.add_department(18, "Delivery")
    sim.add_department(19, "Finance")
    sim.add_employee(
        "4",
        "2026-01-05T09:00:00+00:00",
        firstName="Charlotte",
        lastName="Abbott",
        workEmail="cabbott@acme.example",
        jobTitle="Head of Delivery",
        department="Delivery",
        hireDate="2019-04-01",
        terminationDate="0000-00-00",
        status="Active",
        payRate={"value": "83200.00", "currency": "EUR"},
        payPer="Year",
        standardHoursPerWeek="40",
    )
    sim.add_employee(
        "5",
        "2026-01-06T10:30:00+00:00",
        firstName="Ashley",
        preferredName="Ash",
        lastName="Adams",
        workEmail="aadams@acme.example",
        jobTitle="Consultant",
        department="Delivery",
        supervisorEId="4",
        hireDate="2021-09-13",
        terminationDate="0000-00-00",
        status="Active",
        payRate={"value": "55.50", "currency": "EUR"},
        payPer="Hour",
    )
    sim.add_employee(
        "6",
        "2026-01-07T08:00:00+00:00",
        firstName="Cheryl",
        lastName="Barnet",
        workEmail="cbarnet@acme.example",
        jobTitle="Controller",
        department="Finance",
        supervisorEId="4",
        hireDate="2020-02-03",
        terminationDate="0000-00-00",
        status="Active",
    )
    sim.add_time_off(
        "1001",
        "5",
        str(NEXT_MONDAY),
        str(NEXT_MONDAY + timedelta(days=2)),
        "approved",
        "2026-01-08",
        amount="24",
    )


class BambooHrMixin:
    @classmethod
    def setup_bamboohr(cls, code):
        cls.sim = BambooHrSimulator(api_key=API_TOKEN, company="acme").start()
        cls.addClassCleanup(cls.sim.stop)
        cls.backend = cls._create_backend(
            code=code,
            name="BambooHR",
            kind="hr",
            adapter="bamboohr",
            vendor_account="acme",
            base_url=cls.sim.base_url,
        )
        cls.backend.company_id.currency_id = cls.env.ref("base.EUR")

    def setUp(self):
        super().setUp()
        for store in (
            self.sim.departments,
            self.sim.employees,
            self.sim.changes,
            self.sim.time_off,
        ):
            store.clear()
        self.sim.clear_faults()
        self.sim.clear_log()
        seed(self.sim)

    def pull(self):
        self.backend.action_pull_now()
        return self.run_jobs()


@tagged("post_install", "-at_install")
class TestBambooHrPull(BambooHrMixin, SuiteTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_bamboohr("bamboo-pull")

    def test_full_pull_lands_departments_employees_costs_managers_and_leave(self):
        self.pull()
        delivery = self.bound("department", "18")
        self.assertEqual(delivery.name, "Delivery")
        self.assertEqual(self.bound("department", "19").name, "Finance")
        head, ash, cheryl = (self.bound("employee", i) for i in ("4", "5", "6"))
        self.assertEqual(head.name, "Charlotte Abbott")
        self.assertEqual(ash.name, "Ash Adams")  # the preferred name wins
        self.assertEqual(ash.work_email, "aadams@acme.example")
        self.assertEqual(ash.job_title, "Consultant")
        self.assertEqual(ash.department_id, delivery)
        self.assertEqual(cheryl.department_id.name, "Finance")
        self.assertEqual(ash.parent_id, head)
        self.assertEqual(cheryl.parent_id, head)
        # Hourly pay as is; 83,200 a year over 52 weeks of 40 h = 40.00 an hour.
        self.assertAlmostEqual(ash.hourly_cost, 55.5)
        self.assertAlmostEqual(head.hourly_cost, 40.0)
        leave = self.bound("leave", "1001")
        self.assertEqual(leave.employee_id, ash)
        self.assertEqual(leave.state, "validate")
        self.assertEqual(leave.request_date_from, NEXT_MONDAY)
        self.assertEqual(leave.request_date_to, NEXT_MONDAY + timedelta(days=2))
        # The documented calls: a custom report with the fields the directory lacks,
        # the API key as Basic-auth user with password "x".
        report = self.sim.calls("POST", "/reports/custom")
        self.assertEqual(len(report), 1)
        self.assertEqual(report[0]["query"]["format"], "JSON")
        fields = report[0]["body"]["fields"]
        for field in ("department", "supervisorEId", "payRate", "payPer", "workEmail"):
            self.assertIn(field, fields)
        auth = base64.b64decode(report[0]["headers"]["Authorization"].split()[1]).decode()
        self.assertEqual(auth, f"{API_TOKEN}:x")
        time_off = self.sim.calls("GET", "/time_off/requests")[0]["query"]
        self.assertIn("approved", time_off["status"].split(","))

    def test_incremental_pull_asks_what_changed_since_the_watermark(self):
        self.pull()
        self.sim.clear_log()
        self.sim.update_employee("5", "2026-02-01T12:00:00+00:00", jobTitle="Senior Consultant")
        self.sim.delete_employee("6", "2026-02-02T12:00:00+00:00")
        self.sim.time_off["1001"]["status"].update(status="canceled", lastChanged="2026-02-03")
        self.pull()
        changed = self.sim.calls("GET", "/employees/changed")
        self.assertEqual(len(changed), 1)
        # Inclusive watermark: the newest lastChanged of the first pull.
        self.assertEqual(changed[0]["query"]["since"], "2026-01-07T08:00:00Z")
        self.assertEqual(self.bound("employee", "5").job_title, "Senior Consultant")
        cheryl = (
            self.env["hr.employee"]
            .with_context(active_test=False)
            .search([("work_email", "=", "cbarnet@acme.example")])
        )
        self.assertFalse(cheryl.active, "an employee deleted in BambooHR is archived")
        self.assertEqual(self.bound("leave", "1001").state, "cancel")
        # Nothing changed since: a third pull stores no event.
        events = self.env["psa.event"].search_count([("object_type", "=", "employee")])
        self.pull()
        self.assertEqual(
            self.env["psa.event"].search_count([("object_type", "=", "employee")]), events
        )

    def test_throttling_503_today_and_429_with_retry_after_are_both_retried(self):
        self.sim.throttle(503, count=1)
        self.sim.throttle(429, count=1, retry_after=1)
        adapter = self.backend._get_adapter()
        started = time.monotonic()
        records = [r for page in adapter.iter_changes("employee") for r in page]
        self.assertEqual(sorted(r["id"] for r in records), ["4", "5", "6"])
        self.assertGreaterEqual(time.monotonic() - started, 1.0, "Retry-After was honoured")
        statuses = [c["status"] for c in self.sim.calls(path_part="/reports/custom")]
        self.assertEqual(statuses, [503, 429, 200])

    def test_throttling_that_outlasts_the_retries_leaves_an_exception_and_no_data(self):
        self.sim.throttle(503, count=50)
        with self.assertRaises(RemoteServiceError) as caught:
            list(self.backend._get_adapter().iter_changes("employee"))
        self.assertTrue(caught.exception.retryable)
        self.assertEqual(len(self.sim.calls(path_part="/reports/custom")), 3)

    def test_a_wrong_api_key_is_refused_and_not_retried(self):
        self.sim.api_key = "another-key"
        try:
            with self.assertRaises(RemoteServiceError) as caught:
                list(self.backend._get_adapter().iter_changes("employee"))
            self.assertFalse(caught.exception.retryable)
            self.assertEqual(caught.exception.status, 401)
            self.assertEqual(len(self.sim.calls(path_part="/reports/custom")), 1)
        finally:
            self.sim.api_key = API_TOKEN


@tagged("post_install", "-at_install")
class TestBambooHrWebhook(BambooHrMixin, SuiteHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_bamboohr("bamboo-hook")

    def post(self, employees, timestamp=None, secret=WEBHOOK_SECRET, tamper=False):
        headers, raw = signed_webhook(secret, employees, timestamp)
        if tamper:
            raw = raw.replace(b"Senior", b"Junior")
        return self.url_open(
            f"/psa/webhook/{self.backend.code}/bamboohr", data=raw, headers=headers
        )

    def events(self):
        return self.env["psa.event"].search([("backend_id", "=", self.backend.id)])

    def change(self, employee_id="5", title="Senior Consultant"):
        return {
            "id": employee_id,
            "action": "Updated",
            "timestamp": "2026-02-01T12:00:00+00:00",
            "changedFields": ["Job Title"],
            # An admin may rename posted fields: these are not our field names.
            "fields": {"Job Title": title, "First Name": "Ash"},
        }

    def test_signed_webhook_is_accepted_and_applied_from_a_fresh_read(self):
        self.pull()
        self.sim.update_employee("5", "2026-02-01T12:00:00+00:00", jobTitle="Senior Consultant")
        response = self.post([self.change()])
        self.assertEqual(response.status_code, 202, response.text)
        event = self.events().filtered(lambda e: e.source == "webhook")
        self.assertEqual(event.event_type, "employee.refresh")
        self.assertEqual(
            json.loads(event.payload)["data"]["webhook_fields"]["Job Title"], "Senior Consultant"
        )
        self.sim.clear_log()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "done", event.result)
        ash = self.bound("employee", "5")
        self.assertEqual(ash.job_title, "Senior Consultant")
        # Fields the webhook did not carry are kept, not blanked.
        self.assertEqual(ash.work_email, "aadams@acme.example")
        self.assertEqual(ash.parent_id, self.bound("employee", "4"))
        self.assertEqual(len(self.sim.calls("GET", "/employees/5")), 1)
        # BambooHR re-delivers with a new timestamp and signature: a duplicate.
        again = self.post([self.change()], timestamp=int(time.time()) + 1)
        self.assertEqual(again.status_code, 200, again.text)
        self.assertIn("duplicate", again.json()["message"])
        self.assertEqual(len(self.events().filtered(lambda e: e.source == "webhook")), 1)

    def test_bad_signature_wrong_key_and_stale_timestamp_are_refused(self):
        for kwargs in (
            {"tamper": True},
            {"secret": "not-the-private-key"},
            {"timestamp": int(time.time()) - 3600},
            {"timestamp": int(time.time()) + 3600},
        ):
            with self.subTest(**kwargs):
                response = self.post([self.change()], **kwargs)
                self.assertEqual(response.status_code, 401, response.text)
        response = self.url_open(
            f"/psa/webhook/{self.backend.code}/bamboohr",
            data=json.dumps({"employees": [self.change()]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 401)
        self.assertFalse(self.events())

    def test_deleted_employee_webhook_archives_without_a_fetch(self):
        self.pull()
        self.sim.clear_log()
        response = self.post(
            [
                {
                    "id": "6",
                    "action": "Deleted",
                    "timestamp": "2026-02-02T12:00:00+00:00",
                    "changedFields": [],
                    "fields": {},
                }
            ]
        )
        self.assertEqual(response.status_code, 202, response.text)
        self.run_jobs(methods=("_process_job",))
        cheryl = (
            self.env["hr.employee"]
            .with_context(active_test=False)
            .search([("work_email", "=", "cbarnet@acme.example")])
        )
        self.assertFalse(cheryl.active)
        self.assertFalse(self.sim.calls("GET", "/employees/6"))

    def test_unusable_body_is_kept_in_the_exception_queue(self):
        headers, _raw = signed_webhook(WEBHOOK_SECRET, [])
        raw = json.dumps({"employee": "4"}).encode()
        headers["X-BambooHR-Signature"] = BambooHrAdapter.signature(
            WEBHOOK_SECRET, raw, headers["X-BambooHR-Timestamp"]
        )
        response = self.url_open(
            f"/psa/webhook/{self.backend.code}/bamboohr", data=raw, headers=headers
        )
        self.assertEqual(response.status_code, 400, response.text)
        exception = self.env["psa.exception"].search(
            [("backend_id", "=", self.backend.id)], limit=1
        )
        self.assertIn('"employee"', exception.payload)

    def test_vendor_route_refuses_other_vendors(self):
        headers, raw = signed_webhook(WEBHOOK_SECRET, [self.change()])
        response = self.url_open(
            f"/psa/webhook/{self.backend.code}/float", data=raw, headers=headers
        )
        self.assertEqual(response.status_code, 404)
