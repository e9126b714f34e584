"""Adapters against recorded vendor payloads (``fixtures/<vendor>/``, see its README).

No server and no network: a session answers each request from the recorded body of
its path, so what is checked is the adapter's own mapping and the requests it makes.
"""

import json
from pathlib import Path
from urllib.parse import urlsplit

import requests

from odoo.tests import TransactionCase

from ..adapters import AdapterConfig

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_fixture(vendor, name):
    return json.loads((FIXTURES / vendor / name).read_text())


class RecordedSession(requests.Session):
    """Answers ``GET <path>`` with ``routes[path]`` (a body, or a callable of the query
    parameters returning one); 404 for any other path. Every request is kept in
    ``calls`` as ``(method, path, params, json)``."""

    def __init__(self, routes):
        super().__init__()
        self.routes = routes
        self.calls = []

    def request(self, method, url, params=None, **kwargs):
        path = urlsplit(url).path
        self.calls.append((method, path, dict(params or {}), kwargs.get("json")))
        body = self.routes.get((method, path), self.routes.get(path))
        response = requests.Response()
        response.url = url
        if body is None:
            response.status_code, response._content = 404, b'{"error": "Not Found"}'
            return response
        if callable(body):
            body = body(dict(params or {}))
        response.status_code = 200
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        return response

    def paths(self, method="GET"):
        return [path for verb, path, _params, _body in self.calls if verb == method]


class AdapterFixtureCase(TransactionCase):
    """An adapter of ``adapter_key`` as this database builds it (psa.adapter), talking
    to a RecordedSession."""

    adapter_key = None
    base_url = None

    def adapter(self, routes, **config):
        adapter_class = self.env["psa.adapter"]._adapter_class_for(self.adapter_key)
        session = RecordedSession(routes)
        adapter = adapter_class(
            AdapterConfig(
                base_url=self.base_url,
                token="recorded-token",
                max_attempts=1,
                # Recorded answers: no address is resolved, none is called.
                allow_private_targets=True,
                **config,
            ),
            session=session,
        )
        return adapter, session

    @staticmethod
    def records(pages):
        return [record for page in pages for record in page]
