"""What a webhook request must be before anything reads it: one place per rule.

Used by the fast intake (``webhook_intake``, in front of Odoo's WSGI application, which
bounds every ``POST /psa/webhook/...`` before Odoo's request machinery may parse it) and
by the controller (``controllers/webhook.py``), so a rule is written once:

- the backend code (and the vendor segment) match ``^[A-Za-z0-9_-]{1,64}$``, checked
  before any lookup: anything else is a 404 that costs no query and caches nothing;
- the body's framing is checked before a byte is read: a negative, malformed or repeated
  ``Content-Length`` is a 400, none at all (and no chunked encoding) a 411, both a length
  and ``Transfer-Encoding`` (or an encoding other than ``chunked``) a 400, a declared
  length over the backend's limit a 413;
- the body is read with :func:`read_body`: at most ``limit + 1`` bytes whatever the
  headers claim (chunked bodies are de-chunked here with bounded lines), within a
  deadline for the whole body (``psa_connector_webhook_body_timeout`` seconds in the
  Odoo configuration file, default 10): a slow body is a 408, a body that ends before
  its declared length a 400;
- refusals are logged at a bounded rate (:data:`refusal_log`).
"""

import contextlib
import io
import json
import logging
import re
import threading
import time

from odoo.tools import config

_logger = logging.getLogger(__name__)

CODE_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,64}")
CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
DEFAULT_BODY_TIMEOUT = 10.0
# Bound of a body read before its backend is known (several databases, none chosen by
# host): Odoo's own limit for form data (``psa_connector_webhook_max_body`` in the Odoo
# configuration file). The backend's own limit applies as soon as it is known.
DEFAULT_BODY_CEILING = 10 * 1024 * 1024
READ_SIZE = 64 * 1024
# A chunk-size line or a trailer line longer than this is not HTTP/1.1 chunked framing.
MAX_CHUNK_LINE = 1024
MAX_TRAILER_LINES = 32

# The answers, written once: (status, message, log reason).
# What the webhook accept path reads of a backend: the controller from a per-process
# cache (psa.backend._for_webhook), the fast intake by one query per request.
WEBHOOK_FIELDS_ORDER = (
    "id",
    "code",
    "company_id",
    "adapter",
    "max_body_bytes",
    "timestamp_tolerance",
    "webhook_secret_encrypted",
)
UNKNOWN_BACKEND = (404, "unknown or inactive backend", "unknown_backend")
INVALID_CODE = (404, "unknown or inactive backend", "invalid_code")


# Set in the WSGI environment once the body was read by read_body.
BOUNDED = "psa_connector.webhook_body_bounded"


class BodyRefused(Exception):
    """The request's body cannot be read within the rules; ``status`` says why."""

    def __init__(self, status, message, reason):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def is_valid_code(code):
    return isinstance(code, str) and CODE_FORMAT.fullmatch(code) is not None


def body_timeout():
    value = config.get("psa_connector_webhook_body_timeout")
    try:
        return max(0.1, float(value)) if value else DEFAULT_BODY_TIMEOUT
    except (TypeError, ValueError):
        return DEFAULT_BODY_TIMEOUT


def body_ceiling():
    try:
        return int(config.get("psa_connector_webhook_max_body") or DEFAULT_BODY_CEILING)
    except (TypeError, ValueError):
        return DEFAULT_BODY_CEILING


def framing(environ):
    """``("length", n)`` or ``("chunked", None)``; raises BodyRefused before any read."""
    encoding = environ.get("HTTP_TRANSFER_ENCODING", "").strip().lower()
    raw_length = environ.get("CONTENT_LENGTH")
    if raw_length in (None, ""):
        raw_length = None
    if encoding:
        if encoding != "chunked":
            raise BodyRefused(400, "unsupported Transfer-Encoding", "bad_framing")
        if raw_length is not None:
            raise BodyRefused(
                400, "both Content-Length and Transfer-Encoding: chunked", "bad_framing"
            )
        return "chunked", None
    if raw_length is None:
        raise BodyRefused(411, "Content-Length required", "length_required")
    # Digits only: no sign, no spaces, no list of values ("12,12" from a repeated header).
    if not (raw_length.isascii() and raw_length.isdigit()) or len(raw_length) > 18:
        raise BodyRefused(400, "invalid Content-Length", "bad_length")
    return "length", int(raw_length)


def check_declared(environ, limit):
    """Refuse what the headers alone show to be unacceptable; no byte is read."""
    kind, length = framing(environ)
    if kind == "length" and length > limit:
        raise BodyRefused(413, f"body over {limit} bytes", "too_large")
    return kind, length


def read_body(environ, limit, timeout=None):
    """The request body, read within ``limit`` bytes and ``timeout`` seconds.

    Reads at most ``limit + 1`` bytes of payload from ``wsgi.input`` (more only in chunk
    framing, itself bounded), each socket read bounded by what is left of the deadline.
    Raises BodyRefused (400, 408, 411, 413). Leaves the body in ``environ`` as a plain
    stream of known length, so whatever reads it next (Odoo's form parser, the
    controller) reads these bytes and nothing more.
    """
    kind, length = check_declared(environ, limit)
    deadline = time.monotonic() + (body_timeout() if timeout is None else timeout)
    reader = _Reader(environ, deadline)
    try:
        if kind == "length":
            body = reader.read_exact(length)
            if len(body) != length:
                raise BodyRefused(400, "body shorter than its Content-Length", "short_body")
        else:
            body = _read_chunked(reader, limit)
    except TimeoutError:
        raise BodyRefused(408, "the body was not received in time", "slow_body") from None
    except OSError:
        raise BodyRefused(400, "the body could not be read", "short_body") from None
    finally:
        reader.restore()
    environ[BOUNDED] = True
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)
    return body


def _read_chunked(reader, limit):
    body = bytearray()
    while True:
        line = reader.readline(MAX_CHUNK_LINE)
        size_text = line.split(b";", 1)[0].strip()
        if not CHUNK_SIZE.fullmatch(size_text):
            raise BodyRefused(400, "invalid chunked encoding", "bad_framing")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            # The chunk sizes already say it: refused before its bytes are read.
            raise BodyRefused(413, f"body over {limit} bytes", "too_large")
        chunk = reader.read_exact(size)
        if len(chunk) != size or reader.read_exact(2) != b"\r\n":
            raise BodyRefused(400, "invalid chunked encoding", "bad_framing")
        body += chunk
    for _number in range(MAX_TRAILER_LINES):
        if not reader.readline(MAX_CHUNK_LINE).strip():
            return bytes(body)
    raise BodyRefused(400, "invalid chunked encoding", "bad_framing")


class _Reader:
    """Reads from the request's stream, one socket read at a time, within a deadline.

    Under Odoo's servers (werkzeug's request handler) ``wsgi.input`` is the connection's
    buffered reader, or werkzeug's ``DechunkedInput`` around it; that de-chunker reads
    size lines without a bound, so chunked bodies are de-chunked here from the reader
    underneath. ``read1`` and ``peek`` make at most one ``recv``, whose timeout is set to
    what is left of the deadline: the whole body, not each read, is bounded in time.
    Nothing is read ahead: the stream gives no byte beyond the one needed.
    """

    def __init__(self, environ, deadline):
        stream = environ["wsgi.input"]
        # werkzeug.serving.DechunkedInput keeps the raw reader as _rfile.
        self.stream = getattr(stream, "_rfile", None) or stream
        self.deadline = deadline
        self.socket = environ.get("socket") or environ.get("werkzeug.socket")
        self.saved_timeout = None
        if self.socket is not None:
            try:
                self.saved_timeout = self.socket.gettimeout()
            except OSError:
                self.socket = None

    def restore(self):
        if self.socket is not None:
            with contextlib.suppress(OSError):
                self.socket.settimeout(self.saved_timeout)

    def _arm(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if self.socket is not None:
            self.socket.settimeout(remaining)

    def _checked(self, data):
        if time.monotonic() > self.deadline:
            raise TimeoutError
        return data

    def _read_some(self, size):
        self._arm()
        read1 = getattr(self.stream, "read1", None)
        size = max(1, min(size, READ_SIZE))
        return self._checked(read1(size) if read1 is not None else self.stream.read(size))

    def read_exact(self, size):
        """``size`` bytes, fewer only at the end of the stream."""
        parts, got = [], 0
        while got < size:
            data = self._read_some(size - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def readline(self, limit):
        """One line (without its end), refused when longer than ``limit`` bytes."""
        line = b""
        peek = getattr(self.stream, "peek", None)
        while not line.endswith(b"\n"):
            if len(line) > limit:
                raise BodyRefused(400, "invalid chunked encoding", "bad_framing")
            if peek is not None:
                self._arm()
                ahead = self._checked(peek(1))[: limit + 2 - len(line)]
                end = ahead.find(b"\n")
                # Take what the buffer already holds, up to the line end: no blocking read.
                data = self.stream.read(end + 1 if end >= 0 else len(ahead)) if ahead else b""
            else:
                data = self._read_some(1)
            if not data:
                raise BodyRefused(400, "the body ended inside its chunked encoding", "short_body")
            line += data
        line = line[:-1]
        if len(line) > limit:
            raise BodyRefused(400, "invalid chunked encoding", "bad_framing")
        return line.rstrip(b"\r")


class RefusalLog:
    """Logs refusals at most ``per_minute`` lines a minute per reason.

    A flood of hostile requests must not become a flood of log lines: past the budget,
    refusals are counted, and the next line of that reason says how many were not logged.
    Reasons are a fixed set of short names, so the counters stay small.
    """

    def __init__(self, per_minute=10, window=60.0):
        self.per_minute = per_minute
        self.window = window
        self.lock = threading.Lock()
        self.state = {}  # reason -> [window start, logged, suppressed]

    def log(self, reason, status, message, *args):
        now = time.monotonic()
        with self.lock:
            start, logged, suppressed = self.state.get(reason, (now, 0, 0))
            if now - start >= self.window:
                start, logged = now, 0
            if logged >= self.per_minute:
                self.state[reason] = [start, logged, suppressed + 1]
                return False
            self.state[reason] = [start, logged + 1, 0]
        if suppressed:
            _logger.info(
                "PSA webhook refused (%s, %s): " + message + " [%s similar refusals not logged]",
                status,
                reason,
                *args,
                suppressed,
            )
        else:
            _logger.info("PSA webhook refused (%s, %s): " + message, status, reason, *args)
        return True

    def suppressed(self, reason):
        with self.lock:
            return self.state.get(reason, (0, 0, 0))[2]


refusal_log = RefusalLog()


def log_refusal(status, message, reason=None):
    """Log a refusal (rate-limited); ``message`` is logged as data, never as a format."""
    refusal_log.log(reason or str(status), status, "%s", message[:300])


class WebhookAnswer:
    """What a webhook request is answered: the status, a message for the sender, the
    reason of a refusal (logged, never sent) and what the body adds (the event ids).

    ``psa.event._accept_webhook`` decides it; the controller and the fast intake only
    render it (:meth:`body`), so both answer a request the same way.
    """

    __slots__ = ("extra", "message", "reason", "status")

    def __init__(self, status, message, reason=None, **extra):
        self.status, self.message, self.reason, self.extra = status, message, reason, extra

    def __repr__(self):
        return f"WebhookAnswer({self.status}, {self.message!r}, {self.reason!r})"

    def body(self):
        """The JSON body; a refusal is logged (rate-limited) as it is rendered."""
        if self.status >= 400:
            log_refusal(self.status, self.message, self.reason)
        return json.dumps({"status": self.status, "message": self.message, **self.extra})
