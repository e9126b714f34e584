"""The HubSpot simulator on its own (no Odoo): its v3 signer against the documented
algorithm computed here by hand, and its API's auth, search paging and 429."""

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from datetime import datetime

import pytest

from psa_simulator.vendors.hubspot import HubSpotSimulator, sign_v3, uri_for_signature

TOKEN = "pat-test"


@pytest.fixture
def sim():
    simulator = HubSpotSimulator(token=TOKEN).start()
    yield simulator
    simulator.stop()


def call(sim, method, path, body=None, token=TOKEN):
    request = urllib.request.Request(
        sim.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"null")


def test_signature_is_the_documented_hmac_of_method_uri_body_timestamp():
    secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    uri = "https://www.example.com/webhook_uri"
    body = b'[{"eventId":1,"objectId":123,"subscriptionType":"deal.creation"}]'
    stamp = 1564113600000
    source = b"POST" + uri.encode() + body + b"1564113600000"
    by_hand = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest())
    assert sign_v3(secret, "POST", uri, body, stamp) == by_hand.decode()
    assert sign_v3(secret, "POST", uri, body, stamp + 1) != by_hand.decode()


def test_uri_decoding_table():
    assert uri_for_signature("https://a.example/p?x=%3a%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B") == (
        "https://a.example/p?x=::/?@!$'()*,;"
    )
    # Not in HubSpot's table: kept encoded.
    assert uri_for_signature("https://a.example/p?x=%20%26%3D%23%25") == (
        "https://a.example/p?x=%20%26%3D%23%25"
    )


def test_bearer_auth_search_paging_and_rate_limit(sim):
    for number in range(3):
        sim.create("deals", 100 + number, dealname=f"Deal {number}", dealstage="closedwon")
    status, _headers, body = call(sim, "GET", "/crm/v3/objects/deals", token="wrong")
    assert (status, body["category"]) == (401, "INVALID_AUTHENTICATION")
    search = {"limit": 2, "sorts": [{"propertyName": "hs_lastmodifieddate"}]}
    status, _headers, page = call(sim, "POST", "/crm/v3/objects/deals/search", search)
    assert status == 200
    assert [r["id"] for r in page["results"]] == ["100", "101"]
    assert page["paging"]["next"]["after"] == "2"
    status, _headers, page = call(
        sim, "POST", "/crm/v3/objects/deals/search", {**search, "after": "2"}
    )
    assert [r["id"] for r in page["results"]] == ["102"]
    assert "paging" not in page
    newest = sim.get("deals", 102)["properties"]["hs_lastmodifieddate"]
    millis = str(int(datetime.fromisoformat(newest.replace("Z", "+00:00")).timestamp() * 1000))
    since = {
        **search,
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": millis}
                ]
            }
        ],
    }
    _status, _headers, page = call(sim, "POST", "/crm/v3/objects/deals/search", since)
    assert [r["id"] for r in page["results"]] == ["102"]
    status, _headers, body = call(
        sim, "POST", "/crm/v3/objects/deals/batch/read", {"inputs": [{"id": "100"}, {"id": "9"}]}
    )
    assert status == 207 and body["errors"][0]["context"]["ids"] == ["9"]
    sim.rate_limit = 1
    sim.clear_log()
    call(sim, "GET", "/crm/v3/objects/deals")
    status, headers, body = call(sim, "GET", "/crm/v3/objects/deals")
    assert (status, body["errorType"]) == (429, "RATE_LIMIT")
    assert int(headers["Retry-After"]) >= 1
