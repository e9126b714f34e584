"""Inbound webhooks: bound the request, find the backend, let psa.event accept it.

Public contract (keep it exactly): ``POST /psa/webhook/<backend code>`` with a JSON
envelope ``{"id", "type": "<object>.<action>", "occurred_at", "data": {...}}`` signed
with ``X-PSA-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`` and
``X-PSA-Timestamp: <unix seconds>``.
"""

import re

from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request

from ..tools.webhook_guard import (
    BOUNDED,
    INVALID_CODE,
    UNKNOWN_BACKEND,
    BodyRefused,
    WebhookAnswer,
    body_ceiling,
    check_declared,
    is_valid_code,
    read_body,
)

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
    """Bounds the request (``tools/webhook_guard.py``), finds the backend and hands the
    body to ``psa.event._accept_webhook``, which decides the answer. Served here when the
    fast intake (``tools/webhook_intake.py``) is off or left the request to Odoo."""

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
        return self._receive(code)

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
        return self._receive(code, vendor)

    def _receive(self, code, vendor=None):
        if not is_valid_code(code) or (vendor is not None and not is_valid_code(vendor)):
            return _render(WebhookAnswer(*INVALID_CODE))
        backend = request.env["psa.backend"]._for_webhook(code)
        if not backend:
            return _render(WebhookAnswer(*UNKNOWN_BACKEND))
        raw_body = _read_body(backend.max_body_bytes)
        if isinstance(raw_body, BodyRefused):
            return _render(WebhookAnswer(raw_body.status, raw_body.message, raw_body.reason))
        answer = (
            request.env["psa.event"]
            .sudo()
            ._accept_webhook(
                backend,
                request.httprequest.headers,
                raw_body,
                vendor=vendor,
                request_url=request.httprequest.url,
            )
        )
        return _render(answer)


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


def _render(answer):
    return request.make_response(
        answer.body(), headers=[("Content-Type", "application/json")], status=answer.status
    )
