"""Outbound calls go only where an administrator allows, and the token with them.

Real loopback HTTP servers stand in for the remote side: one records what reaches it
(and with which Authorization header), one answers with redirects.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..adapters.base import ALLOW_INSECURE_HTTP, ALLOW_PRIVATE_TARGETS, TargetRefused
from .common import API_TOKEN, PsaTransactionCase


class _Remote:
    """A loopback HTTP server: ``routes`` maps a path to (status, headers, body)."""

    def __init__(self, routes=None):
        self.routes = routes or {}
        self.seen = []
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                remote.seen.append((self.path, self.headers.get("Authorization")))
                status, headers, body = remote.routes.get(
                    self.path.split("?")[0],
                    (200, {}, {"name": "Loopback PSA", "api_version": 1}),
                )
                raw = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class TestOutboundSafety(PsaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.remote = _Remote()
        cls.addClassCleanup(cls.remote.stop)
        cls.backend.write({"base_url": cls.remote.url, "api_token": API_TOKEN})

    def setUp(self):
        super().setUp()
        self.remote.seen.clear()

    def allow(self, private, insecure):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(ALLOW_PRIVATE_TARGETS, str(private))
        params.set_param(ALLOW_INSECURE_HTTP, str(insecure))

    def probe(self, **values):
        if values:
            self.backend.write({**values, "api_token": API_TOKEN})
        return self.backend.action_test_connection()["params"]

    def test_loopback_is_refused_unless_allowed(self):
        self.allow(private=False, insecure=True)
        result = self.probe()
        self.assertEqual(result["type"], "danger")
        self.assertIn("127.0.0.1, a private, loopback or link-local address", result["message"])
        self.assertIn(ALLOW_PRIVATE_TARGETS, result["message"])
        self.assertNotIn(API_TOKEN, result["message"])
        self.assertEqual(self.remote.seen, [], "nothing may reach a refused address")
        self.allow(private=True, insecure=True)
        result = self.probe()
        self.assertEqual(result["type"], "success", result["message"])
        self.assertEqual(self.remote.seen, [("/api/v1/account", f"Bearer {API_TOKEN}")])

    def test_private_link_local_and_named_loopback_addresses_are_refused(self):
        self.allow(private=False, insecure=False)
        for url in (
            "https://10.1.2.3/",
            "https://192.168.0.10:8443/api",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]:9/",
            "https://[::ffff:127.0.0.1]/",
            "https://localhost:9/",
            "https://0.0.0.0/",
        ):
            with self.subTest(url=url):
                adapter = self.backend._get_adapter()
                adapter.config.base_url = url
                with self.assertRaises(TargetRefused) as caught:
                    adapter.test_connection()
                self.assertIn("private, loopback or link-local", caught.exception.message)
                self.assertEqual(caught.exception.category, "remote_error")
                self.assertFalse(caught.exception.retryable)

    def test_http_is_refused_unless_allowed(self):
        self.allow(private=True, insecure=False)
        result = self.probe()
        self.assertEqual(result["type"], "danger")
        self.assertIn("http:// would send the API token in clear", result["message"])
        self.assertIn(ALLOW_INSECURE_HTTP, result["message"])
        self.assertEqual(self.remote.seen, [])
        # A pull job records it as a remote error, with the same clear message.
        self.backend._pull_job("customer")
        exception = self.env["psa.exception"].search(
            [("backend_id", "=", self.backend.id), ("category", "=", "remote_error")]
        )
        self.assertTrue(exception)
        self.assertIn("http:// would send the API token in clear", exception[0].name)
        self.assertNotIn(API_TOKEN, exception[0].name + (exception[0].technical_detail or ""))
        self.assertEqual(self.remote.seen, [])

    def test_a_redirect_to_another_host_is_not_followed(self):
        self.allow(private=True, insecure=True)
        other = _Remote()
        self.addCleanup(other.stop)
        self.remote.routes["/api/v1/account"] = (
            302,
            {"Location": f"{other.url}/api/v1/account"},
            {},
        )
        self.addCleanup(self.remote.routes.clear)
        result = self.probe()
        self.assertEqual(result["type"], "danger")
        self.assertIn("redirect to another host", result["message"])
        self.assertEqual(other.seen, [], "the other host received the request")
        self.assertEqual(len(self.remote.seen), 1)

    def test_a_redirect_on_the_same_host_is_followed_and_checked(self):
        self.allow(private=True, insecure=True)
        self.remote.routes["/api/v1/account"] = (301, {"Location": "/v2/account"}, {})
        self.addCleanup(self.remote.routes.clear)
        result = self.probe()
        self.assertEqual(result["type"], "success", result["message"])
        self.assertEqual(
            [path for path, _auth in self.remote.seen], ["/api/v1/account", "/v2/account"]
        )
