"""One circuit breaker per backend, shared by every worker and node.

Closed: calls go out. A call that fails (5xx, 429, timeout, dropped connection, a body
that is not JSON) opens it until ``max(now + backoff, now + Retry-After)``; the backoff
is the backend's *Breaker open (s)*, doubled per consecutive failure up to *Breaker cap
(s)*. Open: no call goes out; the job is retried when the breaker may be probed, without
counting as an attempt. Once ``open_until`` has passed, exactly one call (the half-open
probe) is let through, claimed by one atomic compare-and-set on this table; its success
closes the breaker, its failure opens it again with a longer backoff.

The state lives in the database, written in short transactions of their own (the
job's transaction is rolled back when it raises to be retried), so every worker of
every node sees the same breaker.
"""

import logging
import math
from datetime import timedelta

from psycopg2 import OperationalError

from odoo import api, fields, models

from ..tools.errors import BreakerOpen
from ..tools.jobs import execute_racing, is_concurrency_error

_logger = logging.getLogger(__name__)

STATES = [("closed", "Closed"), ("open", "Open"), ("half_open", "Half-open (probing)")]
# While another job probes the remote system, the others look again this often.
PROBE_POLL_SECONDS = 2
# A probe's claim outlives its call (the backend's timeout) by this much; a probe whose
# worker died frees the breaker when the claim expires.
PROBE_MARGIN_SECONDS = 10
RECORD_RETRIES = 5


class PsaBackendBreaker(models.Model):
    _name = "psa.backend.breaker"
    _description = "PSA Connector Circuit Breaker"
    _rec_name = "backend_id"
    _order = "backend_id"

    backend_id = fields.Many2one(
        "psa.backend", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    state = fields.Selection(STATES, required=True, default="closed", readonly=True)
    open_until = fields.Datetime(
        readonly=True, help="No call goes out before this moment; then one probe may."
    )
    probe_until = fields.Datetime(
        readonly=True, help="The running half-open probe's claim expires at this moment."
    )
    failures = fields.Integer(
        string="Consecutive failures",
        readonly=True,
        help="Failed calls since the breaker last closed; each one doubles the backoff.",
    )
    last_error = fields.Char(readonly=True)
    last_change = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("backend_unique", "unique(backend_id)", "A backend has one circuit breaker."),
    ]


def backoff_seconds(failures, open_seconds, max_open_seconds, retry_after=None, max_wait=None):
    """How long the breaker stays open after its ``failures``-th consecutive failure."""
    seconds = min(max_open_seconds, open_seconds * 2 ** max(0, failures - 1))
    if retry_after:
        # The remote system's own Retry-After, when longer, up to the backend's limit.
        seconds = max(seconds, min(retry_after, max(max_wait or 0, open_seconds)))
    return seconds


class CircuitBreaker:
    """The gate an adapter asks before each call, for one backend (see the module).

    One instance per adapter: once it found the breaker closed (or won the probe and
    succeeded), the pages that follow go out without asking the database again.
    """

    def __init__(self, backend):
        backend.ensure_one()
        self.registry = backend.env.registry
        self.uid = backend.env.uid
        self.backend_id = backend.id
        self.backend_name = backend.name
        self._ = backend.env._
        self.open_seconds = max(1.0, backend.breaker_open_seconds or 10.0)
        self.max_open_seconds = max(self.open_seconds, backend.breaker_max_open_seconds)
        self.max_retry_wait = backend.max_retry_wait
        self.probe_lease = max(1.0, backend.timeout) + PROBE_MARGIN_SECONDS
        self.passed = False  # this instance may call: found closed, or holds the probe
        self.probing = False

    # The adapter's three calls ---------------------------------------------------------

    def before_call(self):
        """Return when a call may go out; raise BreakerOpen (no call made) otherwise."""
        if self.passed:
            return
        try:
            allowed, probing, wait = self._transaction(self._claim, retries=1)
        except OperationalError as err:
            if not is_concurrency_error(err):
                raise
            # Another worker changed the breaker at this very moment (claimed the probe).
            allowed, probing, wait = False, False, PROBE_POLL_SECONDS
        if allowed:
            self.passed, self.probing = True, probing
            return
        raise BreakerOpen(
            self._(
                "No call made to %(backend)s: its circuit breaker is open after the remote "
                "system failed; tried again in %(seconds)s s.",
                backend=self.backend_name,
                seconds=wait,
            ),
            retry_after=wait,
        )

    def succeeded(self):
        """The remote system answered: a probe's answer closes the breaker."""
        if self.probing:
            self.probing = False
            self._transaction(self._close)

    def failed(self, error):
        """The call failed in a way a later call may not: open (or re-open) the breaker.
        Sets ``error.retry_after`` to the seconds until the next call may be tried."""
        self.passed = False
        probing, self.probing = self.probing, False
        error.retry_after = self._transaction(lambda cr: self._open(cr, error, probing))

    def released(self):
        """The call ended without an answer from the remote system (refused before it
        went out): a probe hands its claim back so the next job may probe at once."""
        self.passed = False
        if self.probing:
            self.probing = False
            self._transaction(self._release)

    # Transactions of their own -------------------------------------------------------

    def _transaction(self, work, retries=RECORD_RETRIES):
        for attempt in range(1, retries + 1):
            try:
                with self.registry.cursor() as cr:
                    return work(cr)
            except OperationalError as err:
                if not is_concurrency_error(err) or attempt >= retries:
                    raise

    def _row(self, cr, lock=False):
        execute_racing(
            cr,
            "SELECT state, open_until, probe_until, failures, (now() AT TIME ZONE 'UTC') "
            "FROM psa_backend_breaker WHERE backend_id = %s" + (" FOR UPDATE" if lock else ""),
            [self.backend_id],
        )
        return cr.fetchone()

    def _claim(self, cr):
        row = self._row(cr)
        if not row or row[0] == "closed":
            return True, False, 0
        state, open_until, probe_until, _failures, now = row
        if open_until and open_until > now:
            return False, False, _seconds(open_until - now)
        if state == "half_open" and probe_until and probe_until > now:
            return False, False, min(PROBE_POLL_SECONDS, _seconds(probe_until - now))
        # Compare-and-set: of the jobs that saw this row, one moves it to half-open; the
        # others fail to serialize (Odoo's REPEATABLE READ) or match nothing, and wait.
        execute_racing(
            cr,
            """
            UPDATE psa_backend_breaker
               SET state = 'half_open', probe_until = %s, last_change = %s,
                   write_date = %s, write_uid = %s
             WHERE backend_id = %s AND state = %s
               AND open_until IS NOT DISTINCT FROM %s AND probe_until IS NOT DISTINCT FROM %s
            RETURNING id
            """,
            [
                now + timedelta(seconds=self.probe_lease),
                now,
                now,
                self.uid,
                self.backend_id,
                state,
                open_until,
                probe_until,
            ],
        )
        if not cr.fetchone():
            return False, False, PROBE_POLL_SECONDS
        _logger.info("Circuit breaker of backend %s: half-open, one probe", self.backend_id)
        return True, True, 0

    def _open(self, cr, error, probing):
        execute_racing(
            cr,
            """
            INSERT INTO psa_backend_breaker
                   (backend_id, company_id, state, failures, create_uid, create_date,
                    write_uid, write_date)
            SELECT id, company_id, 'closed', 0, %(uid)s, now() AT TIME ZONE 'UTC',
                   %(uid)s, now() AT TIME ZONE 'UTC'
              FROM psa_backend WHERE id = %(backend)s
            ON CONFLICT (backend_id) DO NOTHING
            """,
            {"uid": self.uid, "backend": self.backend_id},
        )
        row = self._row(cr, lock=True)
        if row is None:
            # The backend is not committed yet (its creating transaction is still open):
            # nothing to share with other workers; the job waits the breaker's time.
            return _seconds(timedelta(seconds=self.open_seconds))
        state, open_until, _probe_until, failures, now = row
        if not probing and state != "closed":
            # Another call, in flight with this one, already opened it (or probes it).
            return _seconds(open_until - now) if open_until and open_until > now else 1
        failures += 1
        seconds = backoff_seconds(
            failures,
            self.open_seconds,
            self.max_open_seconds,
            retry_after=error.retry_after,
            max_wait=self.max_retry_wait,
        )
        seconds = _seconds(timedelta(seconds=seconds))
        execute_racing(
            cr,
            """
            UPDATE psa_backend_breaker
               SET state = 'open', failures = %s, open_until = %s, probe_until = NULL,
                   last_error = %s, last_change = %s, write_date = %s, write_uid = %s
             WHERE backend_id = %s
            """,
            [
                failures,
                now + timedelta(seconds=seconds),
                (error.message or "")[:500],
                now,
                now,
                self.uid,
                self.backend_id,
            ],
        )
        message = self._(
            "Circuit breaker opened for %(seconds)s s after %(failures)s consecutive "
            "failure(s): %(error)s",
            seconds=seconds,
            failures=failures,
            error=(error.message or "")[:300],
        )
        _logger.warning("Backend %s: %s", self.backend_id, message)
        self._audit(cr, "failed", message)
        return seconds

    def _close(self, cr):
        execute_racing(
            cr,
            """
            UPDATE psa_backend_breaker
               SET state = 'closed', failures = 0, open_until = NULL, probe_until = NULL,
                   last_change = now() AT TIME ZONE 'UTC',
                   write_date = now() AT TIME ZONE 'UTC', write_uid = %s
             WHERE backend_id = %s AND state != 'closed'
            RETURNING failures
            """,
            [self.uid, self.backend_id],
        )
        if cr.fetchone():
            message = self._("Circuit breaker closed: the remote system answered the probe.")
            _logger.info("Backend %s: %s", self.backend_id, message)
            self._audit(cr, "success", message)

    def _release(self, cr):
        execute_racing(
            cr,
            "UPDATE psa_backend_breaker SET state = 'open', probe_until = NULL "
            "WHERE backend_id = %s AND state = 'half_open'",
            [self.backend_id],
        )

    def _audit(self, cr, outcome, message):
        # sudo: the audit log is append-only and written by the connector itself; the
        # row names this backend only (an id held since the adapter was made).
        env = api.Environment(cr, self.uid, {}, su=True)
        env["psa.audit.log"]._log(
            env["psa.backend"].browse(self.backend_id),
            "out",
            "breaker",
            outcome=outcome,
            message=message,
        )


def _seconds(delta):
    return max(1, math.ceil(delta.total_seconds()))
