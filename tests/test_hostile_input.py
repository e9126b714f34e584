"""Bad and hostile input at the webhook endpoint: never a 500, never lost, never run.

Property-based (hypothesis, bounded and derandomised for CI): whatever the body, a signed
request is answered 202/200 (stored as an event) or 400 (kept in the exception queue with
its raw payload); an unsigned, badly signed, stale or misaddressed one is refused before
anything is stored. Accepted hostile events are then processed: each ends applied,
skipped, waiting or failed with an exception carrying the payload, and SQL- or
script-looking text is stored as text.
"""

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.addons.psa_connector_base.tests.common import WEBHOOK_SECRET, customer_data
from odoo.addons.psa_connector_base.tools.codec import decode_raw_body
from odoo.addons.psa_connector_base.tools.signature import sign

from harness.streams import HOSTILE_STRINGS

from .common import SuiteHttpCase

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

OBJECT_TYPES = ["customer", "contact", "project", "task", "time_entry", "billing_event"]
FIELDS = [
    "id",
    "name",
    "code",
    "customer_id",
    "project_id",
    "task_id",
    "employee_id",
    "employee_email",
    "date",
    "hours",
    "state",
    "vat",
    "email",
    "country_code",
    "version",
    "updated_at",
    "description",
    "is_company",
    "kind",
    "contract_id",
    "amount",
]

text = st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE_STRINGS))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
records = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=10)
envelopes = st.fixed_dictionaries(
    {
        "id": st.one_of(text, st.integers(), json_values),
        "type": st.one_of(
            st.builds(
                "{}.{}".format,
                st.sampled_from(OBJECT_TYPES),
                st.sampled_from(["created", "updated", "deleted"]),
            ),
            text,
            json_values,
        ),
        "occurred_at": st.one_of(
            st.just("2026-11-20T10:00:00Z"), text, st.datetimes().map(str), json_values
        ),
        "data": st.one_of(records, json_values),
    },
    optional={"extra": json_values},
)
bodies = st.one_of(
    envelopes.map(lambda e: json.dumps(e).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    envelopes.map(lambda e: json.dumps(e).encode()[: len(json.dumps(e)) // 2]),
)


class TestHostileWebhooks(SuiteHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls._create_backend(code="hostile", max_body_bytes=64 * 1024)

    def post(self, raw, code="hostile", timestamp=None, signature=None, secret=WEBHOOK_SECRET):
        timestamp = str(int(time.time())) if timestamp is None else timestamp
        headers = {"Content-Type": "application/json", "X-PSA-Timestamp": timestamp}
        if signature is None:
            signature = sign(secret, timestamp, raw)
        if signature is not False:
            headers["X-PSA-Signature"] = signature
        # A POST even for an empty body (url_open would send a GET).
        return self.opener.post(
            f"{self.base_url()}/psa/webhook/{code}", data=raw, headers=headers, timeout=30
        )

    def counts(self):
        domain = [("backend_id", "=", self.backend.id)]
        return (
            self.env["psa.event"].search_count(domain),
            self.env["psa.exception"].search_count(domain),
        )

    def assert_kept(self, raw, response):
        """The answer to a signed body, and where the body went."""
        self.assertIn(response.status_code, (200, 202, 400), response.text)
        if response.status_code == 400:
            exception = self.env["psa.exception"].search(
                [("backend_id", "=", self.backend.id), ("category", "=", "invalid_payload")],
                limit=1,
            )
            self.assertEqual(exception.payload, decode_raw_body(raw))
            return None
        event_uid = response.json()["event"]
        event = self.env["psa.event"].search(
            [("backend_id", "=", self.backend.id), ("event_uid", "=", event_uid)]
        )
        self.assertEqual(len(event), 1)
        if response.status_code == 202:
            self.assertEqual(event.payload, decode_raw_body(raw))
        return event

    @FUZZ
    @given(raw=bodies)
    def test_any_signed_body_is_stored_or_kept_never_a_500(self, raw):
        response = self.post(raw)
        self.assert_kept(raw, response)

    @FUZZ
    @given(envelope=envelopes.filter(lambda e: isinstance(e["data"], dict)))
    def test_accepted_hostile_events_are_applied_or_raised_with_their_payload(self, envelope):
        envelope = {**envelope, "occurred_at": "2026-11-20T10:00:00Z"}
        if not isinstance(envelope["type"], str) or len(envelope["type"]) > 100:
            envelope["type"] = "customer.created"
        if not isinstance(envelope["id"], str | int):
            envelope["id"] = json.dumps(envelope["id"])[:50]
        raw = json.dumps(envelope).encode()
        event = self.assert_kept(raw, self.post(raw))
        if event is None:
            return
        self.run_jobs(methods=("_process_job",))
        event.invalidate_recordset()
        self.assertIn(event.state, ("done", "skipped", "failed", "waiting"), event.result)
        if event.state in ("failed", "waiting"):
            self.assertEqual(event.exception_ids[:1].payload, event.payload)
        failures = self.env["psa.exception"].search(
            [("backend_id", "=", self.backend.id), ("category", "=", "job_failure")]
        )
        self.assertFalse(failures, failures.mapped("name"))

    @FUZZ
    @given(
        raw=bodies,
        how=st.sampled_from(
            [
                "no signature",
                "wrong secret",
                "garbage signature",
                "stale",
                "future",
                "no ts",
                "unknown backend",
                "replayed signature",
            ]
        ),
        garbage=st.text(max_size=80),
    )
    def test_unsigned_stale_or_misaddressed_requests_are_refused_before_storage(
        self, raw, how, garbage
    ):
        before = self.counts()
        now = int(time.time())
        if how == "no signature":
            response = self.post(raw, signature=False)
        elif how == "wrong secret":
            response = self.post(raw, secret="not-the-secret")
        elif how == "garbage signature":
            response = self.post(raw, signature="sha256=" + garbage.encode().hex()[:64] or "x")
        elif how == "stale":
            response = self.post(raw, timestamp=str(now - 3600))
        elif how == "future":
            response = self.post(raw, timestamp=str(now + 3600))
        elif how == "no ts":
            response = self.post(raw, timestamp="", signature=sign(WEBHOOK_SECRET, "", raw))
        elif how == "unknown backend":
            response = self.post(raw, code="no-such-backend")
        else:
            # A signature captured from another request, replayed with this body.
            response = self.post(raw, signature=sign(WEBHOOK_SECRET, str(now), raw + b" "))
        expected = 404 if how == "unknown backend" else 401
        self.assertEqual(response.status_code, expected, (how, response.text))
        self.assertEqual(self.counts(), before)

    def test_huge_and_deeply_nested_bodies(self):
        huge = json.dumps({"id": "h", "data": {"x": "a" * (70 * 1024)}}).encode()
        response = self.post(huge)
        self.assertEqual(response.status_code, 413)
        self.assertEqual(self.counts(), (0, 0))
        deep = b'{"id": "d", "type": "customer.created", "data": ' + b"[" * 50_000 + b"]" * 50_000
        deep += b"}"
        deep = deep[: 60 * 1024]
        response = self.post(deep)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.counts(), (0, 1))

    def test_sql_and_script_strings_in_every_text_field_are_stored_as_text(self):
        for number, hostile in enumerate(HOSTILE_STRINGS):
            data = customer_data(
                id=f"C-h{number}",
                name=hostile[:200],
                ref=hostile[:50],
                street=hostile,
                city=hostile[:60],
                email=None,
                vat=None,
            )
            raw = json.dumps(
                {
                    "id": f"evt-h{number}",
                    "type": "customer.created",
                    "occurred_at": "2026-11-20T10:00:00Z",
                    "data": data,
                },
                ensure_ascii=number % 2 == 0,
            ).encode()
            self.assertEqual(self.post(raw).status_code, 202)
        self.run_jobs(methods=("_process_job",))
        for number, hostile in enumerate(HOSTILE_STRINGS):
            partner = self.bound("customer", f"C-h{number}")
            self.assertTrue(partner, hostile)
            self.assertEqual(partner.street, hostile)
            self.assertEqual(partner.name, hostile[:200].strip() or partner.name)
        # The tables the SQL-looking strings name are intact.
        self.env.cr.execute(
            "SELECT count(*) FROM psa_event WHERE backend_id = %s", [self.backend.id]
        )
        self.assertEqual(self.env.cr.fetchone()[0], len(HOSTILE_STRINGS))
