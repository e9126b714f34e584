"""The Float adapter against Float's published person example (fixtures/float)."""

from ..adapters.float import LIMITS, RateLimiter
from .adapter_common import AdapterFixtureCase, load_fixture


class TestFloatAdapterFixtures(AdapterFixtureCase):
    adapter_key = "float_v3"
    base_url = "https://api.float.com/v3"

    def test_the_published_person_maps_to_an_employee(self):
        adapter, session = self.adapter({"/v3/people": load_fixture("float", "people.json")})
        [employee] = self.records(adapter.iter_changes("employee", since="2017-02-01T00:00:00Z"))
        self.assertEqual(
            employee,
            {
                "id": "float:311815",
                "name": "Sarah-Jane Smith",
                "work_email": "sjsmith@float.com",
                "job_title": "Designer",
                "department_id": "float:12433",
                "start_date": None,
                "end_date": None,
                "status": "active",
                "updated_at": None,
            },
        )
        _method, path, params, _body = session.calls[0]
        self.assertEqual(path, "/v3/people")
        self.assertEqual(
            params, {"page": 1, "per-page": 100, "modified_since": "2017-02-01 00:00:00"}
        )

    def test_rate_limiter_keeps_to_the_published_minute_and_second_limits(self):
        self.assertEqual(LIMITS["GET"][0], (200, 60.0))
        self.assertEqual(LIMITS["WRITE"][0], (100, 60.0))
        now = [0.0]
        slept = []

        def sleep(seconds):
            slept.append(round(seconds, 3))
            now[0] += seconds

        limiter = RateLimiter(
            {"GET": ((3, 60.0), (2, 1.0)), "WRITE": ((1, 60.0),)},
            clock=lambda: now[0],
            sleep=sleep,
        )
        for _ in range(4):
            limiter.acquire("GET")
        # Two in the first second, the third a second later, the fourth when the minute
        # of the first one is over.
        self.assertEqual(slept, [1.0, 59.0])
        limiter.acquire("POST")  # writes have a budget of their own
        self.assertEqual(slept, [1.0, 59.0])
