"""The Float adapter against a Float API v3 stand-in over real HTTP, data landing in Odoo."""

from datetime import date

from odoo.tests import tagged

from odoo.addons.psa_connector_base.tests.common import API_TOKEN
from odoo.addons.psa_connector_forecast.tests.common import MONDAY, ForecastCase

from psa_simulator.vendors.float import FloatSimulator

from .common import SuiteTagsMixin

PLACEHOLDER = 99  # the Float person Odoo's actuals are logged under


def seed(sim):
    sim.add(
        "people",
        people_id=11,
        name="Anna",
        email="anna@consultancy.example",
        active=1,
        modified="2026-10-01 08:00:00",
    )
    sim.add(
        "people",
        people_id=12,
        name="Ben",
        email="ben@consultancy.example",
        active=1,
        modified="2026-10-01 08:00:00",
    )
    sim.add(
        "projects",
        project_id=2,
        name="ERP rollout",
        project_code="P-1",
        active=1,
        modified="2026-10-01 08:00:00",
    )
    sim.add(
        "projects",
        project_id=3,
        name="BI platform",
        project_code="P-2",
        active=1,
        modified="2026-10-01 08:00:00",
    )
    sim.add(
        "tasks",
        task_id=100,
        people_id=11,
        project_id=2,
        name="Build",
        start_date="2026-11-02",
        end_date="2026-11-06",
        hours=6,
        status=2,
        repeat_state=0,
        modified="2026-10-02 09:00:00",
    )
    # Mondays and Tuesdays, every week until 16 November: three occurrences.
    sim.add(
        "tasks",
        task_id=101,
        people_id=12,
        project_id=3,
        name="Reporting",
        start_date="2026-11-02",
        end_date="2026-11-03",
        hours=4,
        status=1,
        repeat_state=1,
        repeat_end_date="2026-11-16",
        modified="2026-10-03 09:00:00",
    )
    sim.add(
        "tasks",
        task_id=102,
        people_ids=[11, 12],
        project_id=2,
        name="Workshop",
        start_date="2026-11-20",
        end_date="2026-11-20",
        hours=8,
        status=2,
        repeat_state=0,
        modified="2026-10-04 09:00:00",
    )


@tagged("post_install", "-at_install")
class TestFloat(SuiteTagsMixin, ForecastCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = FloatSimulator(token=API_TOKEN).start()
        cls.addClassCleanup(cls.sim.stop)
        cls.float = cls._create_backend(
            code="float-test",
            name="Float",
            kind="forecast",
            adapter="float_v3",
            base_url=cls.sim.base_url,
            contact_email="ops@consultancy.example",
            vendor_account=str(PLACEHOLDER),
            page_size=2,
        )
        # Only the Float backend receives actuals in these tests.
        cls.forecast.active = False

    def setUp(self):
        super().setUp()
        self.sim.clear()
        self.sim.clear_faults()
        self.sim.clear_log()
        seed(self.sim)

    def pull(self):
        self.float.action_pull_now()
        return self.run_jobs()

    def allocations(self):
        return self.env["psa.allocation"].search(
            [("employee_id", "in", self.employees.ids)], order="date_from, employee_id"
        )

    def test_full_pull_expands_repeats_and_follows_pages_to_the_end(self):
        self.pull()
        rows = [
            (
                a.employee_id.name,
                a.project_id.name,
                str(a.date_from),
                str(a.date_to),
                a.hours_per_day,
                a.status,
            )
            for a in self.allocations()
        ]
        self.assertEqual(
            rows,
            [
                ("Anna", self.project.name, "2026-11-02", "2026-11-06", 6.0, "confirmed"),
                ("Ben", self.project_2.name, "2026-11-02", "2026-11-03", 4.0, "tentative"),
                ("Ben", self.project_2.name, "2026-11-09", "2026-11-10", 4.0, "tentative"),
                ("Ben", self.project_2.name, "2026-11-16", "2026-11-17", 4.0, "tentative"),
                ("Anna", self.project.name, "2026-11-20", "2026-11-20", 8.0, "confirmed"),
                ("Ben", self.project.name, "2026-11-20", "2026-11-20", 8.0, "confirmed"),
            ],
        )
        task_pages = [c["query"] for c in self.sim.calls("GET", "/v3/tasks")]
        self.assertEqual([q["page"] for q in task_pages], ["1", "2"])
        self.assertEqual({q["per-page"] for q in task_pages}, {"2"})
        call = self.sim.calls("GET", "/v3/tasks")[0]
        self.assertEqual(call["headers"]["Authorization"], f"Bearer {API_TOKEN}")
        self.assertIn("ops@consultancy.example", call["headers"]["User-Agent"])

    def test_incremental_pull_sends_modified_since_and_applies_the_change(self):
        self.pull()
        self.sim.clear_log()
        self.sim.store["tasks"][100].update(hours=3, modified="2026-10-10 12:00:00")
        self.pull()
        query = self.sim.calls("GET", "/v3/tasks")[0]["query"]
        self.assertEqual(query["modified_since"], "2026-10-04 09:00:00")
        anna = self.allocations().filtered(
            lambda a: a.employee_id == self.anna
            and a.project_id == self.project
            and str(a.date_from) == "2026-11-02"
        )
        self.assertEqual(anna.hours_per_day, 3.0)

    def test_429_with_retry_after_is_retried(self):
        self.sim.add_fault(429, count=1, retry_after=1, path="/v3/people")
        records = [r for page in self.float._get_adapter().iter_changes("employee") for r in page]
        self.assertEqual(
            [r["work_email"] for r in records],
            ["anna@consultancy.example", "ben@consultancy.example"],
        )
        self.assertEqual([c["status"] for c in self.sim.calls("GET", "/v3/people")], [429, 200])

    def test_actuals_are_logged_as_float_time_and_replaced_not_duplicated(self):
        billable = self.add_time(self.anna, self.project, MONDAY, 5.0)
        other = self.add_time(self.ben, self.project, date(2026, 11, 17), 2.0, billable=False)
        self.env["psa.forecast.push"]._states_for_all(self.float)._push()
        posts = [c["body"] for c in self.sim.calls("POST", "/v3/logged-time")]
        expected = {
            "people_id": PLACEHOLDER,
            "project_id": 2,
            "date": str(MONDAY),
            "notes": "Odoo actuals 2026-W47",
        }
        self.assertEqual(
            sorted(posts, key=lambda b: b["billable"]),
            [{**expected, "hours": 2.0, "billable": 0}, {**expected, "hours": 5.0, "billable": 1}],
        )
        # Same figures again: nothing written. Changed figures: replaced in place.
        self.sim.clear_log()
        self.env["psa.forecast.push"]._states_for_all(self.float)._push()
        self.assertFalse([c for c in self.sim.requests if c["method"] != "GET"])
        billable.unit_amount = 6.0
        other.unlink()
        self.env["psa.forecast.push"]._states_for_all(self.float)._push()
        logged = self.sim.records("logged-time")
        self.assertEqual([(e["hours"], e["billable"]) for e in logged], [(6.0, 1)])
        self.assertEqual(len(self.sim.calls("PATCH", "/v3/logged-time/")), 1)
        self.assertEqual(len(self.sim.calls("DELETE", "/v3/logged-time/")), 1)
        self.assertFalse(self.sim.calls("POST", "/v3/logged-time"))
