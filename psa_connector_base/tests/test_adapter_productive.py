"""The Productive.io adapter against a recorded JSON:API list (fixtures/productive)."""

from .adapter_common import AdapterFixtureCase, load_fixture


class TestProductiveAdapterFixtures(AdapterFixtureCase):
    adapter_key = "productive_v2"
    base_url = "https://api.productive.io/api/v2"

    def test_documented_time_entries_map_through_included_service_and_deal(self):
        adapter, session = self.adapter(
            {"/api/v2/time_entries": load_fixture("productive", "time_entries.json")},
            account_id="42",
        )
        entries = {e["id"]: e for e in self.records(adapter.iter_changes("time_entry"))}
        entry = entries["262"]
        self.assertEqual(entry["project_id"], "401")  # service -> deal -> project
        self.assertEqual(entry["task_id"], "801")
        self.assertEqual(entry["employee_id"], "productive-person-501")
        self.assertEqual(entry["employee_email"], "ada@example.com")
        self.assertEqual((entry["date"], entry["hours"]), ("2016-10-01", 8.0))  # minutes
        self.assertEqual((entry["description"], entry["billable"]), ("test note", True))
        self.assertEqual((entry["state"], entry["billed"]), ("submitted", False))
        approved = entries["263"]
        self.assertEqual((approved["state"], approved["locked"]), ("approved", True))
        self.assertIsNone(approved["task_id"])
        self.assertEqual((approved["hours"], approved["billable"]), (1.5, False))
        # The documented list parameters: page[number]/page[size], include, sort.
        _method, path, params, _body = session.calls[0]
        self.assertEqual(path, "/api/v2/time_entries")
        self.assertEqual(params["include"], "person,service.deal")
        self.assertEqual((params["page[number]"], params["sort"]), (1, "updated_at"))
        self.assertEqual(session.headers["X-Organization-Id"], "42")

    def test_reconciliation_asks_the_documented_date_filters(self):
        adapter, session = self.adapter(
            {"/api/v2/time_entries": load_fixture("productive", "time_entries.json")}
        )
        entries = self.records(adapter.iter_time_entries("2016-10-01", "2016-10-31", {"approved"}))
        self.assertEqual([e["id"] for e in entries], ["263"])
        params = session.calls[0][2]
        self.assertEqual(
            (params["filter[after]"], params["filter[before]"]), ("2016-10-01", "2016-10-31")
        )
