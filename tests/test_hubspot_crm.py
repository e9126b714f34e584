"""HubSpot as a CRM backend (adapter hubspot_v3): v3-signed deal webhooks, the
incremental deal pull, won deals as won Odoo opportunities, account health pushed back."""

import base64
import hashlib
import hmac
import json
import time

from odoo.exceptions import AccessError
from odoo.tools import config

from odoo.addons.psa_connector_base.adapters.hubspot import (
    HubSpotAdapter,
    signature_v3,
    signed_uri,
)
from odoo.addons.psa_connector_base.tests.common import API_TOKEN, WEBHOOK_SECRET

from psa_simulator import PsaSimulator
from psa_simulator.vendors.hubspot import HubSpotSimulator, sign_v3, uri_for_signature

from .common import SuiteHttpCase, SuiteTransactionCase

TOKEN = "pat-na1-test"


def seed_hubspot(sim):
    """A company with two contacts and two deals: 501 won, 502 still in a pipeline stage."""
    sim.create("companies", 301, name="Initech GmbH", domain="initech.example", city="Berlin")
    sim.create(
        "contacts",
        401,
        firstname="Bill",
        lastname="Lumbergh",
        email="bill@initech.example",
        jobtitle="VP",
    )
    sim.create(
        "contacts", 402, firstname="Peter", lastname="Gibbons", email="peter@initech.example"
    )
    sim.create(
        "deals",
        501,
        dealname="Initech ERP rollout",
        amount="48000.50",
        dealstage="closedwon",
        pipeline="default",
        closedate="2026-11-30T00:00:00.000Z",
    )
    sim.create("deals", 502, dealname="Initech audit", amount="9000", dealstage="qualifiedtobuy")
    sim.associate(501, company_id=301, contact_ids=(401, 402))
    sim.associate(502, company_id=301, contact_ids=(402,))


class HubSpotMixin:
    @classmethod
    def start_hubspot(cls, **options):
        sim = HubSpotSimulator(token=TOKEN, **options).start()
        cls.addClassCleanup(sim.stop)
        return sim

    @classmethod
    def create_hubspot_backend(cls, sim, code, **values):
        return cls._create_backend(
            name="HubSpot",
            code=code,
            kind="crm",
            adapter="hubspot_v3",
            base_url=sim.url,
            api_token=TOKEN,
            page_size=1,
            **values,
        )

    def opportunities(self):
        return self.env["crm.lead"].search(
            [("partner_id", "in", self.bound("customer", "301").ids)]
        )


class TestHubSpotSignature(SuiteTransactionCase):
    """The adapter's check against the simulator's signer (written separately from the
    docs) and a vector computed here by hand from the documented algorithm."""

    def test_documented_algorithm_by_hand(self):
        secret, uri = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", "https://www.example.com/webhook_uri"
        body, stamp = b'[{"eventId":1}]', 1700000000000
        source = ("POST" + uri + body.decode() + str(stamp)).encode()
        expected = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest())
        self.assertEqual(sign_v3(secret, "POST", uri, body, stamp), expected.decode())
        self.assertEqual(signature_v3(secret, "POST", uri, body, stamp), expected.decode())

    def test_uri_decoding_follows_the_documented_table(self):
        raw = "https://x.example/hook?a=%3A%2f%3F%40%21%24%27%28%29%2A%2C%3B&b=%20%26%3D%23"
        decoded = "https://x.example/hook?a=:/?@!$'()*,;&b=%20%26%3D%23"
        self.assertEqual(uri_for_signature(raw), decoded)
        self.assertEqual(signed_uri(raw), decoded)
        stamp = int(time.time() * 1000)
        body = b"[]"
        # HubSpot signs the decoded URI: a receiver seeing the encoded one must verify.
        header = sign_v3(WEBHOOK_SECRET, "POST", raw, body, stamp)
        manual = base64.b64encode(
            hmac.new(
                WEBHOOK_SECRET.encode(), f"POST{decoded}[]{stamp}".encode(), hashlib.sha256
            ).digest()
        ).decode()
        self.assertEqual(header, manual)
        headers = {"X-HubSpot-Signature-v3": header, "X-HubSpot-Request-Timestamp": str(stamp)}
        verify = HubSpotAdapter.verify_webhook
        self.assertTrue(verify(WEBHOOK_SECRET, headers, body, time.time(), 300, urls=[raw]))
        # %20 is not in the table: signing it decoded is another URI.
        other = raw.replace("%20", " ")
        self.assertFalse(verify(WEBHOOK_SECRET, headers, body, time.time(), 300, urls=[other]))

    def test_bad_stale_and_future_signatures_are_refused(self):
        url, body = "https://odoo.example/psa/webhook/hs/hubspot", b"[]"
        now = time.time()
        stamp = int(now * 1000)
        good = sign_v3(WEBHOOK_SECRET, "POST", url, body, stamp)
        verify = HubSpotAdapter.verify_webhook

        def check(signature, timestamp, tolerance=3600, **kw):
            headers = {
                "X-HubSpot-Signature-v3": signature,
                "X-HubSpot-Request-Timestamp": str(timestamp),
            }
            return verify(WEBHOOK_SECRET, headers, kw.get("body", body), now, tolerance, urls=[url])

        self.assertTrue(check(good, stamp))
        self.assertFalse(check(good, stamp, body=b"[ ]"))
        self.assertFalse(check(sign_v3("other", "POST", url, body, stamp), stamp))
        self.assertFalse(check("", stamp))
        self.assertFalse(check("ünïcode", stamp))
        # Five minutes and one second old: refused even when the backend allows more.
        old = stamp - 301_000
        self.assertFalse(check(sign_v3(WEBHOOK_SECRET, "POST", url, body, old), old))
        self.assertFalse(check(good, "not-a-number"))


class TestHubSpotPull(HubSpotMixin, SuiteTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_hubspot()
        cls.backend = cls.create_hubspot_backend(cls.sim, "hs-pull")

    def setUp(self):
        super().setUp()
        self.sim.reset()
        seed_hubspot(self.sim)

    def pull(self):
        self.backend.action_pull_now()
        return self.run_jobs()

    def test_pull_makes_the_won_deal_a_won_opportunity_with_company_and_contacts(self):
        self.assertEqual(self.backend._pull_object_types(), ["deal"])
        self.pull()
        lead = self.bound("deal", "501")
        self.assertEqual(lead.type, "opportunity")
        self.assertTrue(lead.stage_id.is_won)
        self.assertEqual(lead.probability, 100)
        self.assertEqual(lead.expected_revenue, 48000.50)
        self.assertEqual(str(lead.date_deadline), "2026-11-30")
        company = self.bound("customer", "301")
        self.assertEqual((lead.partner_id, company.name), (company, "Initech GmbH"))
        self.assertTrue(company.is_company)
        contacts = self.bound("contact", "401") | self.bound("contact", "402")
        self.assertEqual(sorted(contacts.mapped("name")), ["Bill Lumbergh", "Peter Gibbons"])
        self.assertEqual(contacts.parent_id, company)
        self.assertEqual(lead.email_from, "bill@initech.example")
        # Jobs run as the integration user, not as the superuser.
        self.assertEqual(lead.create_uid, self.backend.company_id._psa_integration_user())
        # The deal still in a pipeline stage created nothing.
        self.assertFalse(self.bound("deal", "502"))
        self.assertEqual(len(self.opportunities()), 1)
        skipped = self.env["psa.event"].search(
            [("backend_id", "=", self.backend.id), ("external_id", "=", "502")]
        )
        self.assertEqual(skipped.state, "skipped")
        # Search with the documented body, paged one deal at a time (page_size 1).
        searches = self.sim.calls("POST", "/deals/search")
        self.assertEqual(len(searches), 2)
        self.assertEqual(searches[1]["body"]["after"], "1")
        self.assertEqual(searches[0]["headers"]["Authorization"], f"Bearer {TOKEN}")

    def test_incremental_pull_and_a_later_win(self):
        self.pull()
        watermark = self.env["psa.sync.watermark"]._for(self.backend, "deal")
        self.assertTrue(watermark.last_updated_at)
        self.sim.clear_log()
        self.pull()
        body = self.sim.calls("POST", "/deals/search")[0]["body"]
        (condition,) = body["filterGroups"][0]["filters"]
        self.assertEqual(
            (condition["propertyName"], condition["operator"]), ("hs_lastmodifieddate", "GTE")
        )
        self.assertEqual(len(self.opportunities()), 1)
        # The second deal is won later: it becomes a second won opportunity.
        self.sim.update("deals", 502, dealstage="closedwon")
        self.pull()
        self.assertTrue(self.bound("deal", "502").stage_id.is_won)
        self.assertEqual(len(self.opportunities()), 2)

    def test_configured_won_stages(self):
        self.backend.crm_won_stages = "contractsigned, closedwon_enterprise"
        self.pull()
        self.assertFalse(self.bound("deal", "501"))
        self.sim.update("deals", 502, dealstage="contractsigned")
        self.pull()
        self.assertTrue(self.bound("deal", "502").stage_id.is_won)

    def test_rate_limit_is_retried(self):
        self.sim.add_fault(429, count=1, path="/crm/v3/objects/deals/search", retry_after=0)
        self.pull()
        self.assertTrue(self.bound("deal", "501").stage_id.is_won)

    def test_account_health_is_pushed_as_company_properties(self):
        self.pull()
        adapter = self.backend._get_adapter()
        result = adapter.push_account_health(
            [
                {
                    "customer_id": "301",
                    "status": "watch",
                    "open_receivable": 12000.0,
                    "overdue_receivable": 4500.25,
                    "dso": 41.5,
                    "currency": "EUR",
                    "as_of": "2026-11-30",
                }
            ]
        )
        self.assertEqual(result, {"updated": ["301"]})
        (call,) = self.sim.calls("POST", "/companies/batch/update")
        self.assertEqual(call["body"]["inputs"][0]["id"], "301")
        props = self.sim.get("companies", 301)["properties"]
        self.assertEqual(props["psa_account_health"], "watch")
        self.assertEqual(props["psa_overdue_receivable"], "4500.25")
        self.assertEqual(props["psa_dso"], "41.5")
        self.assertEqual(props["psa_account_health_as_of"], "2026-11-30")


class TestHubSpotWebhooks(HubSpotMixin, SuiteHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = cls.start_hubspot()
        seed_hubspot(cls.sim)
        cls.backend = cls.create_hubspot_backend(cls.sim, "hs-hook")
        cls.url = f"http://127.0.0.1:{config['http_port']}/psa/webhook/hs-hook/hubspot"
        # The PSA the won deal's engagement is created on, and the template the deal names.
        cls.psa_sim = PsaSimulator(token=API_TOKEN, seed=False).start()
        cls.addClassCleanup(cls.psa_sim.stop)
        cls.psa = cls._create_backend(
            code="hs-psa", name="Demo PSA", base_url=cls.psa_sim.url, max_attempts=1
        )
        cls.template = cls.env["psa.engagement.template"].create(
            {
                "name": "Fixed-fee standard",
                "code": "TM-STD",
                "backend_id": cls.psa.id,
                "contract_type": "fixed_fee",
                "fixed_amount": 18000.0,
            }
        )
        cls.sim.update(
            "deals",
            501,
            psa_engagement_template="TM-STD",
            psa_engagement_start_date="2026-12-01",
        )

    def setUp(self):
        super().setUp()
        self.psa_sim.reset()  # each test counts the engagements it creates

    def deliver(self, body, **kwargs):
        return self.sim.deliver_webhook(self.url, WEBHOOK_SECRET, body, **kwargs)

    def test_webhook_and_pull_of_one_won_deal_give_one_opportunity(self):
        event = self.sim.deal_event(501)
        status, answer = self.deliver([event])
        self.assertEqual(status, 202, answer)
        # HubSpot retries the same event: 200, nothing new.
        status, answer = self.deliver([event])
        self.assertEqual((status, answer["message"]), (200, "duplicate: already received"))
        self.run_jobs()
        lead = self.bound("deal", "501")
        self.assertTrue(lead.stage_id.is_won)
        self.assertEqual(lead.partner_id, self.bound("customer", "301"))
        # The scheduled pull brings the same deal: still one opportunity.
        self.backend.action_pull_now()
        self.run_jobs()
        self.assertEqual(self.bound("deal", "501"), lead)
        self.assertEqual(len(self.opportunities()), 1)
        self.assertEqual(
            self.env["psa.binding"].search_count(
                [("backend_id", "=", self.backend.id), ("external_type", "=", "deal")]
            ),
            1,
        )
        # One engagement: the template and start date from the deal's properties, and
        # one engagement job queued for the opportunity, whichever delivery came first.
        self.assertEqual(lead.psa_engagement_template_id, self.template)
        self.assertEqual(str(lead.psa_engagement_start_date), "2026-12-01")
        jobs = self.env["queue.job"].search([("method_name", "=", "_psa_engagement_job")])
        self.assertEqual(len(jobs), 1)
        self.assertEqual(jobs.records.ids, lead.ids)
        # ... which created exactly one engagement on the PSA: one customer (HubSpot's
        # company, created there), one project and one contract, bound in Odoo.
        self.assertEqual(lead.psa_engagement_state, "created")
        projects = self.psa_sim.records("projects")
        contracts = self.psa_sim.records("contracts")
        self.assertEqual((len(projects), len(contracts)), (1, 1))
        self.assertEqual(len(self.psa_sim.records("customers")), 1)
        self.assertEqual(lead.psa_engagement_external_id, projects[0]["id"])
        self.assertEqual(contracts[0]["project_id"], projects[0]["id"])
        self.assertEqual(lead.psa_project_id.partner_id, lead.partner_id)
        self.assertFalse(self.env["psa.exception"].search([]))
        self.assertTrue(lead.psa_sale_order_id)

    def test_unknown_engagement_template_is_an_exception_not_a_guess(self):
        self.sim.update("deals", 502, dealstage="closedwon", psa_engagement_template="NOPE")
        try:
            status, _answer = self.deliver([self.sim.deal_event(502)])
            self.assertEqual(status, 202)
            self.run_jobs()
        finally:
            self.sim.update("deals", 502, dealstage="qualifiedtobuy", psa_engagement_template="")
        self.assertFalse(self.bound("deal", "502"))
        exception = self.exceptions().filtered(lambda e: "NOPE" in (e.name or ""))
        self.assertEqual(len(exception), 1)

    def test_the_simulator_sends_a_signed_webhook_when_a_deal_is_won(self):
        self.sim.subscribe(self.url, WEBHOOK_SECRET)
        try:
            self.sim.update("deals", 502, dealstage="closedwon")
            self.sim.subscribe(None, None)
            ((deal_id, subscription, status, answer),) = self.sim.deliveries
            self.assertEqual((deal_id, subscription, status), ("502", "deal.propertyChange", 202))
            self.assertEqual(len(answer["events"]), 1)
            self.run_jobs()
            self.assertTrue(self.bound("deal", "502").stage_id.is_won)
        finally:
            self.sim.subscribe(None, None)
            self.sim.deliveries.clear()
            self.sim.update("deals", 502, dealstage="qualifiedtobuy")

    def test_a_deal_not_won_does_not_become_won(self):
        status, _answer = self.deliver([self.sim.deal_event(502)])
        self.assertEqual(status, 202)
        self.run_jobs()
        self.assertFalse(self.bound("deal", "502"))
        self.assertFalse(
            self.env["crm.lead"]
            .search([("name", "=", "Initech audit")])
            .filtered(lambda lead: lead.stage_id.is_won)
        )

    def test_url_with_encoded_characters_verifies(self):
        url = self.url + "?source=hub%3Aspot%2Cdeals"
        status, answer = self.sim.deliver_webhook(url, WEBHOOK_SECRET, [self.sim.deal_event(502)])
        self.assertEqual(status, 202, answer)

    def test_bad_signature_stale_timestamp_and_wrong_url_are_401(self):
        body = json.dumps([self.sim.deal_event(501)]).encode()
        now = int(time.time() * 1000)
        stale = now - 6 * 60 * 1000
        for kwargs in (
            {"signature": sign_v3("not-the-secret", "POST", self.url, body, now)},
            {"signature": ""},
            {"signature": "ünïcode"},
            {"timestamp": stale},
            {"signed_url": self.url.replace("hs-hook", "other")},
        ):
            with self.subTest(**{k: str(v)[:20] for k, v in kwargs.items()}):
                status, _answer = self.deliver(body, **kwargs)
                self.assertEqual(status, 401)
        self.assertFalse(self.env["psa.event"].search([("backend_id", "=", self.backend.id)]))

    def test_odd_signed_bodies_are_400_and_kept(self):
        for body, reason in (
            (b"{not json", "unusable hubspot webhook"),
            (b"[]", "non-empty array"),
            (
                json.dumps([{"subscriptionType": "contact.creation", "objectId": 1}]).encode(),
                "not synchronised",
            ),
            (
                json.dumps([{"subscriptionType": "deal.creation", "eventId": 9}]).encode(),
                "objectId",
            ),
        ):
            status, answer = self.deliver(body)
            self.assertEqual(status, 400, answer)
            exception = self.env["psa.exception"].search(
                [("backend_id", "=", self.backend.id)], order="id desc", limit=1
            )
            self.assertEqual(exception.category, "invalid_payload")
            self.assertEqual(exception.payload, body.decode())
            self.assertIn(reason, exception.name)

    def test_rights(self):
        """The route is public but only signed bodies get in; the settings are the
        connector managers'; a salesman sees the won opportunity, not the backend."""
        self.assertTrue(self.backend.webhook_url.endswith("/psa/webhook/hs-hook/hubspot"))
        salesman = self.env["res.users"].create(
            {
                "name": "Sally Sales",
                "login": "sally-hubspot",
                "groups_id": [
                    (6, 0, [self.env.ref("sales_team.group_sale_salesman_all_leads").id])
                ],
            }
        )
        self.assertFalse(self.env["psa.backend"].with_user(salesman).has_access("read"))
        with self.assertRaises(AccessError):
            self.backend.with_user(salesman).write({"crm_won_stages": "appointmentscheduled"})
        self.deliver([self.sim.deal_event(501)])
        self.run_jobs()
        lead = self.bound("deal", "501")
        self.assertTrue(lead.with_user(salesman).stage_id.is_won)
