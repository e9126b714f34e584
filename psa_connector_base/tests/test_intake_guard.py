"""Hostile framing at the webhook endpoint, over real sockets: refused before it is read.

A body is never read past the backend's limit + 1 byte, nor for longer than the body
deadline, whatever Content-Length or Transfer-Encoding claim; a code of the wrong format
costs no lookup; an unknown code is not cached; refusals are logged at a bounded rate.
"""

import io
import json
import logging
import socket
import threading
import time
from unittest.mock import patch
from urllib.parse import urlsplit

from odoo.http import Request
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import config

from ..tools import webhook_guard, webhook_intake
from ..tools.signature import sign
from .common import WEBHOOK_SECRET, PsaTestMixin, customer_data

LIMIT = 2048
GUARD_LOGGER = "odoo.addons.psa_connector_base.tools.webhook_guard"


class _Exchange:
    """One raw HTTP/1.1 request: headers, then a body sent by a thread (paced or not),
    while the answer is read; records how much of the body was sent when it came."""

    def __init__(self, port, path, headers, parts, pause=0.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sent = 0
        self.answered = threading.Event()
        head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        self.parts, self.pause = parts, pause
        self.sender = threading.Thread(target=self._send, daemon=True)
        self.sender.start()

    def _send(self):
        try:
            for part in self.parts:
                if self.answered.is_set():
                    return
                self.sock.sendall(part)
                self.sent += len(part)
                if self.pause:
                    time.sleep(self.pause)
        except OSError:
            pass  # the server answered and closed: the rest is never sent

    def answer(self):
        """(status, json body, seconds, body bytes sent when the answer began)."""
        start = time.monotonic()
        data = b""
        sent_at_answer = None
        try:
            while b"\r\n\r\n" not in data or not self._complete(data):
                chunk = self.sock.recv(65536)
                if sent_at_answer is None:
                    sent_at_answer = self.sent
                    self.answered.set()
                if not chunk:
                    break
                data += chunk
        finally:
            self.answered.set()
            self.sock.close()
        elapsed = time.monotonic() - start
        head, _sep, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if b"chunked" in head.lower():
            body = _dechunk(body)
        return status, json.loads(body or b"{}"), elapsed, sent_at_answer

    @staticmethod
    def _complete(data):
        head, _sep, body = data.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                return len(body) >= int(line.split(b":", 1)[1])
        return body.endswith(b"0\r\n\r\n")


def _dechunk(body):
    out, rest = b"", body
    while rest:
        size_line, _sep, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if not size:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


def _chunked(body, size=1024):
    parts = [
        b"%x\r\n" % len(body[i : i + size]) + body[i : i + size] + b"\r\n"
        for i in range(0, len(body), size)
    ]
    return [*parts, b"0\r\n\r\n"]


@tagged("post_install", "-at_install")
class TestIntakeGuard(PsaTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls._create_backend(code="guard", max_body_bytes=LIMIT)

    def setUp(self):
        super().setUp()
        webhook_guard.refusal_log.state.clear()

    def exchange(self, headers, parts=(), pause=0.0, code="guard"):
        port = urlsplit(self.base_url()).port
        return _Exchange(port, f"/psa/webhook/{code}", headers, list(parts), pause).answer()

    def signed_headers(self, raw):
        timestamp = str(int(time.time()))
        return {
            "Content-Type": "application/json",
            "X-PSA-Timestamp": timestamp,
            "X-PSA-Signature": sign(WEBHOOK_SECRET, timestamp, raw),
        }

    def envelope(self, event_id="evt-g1"):
        return json.dumps(
            {
                "id": event_id,
                "type": "customer.created",
                "occurred_at": "2026-11-20T10:00:00Z",
                "data": customer_data(),
            }
        ).encode()

    def counts(self):
        domain = [("backend_id", "=", self.backend.id)]
        return (
            self.env["psa.event"].search_count(domain),
            self.env["psa.exception"].search_count(domain),
        )

    def short_body_deadline(self, seconds="1"):
        return patch.dict(config.options, {"psa_connector_webhook_body_timeout": seconds})

    def webhook_cache_keys(self):
        caches = self.env.registry._Registry__caches.values()
        return [
            key
            for cache in caches
            for key in list(cache)
            if key[:1] == ("psa.backend",)
            and getattr(key[1], "__name__", "") == "_webhook_settings"
        ]

    # Content-Length ----------------------------------------------------------------

    def test_a_negative_content_length_is_400_before_the_body_is_read(self):
        # 16 MiB offered as fast as the socket takes it; the answer comes first.
        body = [b"x" * 65536] * 256
        status, answer, elapsed, sent = self.exchange(
            {"Content-Type": "application/json", "Content-Length": "-1"}, body
        )
        self.assertEqual(status, 400, answer)
        self.assertEqual(answer["message"], "invalid Content-Length")
        self.assertLess(elapsed, 5)
        self.assertLess(sent, 16 * 1024 * 1024, "the server waited for the whole body")
        self.assertEqual(self.counts(), (0, 0))

    def test_invalid_or_missing_content_lengths_are_refused_without_reading(self):
        for value, expected in (
            ("abc", 400),
            ("1,1", 400),
            ("+5", 400),
            ("5 5", 400),
            ("0x10", 400),
        ):
            with self.subTest(value=value):
                status, _answer, elapsed, _sent = self.exchange(
                    {"Content-Type": "application/json", "Content-Length": value}, [b"{}"]
                )
                self.assertEqual(status, expected)
                self.assertLess(elapsed, 5)
        status, answer, _elapsed, _sent = self.exchange({"Content-Type": "application/json"})
        self.assertEqual((status, answer["message"]), (411, "Content-Length required"))
        status, _answer, _elapsed, _sent = self.exchange(
            {"Content-Length": "2", "Transfer-Encoding": "chunked"}, [b"{}"]
        )
        self.assertEqual(status, 400)
        status, _answer, _elapsed, _sent = self.exchange({"Transfer-Encoding": "gzip"}, [b"{}"])
        self.assertEqual(status, 400)
        self.assertEqual(self.counts(), (0, 0))

    def test_a_declared_length_over_the_limit_is_413_before_the_body_is_sent(self):
        megabyte = 1024 * 1024
        parts = [b"x" * 4096] * ((LIMIT + megabyte) // 4096 + 1)
        status, answer, elapsed, sent = self.exchange(
            {"Content-Type": "application/json", "Content-Length": str(LIMIT + megabyte)},
            parts,
            pause=0.01,
        )
        self.assertEqual((status, answer["message"]), (413, f"body over {LIMIT} bytes"))
        self.assertLess(elapsed, 3)
        self.assertLess(sent, 64 * 1024)

    def test_a_body_slower_than_the_deadline_is_408(self):
        # Declares 1000 bytes (under the limit), sends 10 and then a byte every 0.4 s.
        with self.short_body_deadline("1"):
            status, answer, elapsed, _sent = self.exchange(
                {"Content-Type": "application/json", "Content-Length": "1000"},
                [b"{" * 10] + [b" "] * 50,
                pause=0.4,
            )
        self.assertEqual(status, 408, answer)
        self.assertLess(elapsed, 4)
        self.assertEqual(self.counts(), (0, 0))

    def test_a_body_shorter_than_its_length_is_400(self):
        port = urlsplit(self.base_url()).port
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(
            b"POST /psa/webhook/guard HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}"
        )
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        self.assertIn(b" 400 ", answer.split(b"\r\n", 1)[0])
        self.assertIn(b"body shorter than its Content-Length", answer)

    # Transfer-Encoding: chunked ------------------------------------------------------

    def test_a_signed_chunked_body_is_accepted(self):
        raw = self.envelope()
        headers = {**self.signed_headers(raw), "Transfer-Encoding": "chunked"}
        status, answer, _elapsed, _sent = self.exchange(headers, _chunked(raw, 100))
        self.assertEqual(status, 202, answer)
        self.assertEqual(self.counts(), (1, 0))

    def test_a_chunked_body_over_the_limit_is_413_before_it_is_all_sent(self):
        body = b"x" * (LIMIT + 1024 * 1024)
        status, answer, elapsed, sent = self.exchange(
            {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            _chunked(body, 1024),
            pause=0.02,
        )
        self.assertEqual(status, 413, answer)
        self.assertLess(elapsed, 3)
        # Refused once the chunk sizes passed the limit: a few KiB, not the MiB offered.
        self.assertLess(sent, 16 * 1024)

    def test_chunk_framing_that_never_ends_a_line_is_400(self):
        # 64 KiB of hex digits without a line end: not a chunk size werkzeug should buffer.
        status, answer, elapsed, sent = self.exchange(
            {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            [b"f" * 4096] * 16,
            pause=0.01,
        )
        self.assertEqual(status, 400, answer)
        self.assertLess(elapsed, 3)
        self.assertLess(sent, 16 * 4096)

    def test_a_slow_chunked_body_is_408(self):
        with self.short_body_deadline("1"):
            status, _answer, elapsed, _sent = self.exchange(
                {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                [b"1\r\n{\r\n"] * 40,
                pause=0.3,
            )
        self.assertEqual(status, 408)
        self.assertLess(elapsed, 4)

    # Codes ---------------------------------------------------------------------------

    def test_a_code_of_the_wrong_format_is_404_with_no_lookup_and_no_cache(self):
        before = len(self.webhook_cache_keys())
        served = patch.object(Request, "_serve_db", autospec=True, side_effect=Request._serve_db)
        looked_up = patch.object(webhook_intake, "_backend", side_effect=webhook_intake._backend)
        with served as odoo_served, looked_up as lookups:
            for code in ("x" * 65, "a.b", "bad%20code", "%C3%A9t%C3%A9", "guard~"):
                with self.subTest(code=code):
                    response = self.url_open(
                        f"/psa/webhook/{code}", data=b"{}", headers={"Content-Type": "a/b"}
                    )
                    self.assertEqual(response.status_code, 404)
                    self.assertEqual(response.json()["message"], "unknown or inactive backend")
        self.assertEqual(lookups.call_count, 0)
        self.assertEqual(odoo_served.call_count, 0)
        self.assertEqual(len(self.webhook_cache_keys()), before)
        self.assertFalse(self.env["psa.backend"]._for_webhook("x" * 65))
        self.assertFalse(self.env["psa.backend"]._for_webhook("a.b"))
        self.assertEqual(len(self.webhook_cache_keys()), before)

    def test_unknown_codes_are_not_cached(self):
        self.env.registry.clear_cache()
        for number in range(50):
            code = f"unknown-{number:03d}-" + "z" * 40
            response = self.url_open(
                f"/psa/webhook/{code}", data=b"{}", headers={"Content-Type": "application/json"}
            )
            self.assertEqual(response.status_code, 404)
            self.assertFalse(self.env["psa.backend"]._for_webhook(code))
        self.assertEqual(self.webhook_cache_keys(), [])
        # A known code is still cached: one entry, however often it is asked.
        for _round in range(3):
            self.assertEqual(self.env["psa.backend"]._for_webhook("guard"), self.backend)
        self.assertEqual(len(self.webhook_cache_keys()), 1)

    # The controller path -------------------------------------------------------------

    def test_the_route_limit_bounds_form_bodies_odoo_parses(self):
        # As in a process where the intake is not in front of Odoo: Odoo reads form bodies
        # into request.params before the route's method; the route's limit applies.
        form = b"payload=" + b"y" * (2 * LIMIT)
        with patch.object(webhook_intake, "intake", return_value=None):
            response = self.url_open(
                "/psa/webhook/guard",
                data=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        self.assertEqual(response.status_code, 413)
        self.assertEqual(self.counts(), (0, 0))

    def test_the_controller_reads_a_chunked_body_with_the_same_bounds(self):
        body = b"x" * (LIMIT + 1024 * 1024)
        with patch.object(webhook_intake, "intake", return_value=None):
            status, answer, elapsed, sent = self.exchange(
                {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                _chunked(body, 1024),
                pause=0.02,
            )
        self.assertEqual(status, 413, answer)
        self.assertLess(elapsed, 3)
        # Through Odoo's request handling the answer takes longer to start than in front of
        # it (the rest sits in socket buffers, unread); it still comes long before the MiB.
        self.assertLess(sent, 256 * 1024)

    # Logging -------------------------------------------------------------------------

    def test_refusals_are_logged_at_a_bounded_rate(self):
        with self.assertLogs(GUARD_LOGGER, logging.INFO) as logs:
            for number in range(30):
                response = self.url_open(
                    f"/psa/webhook/bad.{number}",
                    data=b"{}",
                    headers={"Content-Type": "application/json"},
                )
                self.assertEqual(response.status_code, 404)
        lines = [line for line in logs.output if "invalid_code" in line]
        self.assertEqual(len(lines), webhook_guard.refusal_log.per_minute)
        self.assertEqual(webhook_guard.refusal_log.suppressed("invalid_code"), 20)


class TestReadBody(TransactionCase):
    """read_body on a stream that counts what is read from it."""

    class Counting(io.BytesIO):
        def __init__(self, data):
            super().__init__(data)
            self.consumed = 0

        def read(self, size=-1):
            data = super().read(size)
            self.consumed += len(data)
            return data

        def read1(self, size=-1):
            data = super().read1(size)
            self.consumed += len(data)
            return data

    def environ(self, data, **headers):
        return {"wsgi.input": self.Counting(data), **headers}

    def refused(self, environ, limit=100):
        with self.assertRaises(webhook_guard.BodyRefused) as caught:
            webhook_guard.read_body(environ, limit, timeout=5)
        return caught.exception.status, environ["wsgi.input"].consumed

    def test_reads_at_most_the_limit_plus_one(self):
        data = b"z" * 10_000
        self.assertEqual(self.refused(self.environ(data, CONTENT_LENGTH="-1")), (400, 0))
        self.assertEqual(self.refused(self.environ(data)), (411, 0))
        self.assertEqual(self.refused(self.environ(data, CONTENT_LENGTH="10000")), (413, 0))
        chunked = b"".join(_chunked(data, 30))
        status, consumed = self.refused(self.environ(chunked, HTTP_TRANSFER_ENCODING="chunked"))
        self.assertEqual(status, 413)
        # 90 bytes of payload in 30-byte chunks and their framing ("1e\r\n", "\r\n"), then
        # the size line that would pass the limit: refused before its bytes.
        self.assertEqual(consumed, 3 * (4 + 30 + 2) + 4)
        environ = self.environ(b"x" * 50, CONTENT_LENGTH="50")
        self.assertEqual(webhook_guard.read_body(environ, 100), b"x" * 50)
        self.assertEqual(environ["CONTENT_LENGTH"], "50")
        self.assertEqual(environ["wsgi.input"].read(), b"x" * 50)
        small = b"".join(_chunked(b"y" * 70, 30))
        environ = self.environ(small + b"trailing", HTTP_TRANSFER_ENCODING="chunked")
        self.assertEqual(webhook_guard.read_body(environ, 100), b"y" * 70)
        self.assertNotIn("HTTP_TRANSFER_ENCODING", environ)
        self.assertEqual(environ["CONTENT_LENGTH"], "70")

    def test_the_refusal_log_counts_what_it_does_not_log(self):
        log = webhook_guard.RefusalLog(per_minute=3, window=0.2)
        with self.assertLogs(GUARD_LOGGER, logging.INFO) as logs:
            logged = [log.log("flood", 404, "%s", "x") for _i in range(10)]
            self.assertEqual(logged, [True] * 3 + [False] * 7)
            self.assertEqual(log.suppressed("flood"), 7)
            time.sleep(0.25)
            self.assertTrue(log.log("flood", 404, "%s", "x"))
        self.assertEqual(len(logs.output), 4)
        self.assertIn("[7 similar refusals not logged]", logs.output[-1])
