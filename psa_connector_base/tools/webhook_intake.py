"""The webhook fast intake: ``POST /psa/webhook/<code>`` accepted before Odoo builds a request.

Why: a PSA posts a webhook per change, and month-end brings bursts of them. Through
Odoo's request machinery (session, database routing, registry signalling, environment,
route matching, controller dispatch) the accept path cost about three times the work of
verifying and storing the event itself, and two workers could not answer 200 requests a
second within 50 ms (``make bench``, README "Benchmark").

What: first the guard every webhook request passes (``webhook_guard``): a code of the
wrong format is a 404 with no lookup; the body's framing, the backend (one indexed query,
nothing cached, no cursor held while the body arrives), its size limit and a deadline are
checked before more than ``limit + 1`` bytes are read; these refusals are answered here,
before Odoo's request machinery could parse a form body. Then the same acceptance as the
controller's, and nothing else: ``psa.event._accept_webhook`` on an environment of a
cursor of the database's registry (a test cursor under tests), committed before the
answer. When the whole declared body has already arrived (it is in the buffer of the
connection's reader: a webhook of a few kilobytes usually comes in the packets of its
headers), nothing is left to wait for: the backend is then read, and its limit checked,
on the cursor that accepts, one cursor instead of two (a pool borrow, BEGIN and COMMIT
fewer: 3 of the 9 statements a webhook cost). Requests for which the database cannot be
chosen (several databases and no filter, or a session cookie, which Odoo may route
elsewhere) are left to the controller with the bounded body; so is a request whose
acceptance raised unexpectedly (the controller runs the same acceptance and answers as
Odoo answers errors). While PostgreSQL cannot be reached the intake answers 503 with
``Retry-After``, so the PSA retries (Odoo's no-database fallback would answer 404, which
a PSA may take as final).

The direct accept (``accept_direct``): in a prefork HTTP worker, which serves one request
at a time, a canonical webhook whose backend this process read less than SETTINGS_TTL
seconds ago, that verifies and reads, and that joins a drain this process has seen
committed, is stored by its one ``INSERT`` run as a transaction of its own (autocommit) on
a connection the worker keeps: one round trip to PostgreSQL instead of five (the pool's
``DISCARD ALL``, ``BEGIN``, the backend's settings, the ``INSERT``, ``COMMIT``; ``make
bench``: those waits were two thirds of a worker's time on a webhook), still committed
and flushed before the 202. Everything else (a refusal, an unknown backend, the first
webhook of a drain step, any error) goes the way above, which answers and records it.
``psa_connector_webhook_direct_accept = False`` turns it off.

This is the only code of the suite that touches Odoo's request handling.

Opt-in by configuration, on by default: installed by the module's ``post_load`` hook;
``psa_connector_webhook_fast_intake = False`` in the Odoo configuration file turns the
fast accept path off (the guard stays, and the controller accepts).
"""

import io
import json
import logging
import random
import re
import threading
import time
from datetime import UTC, datetime

import psycopg2
from werkzeug.datastructures import EnvironHeaders
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_current_url

import odoo.http
from odoo import api, sql_db
from odoo.modules.registry import Registry
from odoo.service import db as db_service
from odoo.service.model import MAX_TRIES_ON_CONCURRENCY_FAILURE
from odoo.tools import config

from . import crypto, event_store
from .codec import decode_raw_body
from .webhook_guard import (
    INVALID_CODE,
    UNKNOWN_BACKEND,
    WEBHOOK_FIELDS_ORDER,
    BodyRefused,
    WebhookAnswer,
    body_ceiling,
    check_declared,
    framing,
    is_valid_code,
    log_refusal,
    read_body,
)

_logger = logging.getLogger(__name__)

# Anything under /psa/webhook/: codes that do not match the code format are refused here.
WEBHOOK_PATH = re.compile(r"/psa/webhook/([^/]*)(?:/([^/]*))?")
RETRY_AFTER_SECONDS = 5
BODY_LIMIT = WEBHOOK_FIELDS_ORDER.index("max_body_bytes")
# What odoo.service.model.PG_CONCURRENCY_ERRORS_TO_RETRY names by code, as psycopg2 classes.
CONCURRENCY_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
)

# (dbname, "module.name") -> database id of the records the intake needs by XML id.
_xmlid_cache = {}
# The direct accept: how long a backend's webhook settings read by this process are used
# (a backend deactivated, or its secret changed, takes this long to reach it), and
# (dbname, code) -> (monotonic time read, settings, drains' linger) of what it read.
SETTINGS_TTL = 1.0
_direct_settings = {}
# dbname -> this worker process's own connection (autocommit) for the direct accept.
_direct_connections = {}
# After its connection failed, a worker leaves the direct accept to the pooled way for
# this many seconds (dbname -> monotonic time it may try again): while PostgreSQL is down
# every webhook would otherwise try a new connection first and log a line about it.
DIRECT_RETRY_AFTER = 5.0
_direct_paused_until = {}
LINGER_PARAM = "psa_connector_base.webhook_dispatch_linger"
SECRET_INDEX = WEBHOOK_FIELDS_ORDER.index("webhook_secret_encrypted")
TOLERANCE_INDEX = WEBHOOK_FIELDS_ORDER.index("timestamp_tolerance")


def is_enabled():
    return str(config.get("psa_connector_webhook_fast_intake", True)).lower() not in (
        "0",
        "false",
        "no",
        "off",
    )


def direct_accept_enabled():
    """The direct accept runs in prefork HTTP workers only: one request at a time per
    process, so one connection per process (never in the threaded or gevent server)."""
    return (
        bool(config.get("workers"))
        and not odoo.evented
        and str(config.get("psa_connector_webhook_direct_accept", True)).lower()
        not in ("0", "false", "no", "off")
    )


def install():
    """Put the intake in front of Odoo's WSGI application (once per process)."""
    application_class = odoo.http.Application
    if getattr(application_class.__call__, "psa_fast_intake", False):
        return
    odoo_call = application_class.__call__

    def __call__(self, environ, start_response):
        response = intake(environ)
        if response is not None:
            return response(environ, start_response)
        return odoo_call(self, environ, start_response)

    __call__.psa_fast_intake = True
    application_class.__call__ = __call__


def intake(environ):
    """The answer to a webhook accepted or refused here, or None to let Odoo serve it.

    Every ``POST /psa/webhook/...`` passes the guard (``webhook_guard``) here, before
    Odoo's request machinery could parse its body: the code format (404, no lookup),
    the framing (400/411), the backend (404) and its body limit (413), the deadline
    (408). The body Odoo then sees, if any, is the bounded copy read here.
    """
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    match = WEBHOOK_PATH.fullmatch(environ.get("PATH_INFO", ""))
    if not match:
        return None
    code, vendor = match.groups()
    if not is_valid_code(code) or (vendor is not None and not is_valid_code(vendor)):
        return _refuse(*INVALID_CODE, detail=f"code {code[:64]!r}")
    try:
        framing(environ)
        dbname = _single_database(environ.get("HTTP_HOST", ""))
    except BodyRefused as err:
        return _refuse(err.status, err.message, err.reason)
    except psycopg2.OperationalError as err:
        return _unavailable("(listing the databases)", err)
    thread = threading.current_thread()
    try:
        if not dbname:
            # Odoo may still find a database (a session cookie names one): bounded anyway.
            read_body(environ, body_ceiling())
            return None
        thread.dbname, thread.query_count, thread.query_time = dbname, 0, 0
        thread.perf_t0 = time.time()
        registry = Registry(dbname)
        if "psa.backend" not in registry or not registry.ready:
            read_body(environ, body_ceiling())
            return None
        accepts = is_enabled() and "session_id=" not in environ.get("HTTP_COOKIE", "")
        if accepts and _body_received(environ):
            # Read from memory, no cursor held: the backend and its limit are checked
            # on the cursor that accepts.
            body = read_body(environ, body_ceiling())
            if vendor is None and direct_accept_enabled():
                answer = _accept_direct_here(environ, dbname, code, body)
                if answer is not None:
                    return _render(answer)
            return _accept_retrying(environ, registry, dbname, code, None, body, vendor)
        backend = _backend(registry, code)
        if not backend:
            return _refuse(*UNKNOWN_BACKEND, detail=f"code {code!r}")
        body = read_body(environ, backend[BODY_LIMIT])
        if not accepts:
            # A request with a session is the controller's (Odoo may route it to the
            # session's database); the intake has only bounded it (and answers 503 while
            # PostgreSQL is down, instead of Odoo's no-database 404).
            return None
        return _accept_retrying(environ, registry, dbname, code, backend, body, vendor)
    except BodyRefused as err:
        return _refuse(err.status, err.message, err.reason)
    except psycopg2.OperationalError as err:
        return _unavailable(dbname, err)
    except Exception:  # the controller answers, and records, whatever went wrong
        _logger.warning("PSA webhook intake left a request to Odoo", exc_info=True)
        _xmlid_cache.clear()
        return None


def _accept_retrying(environ, registry, dbname, code, backend, body, vendor):
    """``_accept``, tried again on a concurrency error, as Odoo's ``retrying`` does.

    A re-delivery racing the first delivery of the same event makes the second insert a
    serialization failure under Odoo's isolation level; tried again, it sees the stored
    event and answers 200. The body was read once, before the first try.
    """
    for attempt in range(1, MAX_TRIES_ON_CONCURRENCY_FAILURE + 1):
        try:
            return _accept(environ, registry, dbname, code, backend, body, vendor)
        except CONCURRENCY_ERRORS:
            if attempt == MAX_TRIES_ON_CONCURRENCY_FAILURE:
                raise
            time.sleep(random.uniform(0.0, 2**attempt / 10))
    return None


def _single_database(host):
    """The one database a request to ``host`` is for, or None to let Odoo choose.

    Raises ``psycopg2.OperationalError`` when the server cannot be reached to list the
    databases (a ``dbfilter`` set, or no ``db_name``): ``odoo.http.db_list`` would read
    that as "no database", and Odoo's no-database fallback answers the PSA 404.
    """
    dbs = odoo.http.db_filter(db_service.list_dbs(force=True), host=host)
    return dbs[0] if len(dbs) == 1 else None


def _body_received(environ):
    """Whether the whole declared body has already arrived: it is in the buffer of the
    connection's reader (werkzeug's ``rfile``), so reading it waits for nothing and a
    cursor taken before it is held for no network wait. ``peek`` on the socket made
    non-blocking for the call: it reads only what has arrived, never waits for more.
    False whenever that cannot be told (chunked framing, no socket, no buffered reader).
    """
    kind, length = framing(environ)
    stream = environ.get("wsgi.input")
    sock = environ.get("socket") or environ.get("werkzeug.socket")
    if kind != "length" or not 0 < length <= body_ceiling() or sock is None:
        return False
    if not isinstance(stream, io.BufferedReader):
        return False
    try:
        timeout = sock.gettimeout()
        sock.settimeout(0)
        try:
            return len(stream.peek(length)) >= length
        finally:
            sock.settimeout(timeout)
    except OSError:
        return False


def _backend(registry, code):
    """The webhook settings (``psa.backend`` WEBHOOK_FIELDS_ORDER) of the active backend
    of this code, or None. Nothing is cached: an unknown code costs one indexed query
    and no memory. The cursor is closed before the body is read, so a slow body holds no
    database connection."""
    with registry.cursor() as cr:
        return _backend_settings(cr, code)


def _backend_settings(cr, code):
    cr.execute(
        f"""SELECT {", ".join(WEBHOOK_FIELDS_ORDER)}
              FROM psa_backend WHERE code = %s AND active
          ORDER BY sequence, name, id LIMIT 1""",
        [code],
    )
    return cr.fetchone()


def _unavailable(dbname, err):
    _logger.warning("PSA webhook intake: database %s unreachable: %s", dbname, err)
    answer = WebhookAnswer(503, "the database is unavailable; retry later", "unavailable")
    return _render(answer, retry_after=True)


def _refuse(status, message, reason, detail=None):
    log_refusal(status, f"{message} ({detail})" if detail else message, reason)
    return Response(
        json.dumps({"status": status, "message": message}),
        status=status,
        headers=[("Content-Type", "application/json")],
    )


def _accept(environ, registry, dbname, code, settings, body, vendor):
    """Accept ``body`` on one cursor, committed before the answer. ``settings`` None: the
    body was read before its backend was known (it had all arrived), so the backend is
    read here, and its limit checked, as ``intake`` does before reading a body."""
    with registry.cursor() as cr:
        if settings is None:
            settings = _backend_settings(cr, code)
            if not settings:
                return _refuse(*UNKNOWN_BACKEND, detail=f"code {code!r}")
            check_declared(environ, settings[BODY_LIMIT])
        env = api.Environment(cr, _xmlid(cr, dbname, "base.public_user"), {})
        backend = env["psa.backend"]._webhook_backend(settings)
        answer = (
            env["psa.event"]
            .sudo()
            ._accept_webhook(
                backend,
                EnvironHeaders(environ),
                body,
                vendor=vendor,
                request_url=get_current_url(environ),
            )
        )
        # This is the request's own cursor, not a job's: a 202 promises the row is stored.
        cr.commit()  # pylint: disable=invalid-commit
    return _render(answer)


def _accept_direct_here(environ, dbname, code, body):
    """``accept_direct`` on this worker's own connection; None (the way through a pooled
    cursor) whenever that connection fails: it is dropped, and made again at the first
    webhook DIRECT_RETRY_AFTER seconds later."""
    if time.monotonic() < _direct_paused_until.get(dbname, 0.0):
        return None
    try:
        cnx = _direct_connection(dbname)
        with cnx.cursor() as cr:
            return accept_direct(cr, dbname, code, EnvironHeaders(environ), body, environ)
    except psycopg2.Error as err:
        _logger.info(
            "PSA webhook direct accept paused for %ss: %s", DIRECT_RETRY_AFTER, str(err).strip()
        )
        _direct_paused_until[dbname] = time.monotonic() + DIRECT_RETRY_AFTER
        cnx = _direct_connections.pop(dbname, None)
        if cnx is not None:
            cnx.close()
        return None


def _direct_connection(dbname):
    cnx = _direct_connections.get(dbname)
    if cnx is None or cnx.closed:
        _db, info = sql_db.connection_info_for(dbname)
        cnx = psycopg2.connect(**info)
        cnx.autocommit = True
        _direct_connections[dbname] = cnx
    return cnx


def accept_direct(cr, dbname, code, headers, body, environ=None, now=None):
    """The ``WebhookAnswer`` of a canonical webhook stored by one ``INSERT`` on ``cr``
    (its own transaction on the worker's autocommit connection), or None for the way
    through a pooled cursor: the backend unknown here, the body refused or unusable
    (that way records it), its drain not seen committed by this process (that way
    queues it). The row and the answer are those of ``psa.event._accept_webhook``."""
    # Late import: the models import this module's package.
    from ..models import psa_event

    now = time.time() if now is None else now
    known = _direct_settings.get((dbname, code))
    if known is None or time.monotonic() - known[0] > SETTINGS_TTL:
        cr.execute(
            f"""SELECT {", ".join(f"b.{name}" for name in WEBHOOK_FIELDS_ORDER)},
                       (SELECT value FROM ir_config_parameter WHERE key = %s)
                  FROM psa_backend b WHERE b.code = %s AND b.active
              ORDER BY b.sequence, b.name, b.id LIMIT 1""",
            [LINGER_PARAM, code],
        )
        row = cr.fetchone()
        if not row:
            _direct_settings.pop((dbname, code), None)
            return None
        known = (time.monotonic(), row[:-1], psa_event.bounded_linger(row[-1] or None))
        if len(_direct_settings) > 1000:
            _direct_settings.clear()
        _direct_settings[(dbname, code)] = known
    _read_at, settings, linger = known
    if environ is not None:
        check_declared(environ, settings[BODY_LIMIT])
    try:
        secret = crypto.decrypt(settings[SECRET_INDEX])
    except Exception:  # no key, a foreign format: the pooled way answers 503 and logs it
        return None
    refusal, envelope = event_store.read_canonical(
        headers, body, secret, settings[TOLERANCE_INDEX], now
    )
    if refusal:
        return None
    object_type = event_store.split_type(envelope["type"])[0]
    step = psa_event.drain_step(now, linger)
    if not psa_event.drain_seen_committed(dbname, settings[0], object_type, step):
        return None
    row = event_store.webhook_row(envelope, decode_raw_body(body))
    query, params = event_store.insert_statement(
        settings[0],
        settings[2],
        _xmlid(cr, dbname, "base.public_user"),
        datetime.now(UTC).replace(tzinfo=None),
        [row],
    )
    cr.execute(query, params)
    inserted = cr.fetchall()
    if not inserted:
        return WebhookAnswer(200, "duplicate: already received", event=str(envelope["id"]))
    _id, event_uid, correlation_id = inserted[0]
    return WebhookAnswer(202, "accepted", event=event_uid, correlation_id=correlation_id)


def _xmlid(cr, dbname, xmlid):
    key = (dbname, xmlid)
    if key not in _xmlid_cache:
        module, name = xmlid.split(".")
        cr.execute(
            "SELECT res_id FROM ir_model_data WHERE module = %s AND name = %s", [module, name]
        )
        row = cr.fetchone()
        if not row:
            raise LookupError(f"no record {xmlid} in {dbname}")
        _xmlid_cache[key] = row[0]
    return _xmlid_cache[key]


def _render(answer, retry_after=False):
    headers = [("Content-Type", "application/json")]
    if retry_after:
        headers.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
    return Response(answer.body(), status=answer.status, headers=headers)
