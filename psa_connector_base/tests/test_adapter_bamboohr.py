"""The BambooHR adapter against time-off requests in BambooHR's shape (fixtures/bamboohr)."""

from datetime import date, timedelta

from ..adapters.bamboohr import LEAVE_WINDOW_DAYS
from .adapter_common import AdapterFixtureCase, load_fixture


class TestBambooHrAdapterFixtures(AdapterFixtureCase):
    adapter_key = "bamboohr"
    base_url = "https://api.bamboohr.com/api/gateway.php/acme/v1"

    def test_time_off_requests_map_to_leaves(self):
        adapter, session = self.adapter(
            {
                "/api/gateway.php/acme/v1/time_off/requests": load_fixture(
                    "bamboohr", "time_off_requests.json"
                )
            },
            account_id="acme",
        )
        leaves = {leave["id"]: leave for leave in self.records(adapter.iter_changes("leave"))}
        self.assertEqual(
            leaves["1649"],
            {
                "id": "1649",
                "employee_id": "112",
                "date_from": "2022-12-14",
                "date_to": "2022-12-15",
                "leave_type": "vacation",
                "hours": 16.0,
                "state": "approved",
                "updated_at": "2022-12-22T00:00:02Z",
            },
        )
        # Days are not hours: the importer counts them from the dates.
        self.assertEqual((leaves["1650"]["state"], leaves["1650"]["hours"]), ("requested", None))
        _method, _path, params, _body = session.calls[0]
        today = date.today()
        self.assertEqual(
            params,
            {
                "start": str(today - timedelta(days=LEAVE_WINDOW_DAYS)),
                "end": str(today + timedelta(days=LEAVE_WINDOW_DAYS)),
                "status": "approved,denied,canceled,superseded",
            },
        )
        # The API key is the user name of Basic auth, the password ignored.
        self.assertEqual(session.auth, ("recorded-token", "x"))
