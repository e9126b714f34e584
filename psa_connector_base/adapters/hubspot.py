"""HubSpot CRM API v3 (https://developers.hubspot.com/docs/api/crm), a CRM backend.

Authentication is a private app's access token (``Authorization: Bearer``). Deals,
companies and contacts are CRM objects:

- ``POST /crm/v3/objects/deals/search`` with a ``hs_lastmodifieddate`` ``GTE`` filter,
  sorted ascending, paged with ``after`` (``paging.next.after``; at most 200 a page and
  10,000 results a search) makes the pull incremental;
- ``POST /crm/v3/objects/deals/batch/read`` / ``GET /crm/v3/objects/deals/<id>`` with
  ``associations=companies,contacts`` read the deals a webhook named;
- ``POST /crm/v3/objects/companies/batch/read`` and ``.../contacts/batch/read`` read the
  associated companies and contacts (at most 100 ids a call);
- ``POST /crm/v3/objects/companies/batch/update`` writes account health (custom company
  properties ``psa_*``) in batches of 100.

HubSpot answers 429 with ``Retry-After`` above its limits; the base adapter honours it.

Webhooks (app subscriptions ``deal.creation``, ``deal.propertyChange``,
``deal.associationChange``, ``deal.deletion``) are JSON arrays of events naming a deal
by ``objectId``, signed ``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(app secret,
method + URI + body + ``X-HubSpot-Request-Timestamp``)), the timestamp in milliseconds,
refused when older than five minutes. The URI is the full URL HubSpot called, with the
percent-encoded characters of HubSpot's table decoded (:func:`signed_uri`). Each event
becomes a ``deal.refresh``: the deal is read afresh with its company and contacts.

Mapping (ids are HubSpot's, as strings): company → customer, contact → contact (of
the deal's company), deal → deal, carrying its customer and contacts.
"""

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime

from ..tools.errors import RemoteServiceError
from ..tools.versions import parse_timestamp
from .base import HttpAdapter

DEAL_PROPERTIES = (
    "dealname",
    "amount",
    "dealstage",
    "pipeline",
    "closedate",
    "deal_currency_code",
    "description",
    "hs_lastmodifieddate",
    "createdate",
    "psa_engagement_template",
    "psa_engagement_start_date",
)
COMPANY_PROPERTIES = (
    "name",
    "domain",
    "phone",
    "address",
    "city",
    "zip",
    "country",
    "hs_lastmodifieddate",
    "createdate",
)
CONTACT_PROPERTIES = (
    "firstname",
    "lastname",
    "email",
    "phone",
    "jobtitle",
    "lastmodifieddate",
    "createdate",
)
SEARCH_PAGE_MAX = 200
BATCH_MAX = 100
# HubSpot's table of the percent-encoded characters it decodes in the URI it signs
# ("Validate the v3 request signature"); every other escape stays as sent.
SIGNED_URI_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
MAX_SIGNATURE_AGE_MS = 5 * 60 * 1000
HEALTH_PROPERTIES = {
    "status": "psa_account_health",
    "open_receivable": "psa_open_receivable",
    "overdue_receivable": "psa_overdue_receivable",
    "dso": "psa_dso",
    "currency": "psa_receivable_currency",
    "as_of": "psa_account_health_as_of",
}


def signed_uri(uri):
    """The URI as HubSpot signs it: the escapes of its table decoded, the rest kept."""
    return _ESCAPE.sub(lambda m: SIGNED_URI_DECODED.get(m.group(0).upper(), m.group(0)), uri)


def signature_v3(secret, method, uri, raw_body, timestamp):
    """``X-HubSpot-Signature-v3`` of a request: base64 HMAC-SHA256 of method + URI +
    body + timestamp (UTF-8) with the app secret."""
    source = method.upper().encode() + signed_uri(uri).encode() + raw_body + str(timestamp).encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


class HubSpotAdapter(HttpAdapter):
    name = "hubspot_v3"
    label = "HubSpot CRM API v3"
    object_types = ("deal",)
    webhook_vendor = "hubspot"
    # The controller passes the request's method and URL (HubSpot signs them).
    webhook_signs_request = True

    @classmethod
    def default_base_url(cls, account_id):
        return "https://api.hubapi.com"

    def _default_headers(self):
        headers = super()._default_headers()
        headers["Authorization"] = f"Bearer {self.config.token}"
        headers["Content-Type"] = "application/json"
        return headers

    # Reading ----------------------------------------------------------------------------

    def test_connection(self):
        body = self.request("GET", "crm/v3/objects/deals", params={"limit": 1}) or {}
        count = len(body.get("results") or [])
        return f"HubSpot account {self.config.account_id or ''} reachable ({count} deal read)"

    def iter_changes(self, object_type, since=None):
        if object_type != "deal":
            return
        body = {
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": list(DEAL_PROPERTIES),
            "limit": min(max(self.config.page_size, 1), SEARCH_PAGE_MAX),
        }
        if since:
            moment = parse_timestamp(since)
            millis = int(moment.timestamp() * 1000) if moment else since
            body["filterGroups"] = [
                {
                    "filters": [
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GTE",
                            "value": str(millis),
                        }
                    ]
                }
            ]
        while True:
            page = self.request("POST", "crm/v3/objects/deals/search", json=body) or {}
            results = page.get("results") or []
            if results:
                # Search results carry no associations: one batch read gives them.
                deals = self._read_deals([r["id"] for r in results])
                yield [self._map_deal(deal) for deal in deals]
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
            body = {**body, "after": after}

    def fetch_record(self, object_type, external_id):
        if object_type != "deal":
            raise RemoteServiceError(
                f"HubSpot cannot fetch a single {object_type!r}.", retryable=False
            )
        deals = self._read_deals([str(external_id)])
        return self._map_deal(deals[0]) if deals else None

    def _read_deals(self, ids):
        deals = []
        for chunk in _chunks(ids, BATCH_MAX):
            try:
                body = self.request(
                    "POST",
                    "crm/v3/objects/deals/batch/read",
                    json={
                        "properties": list(DEAL_PROPERTIES),
                        "inputs": [{"id": str(i)} for i in chunk],
                    },
                )
            except RemoteServiceError as err:
                if err.status == 404:
                    continue
                raise
            found = {str(d["id"]): d for d in (body or {}).get("results") or []}
            deals.extend(found[str(i)] for i in chunk if str(i) in found)
        associations = self._associations("deals", [d["id"] for d in deals])
        company_ids = sorted({c for a in associations.values() for c in a["companies"][:1]})
        contact_ids = sorted({c for a in associations.values() for c in a["contacts"]})
        companies = self._batch_read("companies", company_ids, COMPANY_PROPERTIES)
        contacts = self._batch_read("contacts", contact_ids, CONTACT_PROPERTIES)
        for deal in deals:
            links = associations.get(str(deal["id"])) or {"companies": [], "contacts": []}
            deal["_company"] = next(
                (companies[c] for c in links["companies"] if c in companies), None
            )
            deal["_contacts"] = [contacts[c] for c in links["contacts"] if c in contacts]
        return deals

    def _associations(self, from_type, ids):
        """{deal id: {"companies": [...], "contacts": [...]}} (associations API v4 batch)."""
        result = {str(i): {"companies": [], "contacts": []} for i in ids}
        for to_type in ("companies", "contacts"):
            for chunk in _chunks(list(result), BATCH_MAX):
                body = self.request(
                    "POST",
                    f"crm/v4/associations/{from_type}/{to_type}/batch/read",
                    json={"inputs": [{"id": i} for i in chunk]},
                )
                for row in (body or {}).get("results") or []:
                    source = str((row.get("from") or {}).get("id"))
                    if source in result:
                        result[source][to_type] = [
                            str(target["toObjectId"]) for target in row.get("to") or []
                        ]
        return result

    def _batch_read(self, object_name, ids, properties):
        found = {}
        for chunk in _chunks(ids, BATCH_MAX):
            body = self.request(
                "POST",
                f"crm/v3/objects/{object_name}/batch/read",
                json={"properties": list(properties), "inputs": [{"id": i} for i in chunk]},
            )
            for row in (body or {}).get("results") or []:
                found[str(row["id"])] = row
        return found

    # Mapping ----------------------------------------------------------------------------

    def _map_deal(self, raw):
        props = raw.get("properties") or {}
        company = raw.get("_company")
        customer = _map_company(company) if company else None
        contacts = (
            [_map_contact(contact, customer["id"]) for contact in raw.get("_contacts") or []]
            if customer
            else []
        )
        amount = props.get("amount")
        return {
            "id": str(raw["id"]),
            "name": props.get("dealname") or f"HubSpot deal {raw['id']}",
            "stage": props.get("dealstage") or None,
            "pipeline": props.get("pipeline") or None,
            "amount": float(amount) if amount not in (None, "") else None,
            "currency": props.get("deal_currency_code") or None,
            "close_date": (props.get("closedate") or "")[:10] or None,
            "description": props.get("description") or None,
            "engagement_template": props.get("psa_engagement_template") or None,
            "engagement_start_date": (props.get("psa_engagement_start_date") or "")[:10] or None,
            "customer_id": customer["id"] if customer else None,
            "customer": customer,
            "contacts": contacts,
            "updated_at": _iso(raw.get("updatedAt") or props.get("hs_lastmodifieddate")),
            "created_at": _iso(raw.get("createdAt") or props.get("createdate")),
        }

    # Writing ----------------------------------------------------------------------------

    def write_back(self, object_type, external_id, odoo_refs):
        # The binding in Odoo is the link; HubSpot keeps no foreign key for it.
        return None

    def push_account_health(self, rows):
        """Account health of each customer as properties of its HubSpot company."""
        inputs = []
        for row in rows:
            if not row.get("customer_id"):
                continue
            properties = {}
            for key, prop in HEALTH_PROPERTIES.items():
                if row.get(key) is not None:
                    value = row[key]
                    properties[prop] = str(round(value, 2) if isinstance(value, float) else value)
            inputs.append({"id": str(row["customer_id"]), "properties": properties})
        updated = []
        for chunk in _chunks(inputs, BATCH_MAX):
            body = self.request(
                "POST", "crm/v3/objects/companies/batch/update", json={"inputs": chunk}
            )
            updated.extend(str(r.get("id")) for r in (body or {}).get("results") or [])
        return {"updated": updated}

    # Webhooks ---------------------------------------------------------------------------

    @classmethod
    def verify_webhook(cls, secret, headers, raw_body, now, tolerance, method="POST", urls=()):
        """``urls``: the URL(s) the request may have been sent to (behind a proxy, the
        public one and the one Odoo sees). HubSpot's own replay window is five minutes."""
        signature = (headers.get("X-HubSpot-Signature-v3") or "").strip()
        timestamp = (headers.get("X-HubSpot-Request-Timestamp") or "").strip()
        if not (secret and signature and timestamp.isdigit() and urls):
            return False
        window_ms = min(MAX_SIGNATURE_AGE_MS, int(tolerance * 1000))
        if abs(now * 1000 - int(timestamp)) > window_ms:
            return False
        given = signature.encode("utf-8", "replace")
        return any(
            hmac.compare_digest(
                signature_v3(secret, method, url, raw_body, timestamp).encode(), given
            )
            for url in urls
        )

    @classmethod
    def webhook_envelopes(cls, payload):
        if isinstance(payload, dict):
            payload = [payload]
        if not isinstance(payload, list) or not payload:
            raise ValueError("a HubSpot webhook body is a non-empty array of events")
        envelopes = []
        for event in payload:
            if not isinstance(event, dict):
                raise ValueError("every HubSpot webhook event is an object")
            subscription = str(event.get("subscriptionType") or "")
            object_name, _dot, change = subscription.partition(".")
            if object_name != "deal":
                raise ValueError(f"HubSpot subscription {subscription!r} is not synchronised")
            object_id, event_id = event.get("objectId"), event.get("eventId")
            if object_id in (None, "") or event_id in (None, ""):
                raise ValueError("a HubSpot event needs an objectId and an eventId")
            occurred = event.get("occurredAt")
            if not isinstance(occurred, int | float):
                raise ValueError("a HubSpot event needs occurredAt (milliseconds)")
            stamp = datetime.fromtimestamp(occurred / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            deleted = change == "deletion"
            envelopes.append(
                {
                    # HubSpot's eventId is stable across its retries of one event.
                    "id": f"hubspot:{event.get('portalId')}:{event_id}",
                    "type": "deal.deleted" if deleted else "deal.refresh",
                    "occurred_at": stamp,
                    "data": {"id": str(object_id), "subscription": subscription}
                    | ({"deleted": True, "updated_at": stamp} if deleted else {}),
                }
            )
        return envelopes


def _map_company(raw):
    props = raw.get("properties") or {}
    domain = props.get("domain") or None
    return {
        "id": str(raw["id"]),
        "name": props.get("name") or domain or f"HubSpot company {raw['id']}",
        "is_company": True,
        "website": domain,
        "phone": props.get("phone") or None,
        "street": props.get("address") or None,
        "city": props.get("city") or None,
        "zip": props.get("zip") or None,
        "updated_at": _iso(raw.get("updatedAt") or props.get("hs_lastmodifieddate")),
    }


def _map_contact(raw, customer_id):
    props = raw.get("properties") or {}
    name = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p)
    return {
        "id": str(raw["id"]),
        "customer_id": customer_id,
        "name": name or props.get("email") or f"HubSpot contact {raw['id']}",
        "email": props.get("email") or None,
        "phone": props.get("phone") or None,
        "job_title": props.get("jobtitle") or None,
        "updated_at": _iso(raw.get("updatedAt") or props.get("lastmodifieddate")),
    }


def _iso(value):
    """HubSpot's timestamps (ISO 8601 with milliseconds, or epoch ms) as ISO 8601 UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) or str(value).isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    moment = parse_timestamp(str(value))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def _chunks(items, size):
    items = list(items)
    return [items[i : i + size] for i in range(0, len(items), size)]
