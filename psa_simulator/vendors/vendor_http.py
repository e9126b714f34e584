"""What the vendor simulators (Harvest, Productive, Float, BambooHR) share: a loopback
server, a request log, injectable faults (with or without ``Retry-After``), a rate limit
answered 429 with ``Retry-After``, a logical clock.

Stdlib only, like ``psa_simulator.server``. Each vendor simulator subclasses
:class:`VendorSimulator` and implements :meth:`VendorSimulator.route`.
"""

import json
import math
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY_BYTES = 5 * 1024 * 1024


class VendorError(Exception):
    """An answer other than success: status, JSON body and extra headers."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class VendorSimulator:
    server_name = "VendorSimulator/1.0"
    content_type = "application/json"

    def __init__(self, host="127.0.0.1", port=0, rate_limit=None, rate_window=15.0):
        self.host = host
        self.port = port
        # None: no rate limit. Otherwise at most rate_limit requests per rate_window seconds.
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.lock = threading.RLock()
        self._calls = deque()
        self._faults = []
        self._log = []
        self.reset_clock()
        self._server = None
        self._thread = None

    # Lifecycle ----------------------------------------------------------------------

    def start(self):
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self._server.simulator = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"{type(self).__name__}-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def origin(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # Logical clock: every write is one second after the previous one -----------------

    def reset_clock(self):
        self._clock = datetime(2026, 11, 2, 8, 0, 0, tzinfo=UTC)

    def tick(self):
        with self.lock:
            self._clock += timedelta(seconds=1)
            return self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def now(self):
        return self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    # Faults and the request log -----------------------------------------------------

    def add_fault(self, status=503, count=1, path="", retry_after=None, body=None):
        """Answer the next ``count`` requests whose path starts with ``path`` with ``status``."""
        with self.lock:
            self._faults.append(
                {
                    "status": status,
                    "count": count,
                    "path": path,
                    "retry_after": retry_after,
                    "body": body,
                }
            )

    def clear_faults(self):
        with self.lock:
            self._faults.clear()

    def _take_fault(self, path):
        with self.lock:
            for fault in self._faults:
                if fault["count"] > 0 and path.startswith(fault["path"]):
                    fault["count"] -= 1
                    return fault
        return None

    @property
    def requests(self):
        """Every request received: method, path, query, headers, JSON body, status, time."""
        with self.lock:
            return list(self._log)

    def calls(self, method=None, path_part=""):
        """The requests received with ``method`` (any if None) whose path contains ``path_part``."""
        return [
            r
            for r in self.requests
            if (method is None or r["method"] == method) and path_part in r["path"]
        ]

    def clear_log(self):
        """Forget the requests received, and the ones counted against the rate limit."""
        with self.lock:
            self._log.clear()
            self._calls.clear()

    def _record(self, entry):
        with self.lock:
            self._log.append(entry)

    def _rate_limited(self):
        """Seconds to wait when this request is over the limit, else None."""
        if not self.rate_limit:
            return None
        with self.lock:
            now = time.monotonic()
            while self._calls and now - self._calls[0] >= self.rate_window:
                self._calls.popleft()
            if len(self._calls) >= self.rate_limit:
                return self.rate_window - (now - self._calls[0])
            self._calls.append(now)
            return None

    # For subclasses -------------------------------------------------------------------

    def route(self, method, path, query, headers, body):
        """Answer ``(status, payload)`` or ``(status, payload, headers)``, or raise
        :class:`VendorError`."""
        raise NotImplementedError

    def too_many_requests(self, retry_after):
        return VendorError(
            429,
            {"error": "Too Many Requests"},
            {"Retry-After": str(max(1, math.ceil(retry_after)))},
        )

    def fault_error(self, fault):
        headers = {}
        if fault["retry_after"] is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        return VendorError(
            fault["status"], fault["body"] or {"error": "Service Unavailable"}, headers
        )

    def _check_auth(self, headers):
        """Raise a VendorError when the credentials are wrong."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PATCH(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def log_message(self, format, *args):
        pass

    @property
    def simulator(self):
        return self.server.simulator

    def version_string(self):
        return self.simulator.server_name

    def _handle(self):
        sim = self.simulator
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        entry = {
            "method": self.command,
            "path": parts.path,
            "query": query,
            "headers": dict(self.headers.items()),
            "body": None,
            "time": time.monotonic(),
        }
        extra_headers = {}
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                raise VendorError(413, {"error": "Request Entity Too Large"})
            raw = self.rfile.read(length) if length else b""
            if raw:
                try:
                    entry["body"] = json.loads(raw)
                except ValueError:
                    raise VendorError(400, {"error": "malformed JSON body"}) from None
            fault = sim._take_fault(parts.path)
            if fault:
                raise sim.fault_error(fault)
            sim._check_auth(self.headers)
            wait = sim._rate_limited()
            if wait is not None:
                raise sim.too_many_requests(wait)
            status, payload, *rest = sim.route(
                self.command, parts.path, query, self.headers, entry["body"]
            )
            extra_headers = rest[0] if rest else {}
        except VendorError as err:
            status, payload, extra_headers = err.status, err.body, err.headers
        entry["status"] = status
        sim._record(entry)
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if body:
            self.send_header("Content-Type", sim.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)
