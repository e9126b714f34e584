"""What the Float and BambooHR simulators share: a loopback HTTP server (stdlib only),
a log of the requests received (with their bodies, so tests can check what was sent),
and injectable faults (throttling answers with or without ``Retry-After``)."""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)


class VendorError(Exception):
    def __init__(self, status, payload, headers=None):
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = headers or {}


class LoopbackSimulator:
    """Subclasses implement ``route(method, path, query, body, headers)`` returning
    ``(status, payload, headers)`` or raising :class:`VendorError`."""

    def __init__(self, host="127.0.0.1", port=0):
        self.host = host
        self.port = port
        self.lock = threading.RLock()
        self.requests = []
        self._faults = []
        self._server = None
        self._thread = None

    def start(self):
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self._server.simulator = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def root(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # Faults ---------------------------------------------------------------------------

    def add_fault(self, status, count=1, retry_after=None, path_prefix="", body=None):
        """The next ``count`` requests under ``path_prefix`` get ``status``."""
        with self.lock:
            self._faults.append(
                {
                    "status": status,
                    "count": count,
                    "retry_after": retry_after,
                    "path_prefix": path_prefix,
                    "body": body,
                }
            )

    def clear_faults(self):
        with self.lock:
            self._faults.clear()

    def _take_fault(self, path):
        with self.lock:
            for fault in self._faults:
                if path.startswith(fault["path_prefix"]) and fault["count"] > 0:
                    fault["count"] -= 1
                    return fault
        return None

    # Log ------------------------------------------------------------------------------

    def calls(self, method=None, path_part=""):
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r["method"] == method) and path_part in r["path"]
            ]

    def reset_log(self):
        with self.lock:
            self.requests.clear()

    def route(self, method, path, query, body, headers):
        raise NotImplementedError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PATCH(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def log_message(self, format, *args):
        logger.debug("%s - %s", self.address_string(), format % args)

    def _handle(self):
        sim = self.server.simulator
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        entry = {
            "method": self.command,
            "path": parts.path,
            "query": query,
            "headers": dict(self.headers.items()),
            "body": raw.decode("utf-8", "replace"),
        }
        fault = sim._take_fault(parts.path)
        if fault:
            headers = {}
            if fault["retry_after"] is not None:
                headers["Retry-After"] = str(fault["retry_after"])
            status, payload = fault["status"], fault["body"] or {"error": "simulated fault"}
        else:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                status, payload, headers = 400, {"message": "malformed JSON"}, {}
            else:
                try:
                    status, payload, headers = sim.route(
                        self.command, parts.path, query, body, self.headers
                    )
                except VendorError as err:
                    status, payload, headers = err.status, err.payload, err.headers
        entry["status"] = status
        with sim.lock:
            sim.requests.append(entry)
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)
