"""GET /psa/openapi.json: the OpenAPI 3.1 description of the inbound webhooks."""

import functools

from odoo import http
from odoo.http import request

from ..tools.openapi import build_openapi, dumps


@functools.cache
def _document():
    return dumps(build_openapi())


class PsaOpenApiController(http.Controller):
    @http.route(
        "/psa/openapi.json",
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def openapi(self, **_params):
        return request.make_response(
            _document(), headers=[("Content-Type", "application/json; charset=utf-8")]
        )
