"""``GET /psa/metrics``: the operations metrics in Prometheus text format.

Authenticated by a bearer token (``Authorization: Bearer <token>``) that a Connector
Manager generates (*Configuration → Generate metrics token*); ``psa.metrics`` checks it
and builds the text, this controller only passes the header in and the text out.
"""

from prometheus_client import CONTENT_TYPE_LATEST

from odoo import http
from odoo.http import request

BEARER = "bearer "


class PsaMetricsController(http.Controller):
    @http.route(
        "/psa/metrics",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def metrics(self, **_params):
        header = request.httprequest.headers.get("Authorization", "")
        token = header[len(BEARER) :].strip() if header.lower().startswith(BEARER) else ""
        # sudo: the token, checked first by _scrape, is the scraper's authentication.
        body = request.env["psa.metrics"].sudo()._scrape(token)
        if body is None:
            return request.make_response(
                "401 Unauthorized: a valid bearer token is required\n",
                headers=[("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
                status=401,
            )
        return request.make_response(body, headers=[("Content-Type", CONTENT_TYPE_LATEST)])
