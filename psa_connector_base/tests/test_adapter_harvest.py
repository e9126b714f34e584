"""The Harvest adapter against Harvest's own published examples (fixtures/harvest)."""

from .adapter_common import AdapterFixtureCase, load_fixture

# Per time entry of Harvest's example: (task assignment, invoice number).
EXPECTED = {
    "636709355": ("155502709", None),
    "636708723": ("155505014", "1001"),
    "636708574": ("155505016", None),
    "636707831": ("155505015", "1001"),
}


class TestHarvestAdapterFixtures(AdapterFixtureCase):
    adapter_key = "harvest_v2"
    base_url = "https://api.harvestapp.com/v2"

    def pull_time_entries(self, entries_fixture):
        adapter, session = self.adapter(
            {
                "/v2/time_entries": load_fixture("harvest", entries_fixture),
                "/v2/task_assignments": load_fixture("harvest", "task_assignments.json"),
                "/v2/users": load_fixture("harvest", "users.json"),
            },
            account_id="123456",
        )
        entries = self.records(adapter.iter_changes("time_entry"))
        return {entry["id"]: entry for entry in entries}, session

    def test_documented_time_entries_map_to_canonical_entries(self):
        entries, session = self.pull_time_entries("time_entries.json")
        self.assertEqual(
            {i: (e["task_id"], e["invoice_ref"]) for i, e in entries.items()}, EXPECTED
        )
        entry = entries["636708723"]
        self.assertEqual(entry["project_id"], "14308069")
        self.assertEqual(entry["employee_id"], "harvest-user-1782959")
        self.assertEqual(entry["employee_email"], "kimallen@example.com")
        self.assertEqual((entry["date"], entry["hours"]), ("2017-03-01", 1.35))
        self.assertEqual(entry["description"], "Importing products")
        self.assertEqual(
            (entry["state"], entry["billed"], entry["locked"]), ("approved", True, True)
        )
        self.assertFalse(entries["636708574"]["billable"])
        # Each entry named its task assignment: no need to list them.
        self.assertNotIn("/v2/task_assignments", session.paths())

    def test_a_list_without_task_assignment_and_invoice_maps_the_same_tasks(self):
        """One version of Harvest's docs: the list carries no task_assignment,
        user_assignment nor invoice. The task comes from the entry's project and task
        (Graphic Design is assigned on two projects: the project decides)."""
        with_fields, _session = self.pull_time_entries("time_entries.json")
        entries, session = self.pull_time_entries("time_entries_list_without_assignments.json")
        self.assertEqual(
            {i: e["task_id"] for i, e in entries.items()},
            {i: task for i, (task, _invoice) in EXPECTED.items()},
        )
        # The invoice number is unknown then; that it is billed still comes through.
        self.assertEqual({e["invoice_ref"] for e in entries.values()}, {None})
        self.assertEqual(
            {i: e["billed"] for i, e in entries.items()},
            {i: e["billed"] for i, e in with_fields.items()},
        )
        # The assignments are listed once for the whole pull, archived ones included.
        self.assertEqual(session.paths().count("/v2/task_assignments"), 1)
        query = next(c[2] for c in session.calls if c[1] == "/v2/task_assignments")
        self.assertNotIn("is_active", query)

    def test_an_entry_whose_task_has_no_assignment_lands_without_a_task(self):
        body = load_fixture("harvest", "time_entries_list_without_assignments.json")
        body["time_entries"][0]["task"] = {"id": 999, "name": "Gone"}
        adapter, _session = self.adapter(
            {
                "/v2/time_entries": body,
                "/v2/task_assignments": load_fixture("harvest", "task_assignments.json"),
                "/v2/users": load_fixture("harvest", "users.json"),
            }
        )
        entries = {e["id"]: e for e in self.records(adapter.iter_changes("time_entry"))}
        self.assertIsNone(entries["636709355"]["task_id"])
        self.assertEqual(entries["636708723"]["task_id"], "155505014")

    def test_requests_follow_the_documented_list_parameters(self):
        _entries, session = self.pull_time_entries("time_entries.json")
        method, path, params, _body = session.calls[0]
        self.assertEqual((method, path), ("GET", "/v2/time_entries"))
        self.assertEqual(params, {"per_page": 100})
        adapter, session = self.adapter(
            {
                "/v2/time_entries": load_fixture("harvest", "time_entries.json"),
                "/v2/users": load_fixture("harvest", "users.json"),
            }
        )
        list(adapter.iter_changes("time_entry", since="2017-06-27T16:00:00.123456+00:00"))
        self.assertEqual(session.calls[0][2]["updated_since"], "2017-06-27T16:00:00Z")
        list(adapter.iter_time_entries("2017-03-01", "2017-03-02", {"approved"}))
        from_to = next(c[2] for c in reversed(session.calls) if c[1] == "/v2/time_entries")
        self.assertEqual((from_to["from"], from_to["to"]), ("2017-03-01", "2017-03-02"))
