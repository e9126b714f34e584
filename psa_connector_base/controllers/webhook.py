"""Inbound webhooks: verify, store, enqueue, answer. No business logic here.

Public contract (keep it exactly): ``POST /psa/webhook/<backend code>`` with a JSON
envelope ``{"id", "type": "<object>.<action>", "occurred_at", "data": {...}}`` signed
with ``X-PSA-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`` and
``X-PSA-Timestamp: <unix seconds>``.
"""

import json
import logging
import re
import time

from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

from ..adapters import get_adapter_class
from ..tools.errors import RemoteServiceError
from ..tools.event_store import envelope_problems
from ..tools.signature import is_fresh, is_valid_signature
from ..tools.webhook_guard import (
    BOUNDED,
    INVALID_CODE,
    UNKNOWN_BACKEND,
    BodyRefused,
    body_ceiling,
    check_declared,
    is_valid_code,
    log_refusal,
    read_body,
)

_logger = logging.getLogger(__name__)

_CODE_IN_PATH = re.compile(r"/psa/webhook/([^/]*)")


def _route_body_limit(_controller):
    """The backend's body limit, for Odoo to apply before it parses a form body.

    Odoo reads ``application/x-www-form-urlencoded`` and multipart bodies into
    ``request.params`` before the route's method runs; the route's
    ``max_content_length`` is the only bound it applies to that read (the fast intake
    has, in front of Odoo, already bounded the body when it could choose the database).
    """
    match = _CODE_IN_PATH.match(request.httprequest.path)
    backend = request.env["psa.backend"]._for_webhook(match.group(1) if match else "")
    return backend.max_body_bytes if backend else body_ceiling()


class PsaWebhookController(http.Controller):
    @http.route(
        "/psa/webhook/<string:code>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
        max_content_length=_route_body_limit,
    )
    def receive(self, code, **_params):
        if not is_valid_code(code):
            return _answer(*INVALID_CODE)
        backend = request.env["psa.backend"]._for_webhook(code)
        if not backend:
            return _answer(*UNKNOWN_BACKEND)

        raw_body = _read_body(backend.max_body_bytes)
        if isinstance(raw_body, BodyRefused):
            return _answer(raw_body.status, raw_body.message, raw_body.reason)

        headers = request.httprequest.headers
        timestamp = headers.get("X-PSA-Timestamp", "")
        if not is_fresh(timestamp, time.time(), backend.timestamp_tolerance):
            return _answer(401, "missing or stale X-PSA-Timestamp", "stale_timestamp")
        try:
            secret = backend._get_secret("webhook_secret")
        except UserError as err:
            _logger.error("PSA backend %s cannot verify webhooks: %s", backend.code, err)
            return _answer(503, "the connector is not configured to verify webhooks", "no_secret")
        if not is_valid_signature(secret, timestamp, raw_body, headers.get("X-PSA-Signature", "")):
            return _answer(401, "bad or missing signature", "bad_signature")

        try:
            envelope = json.loads(raw_body)
        except (UnicodeDecodeError, ValueError) as err:
            return _reject_payload(backend, raw_body, f"malformed JSON: {err}")
        except RecursionError:
            return _reject_payload(backend, raw_body, "malformed JSON: nested too deeply")
        problems = envelope_problems(envelope)
        if problems:
            return _reject_payload(backend, raw_body, "; ".join(problems[:5]))

        event, is_new = (
            request.env["psa.event"].sudo()._receive_webhook(backend, envelope, raw_body)
        )
        if not is_new:
            return _answer(200, "duplicate: already received", event=event.event_uid)
        return _answer(202, "accepted", event=event.event_uid, correlation_id=event.correlation_id)

    @http.route(
        "/psa/webhook/<string:code>/<string:vendor>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
        max_content_length=_route_body_limit,
    )
    def receive_vendor(self, code, vendor, **_params):
        """A vendor's own webhook format: the adapter verifies and translates it."""
        if not (is_valid_code(code) and is_valid_code(vendor)):
            return _answer(*INVALID_CODE)
        backend = request.env["psa.backend"]._for_webhook(code)
        if not backend:
            return _answer(*UNKNOWN_BACKEND)
        try:
            adapter_class = get_adapter_class(backend.adapter)
        except RemoteServiceError:
            adapter_class = None
        if adapter_class is None or adapter_class.webhook_vendor != vendor:
            return _answer(
                404, f"backend {code} does not receive {vendor} webhooks", "wrong_vendor"
            )

        raw_body = _read_body(backend.max_body_bytes)
        if isinstance(raw_body, BodyRefused):
            return _answer(raw_body.status, raw_body.message, raw_body.reason)
        try:
            secret = backend._get_secret("webhook_secret")
        except UserError as err:
            _logger.error("PSA backend %s cannot verify webhooks: %s", backend.code, err)
            return _answer(503, "the connector is not configured to verify webhooks", "no_secret")
        headers = request.httprequest.headers
        try:
            verified = adapter_class.verify_webhook(
                secret, headers, raw_body, time.time(), backend.timestamp_tolerance
            )
        except Exception:  # hostile headers must never become a 500
            _logger.warning("%s signature check failed on odd headers", vendor, exc_info=True)
            verified = False
        if not verified:
            return _answer(401, "bad, missing or stale signature", "bad_signature")

        try:
            payload = json.loads(raw_body)
            envelopes = adapter_class.webhook_envelopes(payload)
        except (UnicodeDecodeError, ValueError) as err:
            return _reject_payload(backend, raw_body, f"unusable {vendor} webhook: {err}")
        except RecursionError:
            return _reject_payload(backend, raw_body, "malformed JSON: nested too deeply")
        except Exception as err:  # a signed body the adapter cannot read: keep it, 400
            _logger.warning("%s webhook could not be translated", vendor, exc_info=True)
            return _reject_payload(
                backend, raw_body, f"{vendor} webhook of an unexpected shape: {err!r}"
            )
        if not isinstance(envelopes, list):
            return _reject_payload(backend, raw_body, f"{vendor} webhook gave no event list")
        for envelope in envelopes:
            problems = envelope_problems(envelope)
            if problems:
                return _reject_payload(backend, raw_body, "; ".join(problems[:5]))

        received = []
        event_model = request.env["psa.event"].sudo()
        for envelope in envelopes:
            event, is_new = event_model._receive_webhook(
                backend, envelope, json.dumps(envelope).encode()
            )
            received.append({"event": event.event_uid, "new": is_new})
        if received and not any(item["new"] for item in received):
            return _answer(200, "duplicate: already received", events=received)
        return _answer(202, "accepted", events=received)


def _read_body(limit):
    """The raw body, or the BodyRefused that says why it was not read (webhook_guard)."""
    httprequest = request.httprequest
    # Odoo's request.httprequest.environ is a copy without the wsgi.* and socket keys;
    # the WSGI environment itself is what the body is read from.
    environ = getattr(httprequest, "_HTTPRequest__environ", None) or httprequest.environ
    try:
        if not environ.get(BOUNDED):
            # The intake in front of Odoo did not read it (it is not installed in this
            # process): the same rules, read here.
            return read_body(environ, limit)
        check_declared(environ, limit)
    except BodyRefused as refusal:
        return refusal
    # Already read by the intake, within the limit it knew: an in-memory copy.
    httprequest.max_content_length = limit
    try:
        body = httprequest.get_data(cache=True)
    except RequestEntityTooLarge:
        body = None
    if body is None or len(body) > limit:
        return BodyRefused(413, f"body over {limit} bytes", "too_large")
    return body


def _reject_payload(backend, raw_body, reason):
    """A signed but unusable body: keep it, raise it in the exception queue, answer 400."""
    request.env["psa.exception"].sudo()._record_invalid_webhook(backend, raw_body, reason)
    return _answer(400, f"invalid envelope: {reason}", "invalid_payload")


def _answer(status, message, reason=None, **extra):
    if status >= 400:
        log_refusal(status, message, reason)
    body = json.dumps({"status": status, "message": message, **extra})
    return request.make_response(
        body, headers=[("Content-Type", "application/json")], status=status
    )
