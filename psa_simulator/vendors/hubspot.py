"""A loopback HubSpot CRM API v3, faithful to its documented behaviour.

- ``Authorization: Bearer <private app token>`` on every call: 401
  ``INVALID_AUTHENTICATION`` otherwise.
- CRM objects (deals, companies, contacts): ``{"id", "properties", "createdAt",
  "updatedAt", "archived"}``; ``GET /crm/v3/objects/<type>`` (``limit``, ``after``,
  ``paging.next.after``), ``GET /crm/v3/objects/<type>/<id>``,
  ``POST /crm/v3/objects/<type>/search`` (``filterGroups`` on ``hs_lastmodifieddate``
  with ``GTE``/``GT``/``LTE``/``EQ`` in epoch milliseconds, ``sorts``, ``limit`` up to 200,
  ``after``), ``POST .../batch/read`` (at most 100 inputs; 207 with ``errors`` for ids
  not found), ``POST /crm/v3/objects/companies/batch/update``.
- ``POST /crm/v4/associations/<from>/<to>/batch/read``: each input's associated ids.
- A configurable rate limit answered 429 ``RATE_LIMIT`` with ``Retry-After``; faults.
- :meth:`subscribe` makes every later deal creation or change post a webhook, as an
  app's ``deal.creation`` / ``deal.propertyChange`` subscriptions do;
  :meth:`deliver_webhook` posts an array of webhook events signed as HubSpot signs them
  (``X-HubSpot-Signature-v3``, ``X-HubSpot-Request-Timestamp`` in milliseconds); the
  signing code here is written from HubSpot's documentation, separately from the
  connector's adapter, so each checks the other.
"""

import base64
import copy
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from datetime import datetime

from .vendor_http import VendorError, VendorSimulator

OBJECTS = ("deals", "companies", "contacts")
MODIFIED = {"deals": "hs_lastmodifieddate", "companies": "hs_lastmodifieddate"}
SEARCH_MAX = 200
BATCH_MAX = 100
# HubSpot's documentation: "Decode any URL-encoded characters listed in the following
# table" before building the v3 source string.
DECODED_IN_SIGNED_URI = (
    ("%3A", ":"),
    ("%2F", "/"),
    ("%3F", "?"),
    ("%40", "@"),
    ("%21", "!"),
    ("%24", "$"),
    ("%27", "'"),
    ("%28", "("),
    ("%29", ")"),
    ("%2A", "*"),
    ("%2C", ","),
    ("%3B", ";"),
)


def uri_for_signature(uri):
    """``uri`` with the escapes of HubSpot's table decoded (in either hex case)."""
    out, i = [], 0
    table = dict(DECODED_IN_SIGNED_URI)
    while i < len(uri):
        chunk = uri[i : i + 3]
        if chunk[:1] == "%" and chunk.upper() in table:
            out.append(table[chunk.upper()])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def sign_v3(secret, method, uri, body, timestamp_ms):
    """``X-HubSpot-Signature-v3``: base64(HMAC-SHA256(client secret, UTF-8 of
    method + URI + body + timestamp))."""
    source = f"{method}{uri_for_signature(uri)}{body.decode('utf-8')}{timestamp_ms}"
    digest = hmac.new(secret.encode("utf-8"), source.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _error(status, message, category):
    return VendorError(
        status,
        {"status": "error", "message": message, "category": category, "correlationId": "sim"},
    )


def _millis(stamp):
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


class HubSpotSimulator(VendorSimulator):
    server_name = "HubSpotSimulator/3.0"

    def __init__(self, token="hubspot-pat", portal_id=62515, rate_limit=None, **kw):
        super().__init__(rate_limit=rate_limit, rate_window=10.0, **kw)
        self.token = token
        self.portal_id = int(portal_id)
        self.reset()

    @property
    def url(self):
        """The base URL an admin enters: https://api.hubapi.com in production."""
        return self.origin

    def reset(self):
        with self.lock:
            self.store = {name: {} for name in OBJECTS}
            self.links = {}  # (from type, id, to type) -> [ids]
            self._next_id = 9000
            self._next_event = 100
            self.subscription = None
            self.deliveries = []
            self.reset_clock()
            self.clear_faults()
            self.clear_log()

    def tick(self):
        return super().tick().replace("Z", ".000Z")

    # Store ----------------------------------------------------------------------------

    def create(self, object_type, record_id=None, **properties):
        with self.lock:
            if record_id is None:
                self._next_id += 1
                record_id = self._next_id
            stamp = self.tick()
            record_id = str(record_id)
            props = {
                key: None if value is None else str(value) for key, value in properties.items()
            }
            props.update(hs_object_id=record_id, createdate=stamp)
            props["lastmodifieddate" if object_type == "contacts" else MODIFIED[object_type]] = (
                stamp
            )
            self.store[object_type][record_id] = {
                "id": record_id,
                "properties": props,
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": False,
            }
            created = copy.deepcopy(self.store[object_type][record_id])
        if object_type == "deals":
            self._notify(record_id, "deal.creation")
        return created

    def update(self, object_type, record_id, **properties):
        with self.lock:
            record = self.store[object_type][str(record_id)]
            stamp = self.tick()
            record["properties"].update(
                {key: None if value is None else str(value) for key, value in properties.items()}
            )
            key = "lastmodifieddate" if object_type == "contacts" else MODIFIED[object_type]
            record["properties"][key] = stamp
            record["updatedAt"] = stamp
            updated = copy.deepcopy(record)
        if object_type == "deals":
            self._notify(record_id, "deal.propertyChange")
        return updated

    def associate(self, deal_id, company_id=None, contact_ids=()):
        with self.lock:
            if company_id is not None:
                self.links[("deals", str(deal_id), "companies")] = [str(company_id)]
            if contact_ids:
                self.links[("deals", str(deal_id), "contacts")] = [str(c) for c in contact_ids]

    def get(self, object_type, record_id):
        with self.lock:
            return copy.deepcopy(self.store[object_type][str(record_id)])

    # Webhooks -------------------------------------------------------------------------

    def subscribe(self, url, secret):
        """Send a signed webhook to ``url`` on every deal created or changed from now on,
        as an app's deal subscriptions do; ``subscribe(None, None)`` stops."""
        with self.lock:
            self.subscription = (url, secret) if url else None

    def _notify(self, deal_id, subscription):
        target = self.subscription
        if not target:
            return
        status, answer = self.deliver_webhook(
            target[0], target[1], [self.deal_event(deal_id, subscription)]
        )
        with self.lock:
            self.deliveries.append((str(deal_id), subscription, status, answer))

    def deal_event(self, deal_id, subscription="deal.propertyChange", **extra):
        """One webhook event of a deal, as HubSpot posts it (within an array)."""
        with self.lock:
            self._next_event += 1
            event = {
                "eventId": self._next_event,
                "subscriptionId": 2400,
                "portalId": self.portal_id,
                "appId": 1160452,
                "occurredAt": int(time.time() * 1000),
                "subscriptionType": subscription,
                "attemptNumber": 0,
                "objectId": int(deal_id),
                "changeSource": "CRM",
            }
            if subscription == "deal.propertyChange":
                deal = self.store["deals"].get(str(deal_id)) or {"properties": {}}
                event.update(
                    propertyName="dealstage",
                    propertyValue=deal["properties"].get("dealstage"),
                )
            event.update(extra)
            return event

    def deliver_webhook(self, url, secret, body, timestamp=None, signature=None, signed_url=None):
        """POST ``body`` (a list of events, or bytes) to ``url`` signed with ``secret``;
        ``signed_url`` signs another URL than the one called. Returns (status, answer)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        stamp = int(time.time() * 1000) if timestamp is None else timestamp
        header = (
            signature
            if signature is not None
            else sign_v3(secret, "POST", signed_url or url, raw, stamp)
        )
        request = urllib.request.Request(
            url,
            data=raw,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-HubSpot-Signature-v3": header,
                "X-HubSpot-Request-Timestamp": str(stamp),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    # HTTP -----------------------------------------------------------------------------

    def _check_auth(self, headers):
        if headers.get("Authorization") != f"Bearer {self.token}":
            raise _error(
                401,
                "Authentication credentials not found.",
                "INVALID_AUTHENTICATION",
            )

    def too_many_requests(self, retry_after):
        error = super().too_many_requests(retry_after)
        error.body = {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "policyName": "SECONDLY",
        }
        return error

    def route(self, method, path, query, headers, body):
        parts = [p for p in path.split("/") if p]
        if parts[:3] == ["crm", "v4", "associations"] and len(parts) == 7:
            _crm, _v, _a, from_type, to_type, batch, read = parts
            if method == "POST" and (batch, read) == ("batch", "read"):
                return 200, self._associations(from_type, to_type, body)
        if parts[:3] != ["crm", "v3", "objects"] or len(parts) < 4 or parts[3] not in OBJECTS:
            raise _error(404, "Not Found", "OBJECT_NOT_FOUND")
        object_type, rest = parts[3], parts[4:]
        if method == "GET" and not rest:
            return 200, self._list(object_type, query)
        if method == "GET" and len(rest) == 1:
            return 200, self._read_one(object_type, rest[0], query)
        if method == "POST" and rest == ["search"]:
            return 200, self._search(object_type, body or {})
        if method == "POST" and rest == ["batch", "read"]:
            return self._batch_read(object_type, body or {})
        if method == "POST" and rest == ["batch", "update"]:
            return 200, self._batch_update(object_type, body or {})
        raise _error(405, "Method Not Allowed", "VALIDATION_ERROR")

    def _view(self, record, properties=None):
        view = copy.deepcopy(record)
        if properties:
            wanted = set(properties) | {"hs_object_id", "createdate", "hs_lastmodifieddate"}
            view["properties"] = {k: v for k, v in view["properties"].items() if k in wanted} | {
                k: view["properties"].get(k) for k in properties
            }
        return view

    def _list(self, object_type, query):
        limit = min(int(query.get("limit", 10)), 100)
        after = int(query.get("after", 0))
        with self.lock:
            rows = sorted(self.store[object_type].values(), key=lambda r: int(r["id"]))
        chunk = rows[after : after + limit]
        answer = {"results": [self._view(r) for r in chunk]}
        if after + limit < len(rows):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return answer

    def _read_one(self, object_type, record_id, query):
        with self.lock:
            record = self.store[object_type].get(record_id)
            if record is None:
                raise _error(404, f"Object {record_id} not found", "OBJECT_NOT_FOUND")
            view = self._view(record)
            for to_type in filter(None, (query.get("associations") or "").split(",")):
                ids = self.links.get((object_type, record_id, to_type)) or []
                view.setdefault("associations", {})[to_type] = {
                    "results": [{"id": i, "type": f"deal_to_{to_type[:-1]}"} for i in ids]
                }
            return view

    def _search(self, object_type, body):
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 1 <= limit <= SEARCH_MAX:
            raise _error(400, f"limit must be 1..{SEARCH_MAX}", "VALIDATION_ERROR")
        after = int(body.get("after") or 0)
        with self.lock:
            rows = list(self.store[object_type].values())
        groups = body.get("filterGroups") or []
        if groups:
            rows = [r for r in rows if any(self._matches(r, g) for g in groups)]
        for sort in reversed(body.get("sorts") or []):
            name = sort.get("propertyName")
            rows.sort(
                key=lambda r, n=name: (r["properties"].get(n) or "", int(r["id"])),
                reverse=sort.get("direction") == "DESCENDING",
            )
        chunk = rows[after : after + limit]
        answer = {
            "total": len(rows),
            "results": [self._view(r, body.get("properties")) for r in chunk],
        }
        if after + limit < len(rows):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return answer

    @staticmethod
    def _matches(record, group):
        for condition in group.get("filters") or []:
            raw = record["properties"].get(condition.get("propertyName"))
            if raw is None:
                return False
            value = condition.get("value")
            if condition.get("propertyName", "").endswith("date") and "T" in raw:
                left, right = _millis(raw), int(value)
            else:
                left, right = raw, value
            operator = condition.get("operator")
            ok = {
                "EQ": left == right,
                "GTE": left >= right,
                "GT": left > right,
                "LTE": left <= right,
                "LT": left < right,
            }.get(operator)
            if ok is None:
                raise _error(400, f"unknown operator {operator}", "VALIDATION_ERROR")
            if not ok:
                return False
        return True

    def _inputs(self, body):
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or len(inputs) > BATCH_MAX:
            raise _error(400, f"inputs: a list of at most {BATCH_MAX}", "VALIDATION_ERROR")
        return inputs

    def _batch_read(self, object_type, body):
        inputs = self._inputs(body)
        results, missing = [], []
        with self.lock:
            for item in inputs:
                record = self.store[object_type].get(str(item.get("id")))
                if record is None:
                    missing.append(str(item.get("id")))
                else:
                    results.append(self._view(record, body.get("properties")))
        answer = {"status": "COMPLETE", "results": results}
        if missing:
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some objects, they may be deleted or not exist.",
                    "context": {"ids": missing},
                }
            ]
            return 207, answer
        return 200, answer

    def _batch_update(self, object_type, body):
        inputs = self._inputs(body)
        with self.lock:
            for item in inputs:
                if str(item.get("id")) not in self.store[object_type]:
                    raise _error(404, f"Object {item.get('id')} not found", "OBJECT_NOT_FOUND")
            results = [
                self.update(object_type, item["id"], **(item.get("properties") or {}))
                for item in inputs
            ]
        return {"status": "COMPLETE", "results": results}

    def _associations(self, from_type, to_type, body):
        inputs = self._inputs(body or {})
        results = []
        with self.lock:
            for item in inputs:
                ids = self.links.get((from_type, str(item.get("id")), to_type)) or []
                if ids:
                    results.append(
                        {
                            "from": {"id": str(item.get("id"))},
                            "to": [
                                {
                                    "toObjectId": int(i),
                                    "associationTypes": [
                                        {"category": "HUBSPOT_DEFINED", "typeId": 5}
                                    ],
                                }
                                for i in ids
                            ],
                        }
                    )
        return {"status": "COMPLETE", "results": results}
