import itertools
import json
import logging
import time
import traceback
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from psycopg2 import OperationalError

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.queue_job.exception import RetryableJobError

from ..tools import event_store
from ..tools.access import workflow_write
from ..tools.codec import decode_raw_body
from ..tools.errors import BreakerOpen, PayloadInvalid, RemoteServiceError, SyncError
from ..tools.jobs import execute_racing, failure_recorded, is_concurrency_error, is_lost_race
from ..tools.signature import is_fresh
from ..tools.versions import normalize_timestamp, to_odoo_datetime
from ..tools.webhook_guard import WebhookAnswer

_logger = logging.getLogger(__name__)

# Webhooks are the near-real-time path: small chunks keep the first change of a burst
# close to its arrival, while a burst still costs a job per hundred events, not per event.
WEBHOOK_CHUNK_SIZE = 100
# A burst a drain finds waiting all at once (held back while it arrived) is late by a step
# already: it is split into this many chunks (of WEBHOOK_CHUNK_SIZE to PULL_CHUNK_SIZE
# events), not into chunks of a hundred that each pay a job, a transaction, the lookups and
# the recomputations again (`make bench`: a 2,000-webhook burst applied at a third of the
# pull path's rate).
WEBHOOK_BURST_CHUNKS = 4
# Pulled changes are applied in chunks of up to this many events (several pages): every
# chunk pays a transaction, its lookups and Odoo's recomputations over what it touched
# (a task's hours, a sale line's delivered quantity, which grow with the lines already
# there), so month-end volumes apply faster in fewer, larger chunks.
PULL_CHUNK_SIZE = 2000
# What one drain job claims at most; more waiting, it queues the next drain.
WEBHOOK_DRAIN_LIMIT = 5000
# A drain applies what it claimed in its own job, as one chunk, when that is at most this
# many events and no chunk of the same kind is still queued ahead of them: a chunk job of
# its own would cost another trip through the job runner and an HTTP worker (the single
# change's latency), and what arrives while a drain applies waits for the next drain,
# which takes it all at once (the busier the stream, the larger its chunks).
WEBHOOK_APPLY_IN_DRAIN_LIMIT = PULL_CHUNK_SIZE
# Seconds a drain waits for a burst to gather (system parameter
# psa_connector_base.webhook_dispatch_linger, the grid step of the drains' etas): the
# latency a single webhook pays for bursts being queued as a few jobs instead of one
# job each. Below MIN_DRAIN_STEP, a burst would be a drain per few events.
WEBHOOK_DRAIN_LINGER = 0.5
MIN_DRAIN_STEP = 0.1
# While webhooks keep arriving faster than this (per second), a drain holds the burst
# back to the next step (psa_connector_base.webhook_burst_rate), never longer than
# psa_connector_base.webhook_burst_max_wait seconds for the oldest waiting event, so a
# sustained stream is applied at least that often.
WEBHOOK_BURST_RATE = 50.0
WEBHOOK_BURST_MAX_WAIT = 30.0
# (database, backend id, object type) -> the last grid step whose drain this process has
# seen committed (queued, or found queued, by a transaction that then committed): the
# other acceptances of that step need no query for it (``make bench``: one statement of
# the nine a webhook cost). Bounded: cleared when it holds this many kinds.
_drains_seen_committed = {}
DRAINS_SEEN_MAX = 1000
# The drain a webhook accepted now joins is the one of this many grid steps ahead (at
# least a linger after the acceptance, which has committed before the drain looks).
DRAIN_STEPS_AHEAD = 2
# A drain that held a burst back looks again when the burst may be over (its newest
# webhook a burst gap old, plus this margin), on a grid of MIN_DRAIN_STEP, when that
# comes before the next step: waiting for the step, a burst's end was seen a quarter to
# three quarters of a second late (`make bench`, the held drain of a 2,000-webhook burst).
BURST_RECHECK_MARGIN = 0.02


def bounded_linger(value):
    """The drains' grid step in seconds from psa_connector_base.webhook_dispatch_linger."""
    try:
        linger = float(value)
    except (TypeError, ValueError):
        linger = WEBHOOK_DRAIN_LINGER
    return min(max(linger, MIN_DRAIN_STEP), 10.0)


def drain_step(now, linger, steps_ahead=DRAIN_STEPS_AHEAD):
    return int(now // linger) + steps_ahead


def drain_seen_committed(dbname, backend_id, object_type, step):
    """Whether this process has seen the drain of this step committed (see
    ``_drains_seen_committed``)."""
    return _drains_seen_committed.get((dbname, backend_id, object_type)) == step


# Applied and skipped events are kept this many days (system parameter
# psa_connector_base.event_retention_days; 0 or less keeps them for ever), then the
# daily purge deletes them, this many per transaction.
EVENT_RETENTION_DAYS = 30
EVENT_PURGE_BATCH = 5000

EVENT_STATES = [
    ("pending", "Pending"),
    ("done", "Applied"),
    ("skipped", "Skipped"),
    ("waiting", "Waiting for a reference"),
    ("failed", "Failed"),
    ("ignored", "Ignored"),
]


class PsaEvent(models.Model):
    """One inbound change, exactly as received, and what became of it.

    Webhooks and scheduled pulls both store events here and process them through
    :meth:`_process_one`, so the two paths give the same result.
    """

    _name = "psa.event"
    _inherit = ["psa.workflow.guard.mixin"]
    _description = "PSA Connector Inbound Event"
    _order = "id desc"
    _rec_name = "event_uid"
    # An event is what the PSA sent and what became of it: the raw body, its state and
    # its job are set by the intake and the jobs only (an edited payload is replayed as
    # a new event, see psa.exception).
    _psa_workflow_fields = (
        "backend_id",
        "event_uid",
        "event_type",
        "object_type",
        "action",
        "external_id",
        "occurred_at",
        "source",
        "payload",
        "state",
        "result",
        "correlation_id",
        "job_uuid",
        "attempt_count",
        "processed_date",
        "replay_of_id",
    )

    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    event_uid = fields.Char(string="Event ID", required=True, index=True, readonly=True)
    event_type = fields.Char(required=True, readonly=True)
    object_type = fields.Char(index=True, readonly=True)
    action = fields.Char(readonly=True)
    external_id = fields.Char(string="External ID", index=True, readonly=True)
    occurred_at = fields.Datetime(readonly=True)
    source = fields.Selection(
        [("webhook", "Webhook"), ("pull", "Scheduled pull"), ("replay", "Replay")],
        required=True,
        readonly=True,
    )
    payload = fields.Text(readonly=True, help="The raw body as received, never altered.")
    state = fields.Selection(EVENT_STATES, default="pending", required=True, index=True)
    result = fields.Text(readonly=True)
    correlation_id = fields.Char(readonly=True, index=True, default=lambda self: uuid.uuid4().hex)
    job_uuid = fields.Char(readonly=True, index=True)
    attempt_count = fields.Integer(readonly=True)
    processed_date = fields.Datetime(readonly=True)
    replay_of_id = fields.Many2one("psa.event", readonly=True, ondelete="set null")
    exception_ids = fields.One2many("psa.exception", "event_id")

    _sql_constraints = [
        (
            "event_unique",
            "unique(backend_id, event_uid)",
            "An event id is received only once per backend.",
        ),
    ]

    def init(self):
        # The drains' query: only the few events awaiting a job are in this index.
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS psa_event_awaiting_dispatch_idx ON psa_event (id)
                WHERE state = 'pending' AND job_uuid IS NULL AND source = 'webhook'"""
        )

    # Receiving -------------------------------------------------------------------

    @api.model
    def _insert_if_new(self, backend, rows):
        """Insert events, skipping ids already received; return the new ones."""
        if not rows:
            return self.browse()
        inserted = event_store.insert_events(
            self.env.cr,
            backend.id,
            backend.company_id.id,
            self.env.uid,
            # The time of arrival to the microsecond (fields.Datetime.now() drops them): a
            # drain measures the rate of arrivals from create_date.
            datetime.now(UTC).replace(tzinfo=None),
            rows,
        )
        self.invalidate_model()
        new = self.browse([row[0] for row in inserted])
        # The webhook answer quotes both: known here, they need no read-back.
        for name, index in (("event_uid", 1), ("correlation_id", 2)):
            self.env.cache.update(new, self._fields[name], [row[index] for row in inserted])
        return new

    @api.model
    def _accept_webhook(self, backend, headers, raw_body, vendor=None, request_url=None):
        """Every acceptance rule of a webhook, in one place; returns its ``WebhookAnswer``.

        Called by the controller and by the fast intake (``tools/webhook_intake.py``) on
        a bounded body of an active backend (``tools/webhook_guard.py`` has refused the
        rest): check the timestamp and the signature (or let the vendor's adapter check
        its own), read the envelope(s), keep an unusable signed body in the exception
        queue (400), store each event once and schedule its drain (202; 200 when every
        event was already received). ``headers`` is any case-insensitive mapping;
        ``request_url`` the full URL called, for vendors that sign it (HubSpot).
        """
        if vendor is None:
            return self._accept_canonical_webhook(backend, headers, raw_body)
        return self._accept_vendor_webhook(
            backend, vendor, headers, raw_body, request_url=request_url
        )

    @api.model
    def _webhook_secret(self, backend):
        """The backend's signing secret, or the 503 that says it has none."""
        try:
            return backend._get_secret("webhook_secret")
        except UserError as err:
            _logger.error("PSA backend %s cannot verify webhooks: %s", backend.code, err)
            return WebhookAnswer(
                503, "the connector is not configured to verify webhooks", "no_secret"
            )

    @api.model
    def _accept_canonical_webhook(self, backend, headers, raw_body):
        now = time.time()
        if not is_fresh(headers.get("X-PSA-Timestamp", ""), now, backend.timestamp_tolerance):
            # Before the secret: a stale request is refused even when none is configured.
            return WebhookAnswer(401, "missing or stale X-PSA-Timestamp", "stale_timestamp")
        secret = self._webhook_secret(backend)
        if isinstance(secret, WebhookAnswer):
            return secret
        refusal, envelope = event_store.read_canonical(
            headers, raw_body, secret, backend.timestamp_tolerance, now
        )
        if refusal:
            kind, detail = refusal
            if kind == "stale_timestamp":
                return WebhookAnswer(401, "missing or stale X-PSA-Timestamp", kind)
            if kind == "bad_signature":
                return WebhookAnswer(401, "bad or missing signature", kind)
            return self._refuse_payload(backend, raw_body, detail)
        new = self._receive_envelopes(backend, [(envelope, raw_body)])
        if not new:
            return WebhookAnswer(200, "duplicate: already received", event=str(envelope["id"]))
        return WebhookAnswer(
            202, "accepted", event=new.event_uid, correlation_id=new.correlation_id
        )

    @api.model
    def _accept_vendor_webhook(self, backend, vendor, headers, raw_body, request_url=None):
        """A vendor's own webhook format: its adapter verifies and translates it."""
        try:
            adapter_class = backend._adapter_class()
        except RemoteServiceError:
            adapter_class = None
        if adapter_class is None or adapter_class.webhook_vendor != vendor:
            return WebhookAnswer(
                404, f"backend {backend.code} does not receive {vendor} webhooks", "wrong_vendor"
            )
        secret = self._webhook_secret(backend)
        if isinstance(secret, WebhookAnswer):
            return secret
        extra = {}
        if getattr(adapter_class, "webhook_signs_request", False):
            extra = {"method": "POST", "urls": self._webhook_urls(backend, request_url)}
        try:
            verified = adapter_class.verify_webhook(
                secret, headers, raw_body, time.time(), backend.timestamp_tolerance, **extra
            )
        except Exception:  # hostile headers must never become a 500
            _logger.warning("%s signature check failed on odd headers", vendor, exc_info=True)
            verified = False
        if not verified:
            return WebhookAnswer(401, "bad, missing or stale signature", "bad_signature")
        try:
            envelopes = adapter_class.webhook_envelopes(json.loads(raw_body))
        except (UnicodeDecodeError, ValueError) as err:
            return self._refuse_payload(backend, raw_body, f"unusable {vendor} webhook: {err}")
        except RecursionError:
            return self._refuse_payload(backend, raw_body, "malformed JSON: nested too deeply")
        except Exception as err:  # a signed body the adapter cannot read: keep it, 400
            _logger.warning("%s webhook could not be translated", vendor, exc_info=True)
            return self._refuse_payload(
                backend, raw_body, f"{vendor} webhook of an unexpected shape: {err!r}"
            )
        if not isinstance(envelopes, list):
            return self._refuse_payload(backend, raw_body, f"{vendor} webhook gave no event list")
        for envelope in envelopes:
            problems = event_store.envelope_problems(envelope)
            if problems:
                return self._refuse_payload(backend, raw_body, "; ".join(problems[:5]))
        new = self._receive_envelopes(
            backend, [(envelope, json.dumps(envelope).encode()) for envelope in envelopes]
        )
        new_uids = set(new.mapped("event_uid"))
        received = [
            {"event": str(envelope["id"]), "new": str(envelope["id"]) in new_uids}
            for envelope in envelopes
        ]
        if received and not new:
            return WebhookAnswer(200, "duplicate: already received", events=received)
        return WebhookAnswer(202, "accepted", events=received)

    @api.model
    def _webhook_urls(self, backend, request_url):
        """The URLs a vendor that signs the URL (HubSpot) may have called: the one this
        server saw and, behind a proxy that rewrites scheme or host, the same path and
        query under the database's public base URL."""
        urls = [request_url] if request_url else []
        if request_url:
            parts = urlsplit(request_url)
            base = self.env["ir.config_parameter"].sudo().get_param("web.base.url") or ""
            if base:
                public = base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
                if public not in urls:
                    urls.append(public)
        return urls

    @api.model
    def _refuse_payload(self, backend, raw_body, reason):
        """A signed but unusable body: kept whole in the exception queue, answered 400."""
        self.env["psa.exception"].sudo()._record_invalid_webhook(backend, raw_body, reason)
        return WebhookAnswer(400, f"invalid envelope: {reason}", "invalid_payload")

    @api.model
    def _receive_envelopes(self, backend, envelopes):
        """Store verified, schema-valid envelopes ``[(envelope, raw body)]`` received by
        webhook (an id already received is skipped) and schedule their drains; return
        the new events."""
        rows = [
            event_store.webhook_row(envelope, decode_raw_body(raw_body))
            for envelope, raw_body in envelopes
        ]
        new = self._insert_if_new(backend, rows)
        if new:
            self._schedule_drain(
                backend, {event_store.split_type(row["event_type"])[0] for row in rows}
            )
        return new

    @api.model
    def _receive_webhook(self, backend, envelope, raw_body):
        """Store one verified envelope as a webhook would; return (event, is_new).

        For tests, demo data and scripts that have no HTTP request to make.
        """
        new = self._receive_envelopes(backend, [(envelope, raw_body)])
        if new:
            return new, True
        existing = self.search(
            [("backend_id", "=", backend.id), ("event_uid", "=", str(envelope["id"]))], limit=1
        )
        return existing, False

    @api.model
    def _pull_uid(self, object_type, record):
        """One event per version of a pulled record: pulling it again stores nothing."""
        stamp = normalize_timestamp(record.get("updated_at")) or record.get("version") or ""
        return f"pull:{object_type}:{record.get('id')}:{stamp}"

    @api.model
    def _store_pulled(self, backend, object_type, records):
        """Store pulled records as events; a version already stored is not stored twice."""
        rows = []
        for record in records:
            action = "deleted" if record.get("deleted") else "updated"
            rows.append(
                {
                    "event_uid": self._pull_uid(object_type, record),
                    "event_type": f"{object_type}.{action}",
                    "external_id": str(record.get("id")),
                    "occurred_at": to_odoo_datetime(record.get("updated_at")),
                    "source": "pull",
                    "payload": json.dumps({"data": record}, ensure_ascii=False),
                }
            )
        return self._insert_if_new(backend, rows)

    @api.model
    def _requeue_pulled(self, backend, object_type, records):
        """Queue records read again from the remote system through the normal import path.

        What reconciliations re-import: new versions are stored and queued; versions
        already received (e.g. failed earlier) are retried rather than stored again.
        Returns (new events, earlier events retried).
        """
        new_events = self._store_pulled(backend, object_type, records)
        uids = [self._pull_uid(object_type, record) for record in records]
        earlier = (
            self.search([("backend_id", "=", backend.id), ("event_uid", "in", uids)]) - new_events
        )
        new_events._enqueue_batch()
        earlier._retry()
        return new_events, earlier.filtered(lambda e: e.state == "pending")

    # Queueing ---------------------------------------------------------------------

    def _enqueue(self):
        Importer = self.env["psa.importer"]
        for event in self:
            lane = event._lanes()[0][0]
            job = (
                event._as_job_user()
                .with_delay(
                    priority=Importer._priority_for(event.object_type),
                    # The chunks' channel too: one event and a chunk holding another
                    # version of the same record must not race each other.
                    channel=Importer._channel_for(event.object_type, lane),
                    description=f"{event.backend_id.name}: {event.event_type} {event.external_id}",
                    identity_key=f"psa.event:{event.id}:{event.attempt_count}",
                )
                ._process_job()
            )
            with workflow_write():
                event.job_uuid = job.uuid

    def _enqueue_batch(self, chunk_size=PULL_CHUNK_SIZE, hold_partial=False, lane_of=None):
        """One job per chunk: month-end pulls should not mean one job per record.

        Chunks are cut per lane (see psa.importer._psa_lane_from). With ``hold_partial``,
        a lane's last chunk smaller than ``chunk_size`` is not queued but returned, for
        the caller to queue with what comes next (a pull, page by page); else nothing
        is returned. ``lane_of``: see ``_lanes``."""
        Importer = self.env["psa.importer"]
        held = self.browse()
        chunks_by_lane = []
        # The busiest lane first: its chunks run one after the other, so it decides when
        # the last change is applied (a 2,000-webhook burst in three lanes on two job
        # slots, `make bench`: the largest lane's chunk, queued last, started only when
        # the first two were done; the lanes' chunks took 3.8 s, 3.0 s this way).
        lanes = sorted(self._lanes(lane_of), key=lambda lane_events: -len(lane_events[1]))
        for lane, events in lanes:
            chunks = []
            for start in range(0, len(events), chunk_size):
                chunk = events[start : start + chunk_size]
                if hold_partial and len(chunk) < chunk_size:
                    held |= chunk
                else:
                    chunks.append((lane, chunk))
            chunks_by_lane.append(chunks)
        # Queued lane after lane in turn (the first chunk of each, then the second...):
        # the runner hands out equal priorities in the order queued, so that every lane
        # has a chunk running early instead of the last lane waiting for the others.
        for round_ in itertools.zip_longest(*chunks_by_lane):
            for lane, chunk in filter(None, round_):
                # One event's fields, not the whole batch's payloads (prefetched with it).
                first = chunk[:1].with_prefetch()
                object_type = first.object_type
                job = (
                    chunk._as_job_user()
                    .with_delay(
                        priority=Importer._priority_for(object_type),
                        channel=Importer._channel_for(object_type, lane),
                        description=f"{first.backend_id.name}: apply {len(chunk)} change(s)",
                    )
                    ._process_job()
                )
                with workflow_write():
                    chunk.write({"job_uuid": job.uuid})
        return held

    def _lanes(self, lane_of=None):
        """[(lane, events)] in lane order, each in id order: one lane (0) unless all the
        events are of one backend and of one type that has lanes.

        ``lane_of``: a {event id: lane} the caller keeps across calls; the lanes of events
        not in it are added to it. A pull re-cuts its held events with every page: read
        again each time, their payloads cost the pull job 40 % of its time (py-spy,
        `make bench`, 10,000 entries in three lanes)."""
        if not self:
            return []
        # In SQL: fetching the fields through the ORM would read every payload too.
        self.flush_recordset(["backend_id", "object_type"])
        self.env.cr.execute(
            """SELECT count(DISTINCT backend_id), count(DISTINCT object_type),
                      min(backend_id), min(object_type)
                 FROM psa_event WHERE id = ANY(%s)""",
            [self.ids],
        )
        backends, types, backend_id, object_type = self.env.cr.fetchone()
        importer = self.env["psa.importer"]._for_object_type_or_none(object_type)
        if importer is None or importer._lane_count() == 1 or backends != 1 or types != 1:
            return [(0, self)]
        lane_of = {} if lane_of is None else lane_of
        unknown = self.browse([event_id for event_id in self.ids if event_id not in lane_of])
        if unknown:
            lane_of.update(importer._lanes_of(self.env["psa.backend"].browse(backend_id), unknown))
        ids_by_lane = {}
        for event_id in self.ids:
            ids_by_lane.setdefault(lane_of.get(event_id, 0), []).append(event_id)
        return [(lane, self.browse(ids_by_lane[lane])) for lane in sorted(ids_by_lane)]

    # Draining accepted webhooks -----------------------------------------------------------
    #
    # An accepted webhook waits for a drain job of its backend and object type. Drains are
    # queue_job jobs whose eta falls on a fixed grid of ``linger`` seconds, one per grid
    # step and (backend, object type) (their identity key names the step): every webhook
    # accepted during a step joins the same drain, so a burst becomes a few jobs, not one
    # per event, and the drain's eta is always at least ``linger`` after the acceptance
    # that scheduled it, so that acceptance has committed before the drain looks. The
    # drain claims the waiting events with SKIP LOCKED and applies them itself as one
    # chunk, or queues them in chunk jobs (``_process_job``) in the object type's channel,
    # which orders them, when there are more or an earlier chunk is still queued.

    @api.model
    def _drain_settings(self):
        """(linger, burst rate, burst max wait): the system parameters, bounded."""
        params = self.env["ir.config_parameter"].sudo()
        linger = bounded_linger(
            params.get_param("psa_connector_base.webhook_dispatch_linger", WEBHOOK_DRAIN_LINGER)
        )
        burst_rate = float(
            params.get_param("psa_connector_base.webhook_burst_rate", WEBHOOK_BURST_RATE)
        )
        max_wait = float(
            params.get_param("psa_connector_base.webhook_burst_max_wait", WEBHOOK_BURST_MAX_WAIT)
        )
        return linger, burst_rate, max_wait

    @api.model
    def _schedule_drain(self, backend, object_types, now=None, steps_ahead=DRAIN_STEPS_AHEAD):
        """Make sure a drain of each object type of ``backend`` will run after this
        transaction commits: the one of the next grid step but one (at least a linger
        from now: an acceptance commits before its drain looks), queued unless it
        already is."""
        linger = self._drain_settings()[0]
        step = drain_step(now or time.time(), linger, steps_ahead)
        for object_type in sorted(object_types):
            if self._drain_seen_committed(backend, object_type, step):
                continue
            key = self._drain_identity(backend, object_type, step)
            self._queue_drain_unless_queued(backend, object_type, step * linger, key)
            self._remember_drain_on_commit(backend, object_type, step)

    @api.model
    def _queue_drain_unless_queued(self, backend, object_type, at, identity_key):
        """Queue a drain due at ``at`` (epoch seconds) unless one with this identity is."""
        # Reading queue_job through its own partial index on identity_key: the one
        # query the first webhook of a step pays, per process, for its scheduling (and
        # a held drain for its re-check).
        self.env.cr.execute(
            """SELECT 1 FROM queue_job WHERE identity_key = %s
                  AND state IN ('pending', 'enqueued', 'wait_dependencies') LIMIT 1""",
            [identity_key],
        )
        if not self.env.cr.fetchone():
            eta = datetime.fromtimestamp(at, tz=UTC).replace(tzinfo=None)
            self._queue_drain(backend, object_type, eta=eta, identity_key=identity_key)

    @api.model
    def _schedule_burst_recheck(self, backend, object_type, linger, burst_rate, now=None):
        """After a drain held a burst back: the drain that looks again. The events it
        holds are committed, so that drain need not wait a linger for their acceptances:
        it is due when the burst may be over (its newest webhook ``_burst_gap`` old, if
        none arrives meanwhile) when that comes before the next grid step, else at that
        step (the drain of a burst still arriving, or of a stream, which the acceptances
        schedule too). Twin drains (two processes' acceptances queue one each) compute
        the same instant, on a grid of MIN_DRAIN_STEP, and queue it once unless they run
        at the same moment (then the first to claim the burst cancels the other)."""
        now = now or time.time()
        _recent, _oldest_age, newest_age = self._waiting_webhooks(backend, object_type, linger)
        quiet_at = (
            now + max(self._burst_gap(linger, burst_rate) - newest_age, 0.0) + BURST_RECHECK_MARGIN
        )
        tick = -(-quiet_at // MIN_DRAIN_STEP)
        if tick * MIN_DRAIN_STEP >= drain_step(now, linger, steps_ahead=1) * linger:
            self._schedule_drain(backend, [object_type], now=now, steps_ahead=1)
            return
        key = f"{self._drain_identity(backend, object_type, 'quiet')}:{int(tick)}"
        self._queue_drain_unless_queued(backend, object_type, tick * MIN_DRAIN_STEP, key)

    @api.model
    def _drain_seen_committed(self, backend, object_type, step):
        """Whether this process has seen the drain of this step committed. Its eta is a
        step after the last acceptance that can join it, so until then it is still
        pending: what the query on queue_job would find (a drain deleted by hand meanwhile
        is the stragglers' cron's to make up for, as a drain missed is)."""
        return drain_seen_committed(self.env.cr.dbname, backend.id, object_type, step)

    @api.model
    def _remember_drain_on_commit(self, backend, object_type, step):
        """Remember the drain of this step once this transaction has committed (a
        rolled-back one may have queued a drain that is not there)."""
        key = (self.env.cr.dbname, backend.id, object_type)

        def remember():
            if len(_drains_seen_committed) >= DRAINS_SEEN_MAX:
                _drains_seen_committed.clear()
            _drains_seen_committed[key] = step

        self.env.cr.postcommit.add(remember)

    @api.model
    def _drain_identity(self, backend, object_type, step):
        return f"psa.event.drain:{backend.id}:{object_type}:{step}"

    @api.model
    def _queue_drain(self, backend, object_type, eta=None, identity_key=None):
        Importer = self.env["psa.importer"]
        self.with_env(backend.sudo()._as_integration_user().env).with_delay(
            priority=Importer._priority_for(object_type),
            channel=Importer._channel_for(object_type),
            eta=eta,
            identity_key=identity_key,
            description=f"{backend.name}: apply the {object_type} webhooks received",
        )._drain_webhooks(backend.id, object_type)

    @api.model
    def _drain_webhooks(self, backend_id, object_type, limit=WEBHOOK_DRAIN_LIMIT, chunk_size=None):
        """The drain job: queue the accepted webhooks of one backend and object type in
        chunk jobs, unless a burst is still arriving (then hold back until the next step,
        at most ``webhook_burst_max_wait`` seconds for the oldest waiting event). Safe to
        run twice or side by side: events are claimed with SKIP LOCKED."""
        backend = self.env["psa.backend"].browse(backend_id)
        linger, burst_rate, max_wait = self._drain_settings()
        if self._burst_goes_on(backend, object_type, linger, burst_rate, max_wait):
            self._schedule_burst_recheck(backend, object_type, linger, burst_rate)
            return "held back: a burst is still arriving"
        self.flush_model(["state", "job_uuid", "source"])
        self.env.cr.execute(
            """SELECT id FROM psa_event
                WHERE state = 'pending' AND job_uuid IS NULL AND source = 'webhook'
                  AND backend_id = %s AND object_type = %s
                ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
            [backend_id, object_type, limit],
        )
        claimed = self.browse([row[0] for row in self.env.cr.fetchall()])
        self._cancel_drains_due(backend, object_type)
        events = claimed
        lane_of = {}
        several_lanes = events._in_several_lanes(lane_of)
        if (
            not several_lanes
            and self._may_apply_in_drain(backend, object_type, events)
            and events._apply_in_drain()
        ):
            # (At most WEBHOOK_APPLY_IN_DRAIN_LIMIT, below the drain's limit: none left.)
            return f"{len(events)} event(s) applied"
        if len(events) == 1:
            events._enqueue()
        elif events:
            events._enqueue_batch(
                chunk_size=chunk_size or self._drain_chunk_size(len(events), several_lanes),
                lane_of=lane_of,
            )
        if len(claimed) == limit:
            # More are waiting: another drain, right after this one commits.
            self._queue_drain(backend, object_type)
        return f"{len(claimed)} event(s) queued"

    @api.model
    def _cancel_drains_due(self, backend, object_type):
        """Cancel the other drains of this kind already due but not started: each is due a
        linger after the acceptance that scheduled it, committed before this drain's
        snapshot, so what it would claim this drain has claimed. Queued behind a busy
        channel (a burst applied while it arrives queues one per step) they would only
        run empty afterwards, a runner round trip and an HTTP request each (`make bench`:
        about 80 of them, 2.6 s, after a 2,000-webhook burst). Best effort: a drain the
        runner is handing out right now is left alone, and runs empty."""
        prefix = self._drain_identity(backend, object_type, "")
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        try:
            with self.env.cr.savepoint(flush=False):
                execute_racing(
                    self.env.cr,
                    """UPDATE queue_job
                          SET state = 'cancelled', date_cancelled = now() at time zone 'UTC',
                              result = 'nothing left: drained by another'
                        WHERE id IN (
                              SELECT id FROM queue_job
                               WHERE state = 'pending' AND identity_key LIKE %s
                                 AND eta <= (now() at time zone 'UTC')
                                 AND uuid IS DISTINCT FROM %s
                                 FOR UPDATE SKIP LOCKED)""",
                    [pattern, self.env.context.get("job_uuid")],
                )
        except OperationalError as err:
            if not is_concurrency_error(err):
                raise

    @api.model
    def _may_apply_in_drain(self, backend, object_type, events):
        """Whether the drain may apply ``events`` itself: few enough for one chunk, and no
        event of their kind already queued in a chunk job that has not applied it yet (a
        chunk of an earlier drain or of a pull), which must go first: the drain runs in
        the same channel but may start before that chunk."""
        if not events or len(events) > WEBHOOK_APPLY_IN_DRAIN_LIMIT:
            return False
        self.env.cr.execute(
            """SELECT 1 FROM psa_event
                WHERE state = 'pending' AND job_uuid IS NOT NULL
                  AND backend_id = %s AND object_type = %s LIMIT 1""",
            [backend.id, object_type],
        )
        return not self.env.cr.fetchone()

    def _in_several_lanes(self, lane_of=None):
        """Whether these drained events are a burst (more than WEBHOOK_CHUNK_SIZE) of
        several lanes: then they are queued in their lanes' chunk jobs, which apply side by
        side as soon as the drain commits, instead of one after the other in the drain (a
        trickle stays whole in the drain, quicker for it than a trip through the job
        runner: the single change's latency)."""
        return len(self) > WEBHOOK_CHUNK_SIZE and len(self._lanes(lane_of)) > 1

    def _apply_in_drain(self):
        """Apply drained events in the running drain job, as a chunk job would; return
        whether it did. Should that fail unexpectedly, nothing of it is kept and the drain
        queues them in a chunk job as before (which retries and records failures as
        every chunk does), so one bad chunk never stalls the drains of its kind."""
        try:
            with self.env.cr.savepoint(), workflow_write():
                # What applied them, as for a chunk: the drain's job.
                self.write({"job_uuid": self.env.context.get("job_uuid")})
                self._as_job_user()._process_by_type([])
        except Exception as err:
            if not (
                isinstance(err, RetryableJobError) or is_concurrency_error(err) or is_lost_race(err)
            ):
                # A lost race is expected (the chunk job runs again in a fresh snapshot);
                # anything else is worth a line in the log.
                _logger.warning(
                    "Applying %d drained event(s) in the drain failed; queued as a chunk job",
                    len(self),
                    exc_info=True,
                )
            self.invalidate_recordset()
            return False
        return True

    @api.model
    def _drain_chunk_size(self, count, several_lanes=False):
        """Events per chunk job for ``count`` events drained at once: a trickle in chunks
        of WEBHOOK_CHUNK_SIZE (its first change stays close to its arrival), a burst in
        WEBHOOK_BURST_CHUNKS chunks of at most PULL_CHUNK_SIZE; a burst of several lanes
        in one chunk per lane (up to PULL_CHUNK_SIZE): the lanes already apply it side by
        side, and every chunk pays Odoo's recomputation of its tasks' hours over all their
        lines (`make bench`: a 2,000-webhook burst in six chunks of three lanes, after the
        100,000 lines of the ingests, applied 13.6 s after the last answer)."""
        if several_lanes:
            return PULL_CHUNK_SIZE
        return min(PULL_CHUNK_SIZE, max(WEBHOOK_CHUNK_SIZE, -(-count // WEBHOOK_BURST_CHUNKS)))

    @api.model
    def _burst_goes_on(self, backend, object_type, linger, burst_rate, max_wait):
        """Whether webhooks of this kind still arrive faster than ``burst_rate`` a second
        (over the last ``linger`` seconds, the newest within ``_burst_gap``) while the
        oldest waiting one is younger than ``max_wait``: the drain applies on the HTTP
        workers that answer the PSA, and a sender kept waiting retries or gives up, while
        a change applied a few seconds later costs nothing. An overridable hook."""
        if burst_rate <= 0:
            return False
        recent, oldest_age, newest_age = self._waiting_webhooks(backend, object_type, linger)
        return (
            bool(recent)
            and oldest_age < max_wait
            and recent / linger > burst_rate
            and newest_age < self._burst_gap(linger, burst_rate)
        )

    @api.model
    def _waiting_webhooks(self, backend, object_type, recent_seconds):
        """Of the accepted webhooks of this kind awaiting a drain: how many arrived in the
        last ``recent_seconds``, and the age in seconds of the oldest and of the newest
        (0.0 when none waits), by the database's clock, which stamped them."""
        self.flush_model(["state", "job_uuid", "source"])
        self.env.cr.execute(
            """SELECT count(*) FILTER (WHERE create_date > (clock_timestamp() at time zone 'UTC')
                                                            - make_interval(secs => %s)),
                      extract(epoch FROM (clock_timestamp() at time zone 'UTC') - min(create_date)),
                      extract(epoch FROM (clock_timestamp() at time zone 'UTC') - max(create_date))
                 FROM psa_event
                WHERE state = 'pending' AND job_uuid IS NULL AND source = 'webhook'
                  AND backend_id = %s AND object_type = %s""",
            [recent_seconds, backend.id, object_type],
        )
        recent, oldest_age, newest_age = self.env.cr.fetchone()
        return recent, float(oldest_age or 0.0), float(newest_age or 0.0)

    @api.model
    def _burst_gap(self, linger, burst_rate):
        """Seconds without an arrival that end a burst: half a linger (0.25 s), or five
        arrivals' worth at the burst rate if longer, at most the linger. Without it, a
        drain right after the burst's last webhook still counted the burst in its last
        linger and held it back one step more (the whole burst then waiting on it).
        Shorter, a stall of the answering itself ended the burst on a loaded machine
        (`make bench` with a 0.1 s gap: 942 events applied mid-burst, on a worker the
        answers needed)."""
        return min(linger, max(linger / 2, 5.0 / burst_rate))

    @api.model
    def _cron_drain_stragglers(self):
        """Safety net: a drain for accepted webhooks still waiting a minute on. An
        acceptance that stalled longer than the linger between its check and its commit
        may have missed the drain it joined; the next webhook of its kind, or this, queues
        another."""
        self.env.cr.execute(
            """SELECT DISTINCT backend_id, object_type FROM psa_event
                WHERE state = 'pending' AND job_uuid IS NULL AND source = 'webhook'
                  AND create_date < (clock_timestamp() at time zone 'UTC') - interval '1 minute'"""
        )
        Backend = self.env["psa.backend"].with_context(active_test=False)
        pairs = self.env.cr.fetchall()
        for backend_id, object_type in pairs:
            self._schedule_drain(Backend.browse(backend_id), [object_type])
        return len(pairs)

    @api.model
    def _retention_days(self):
        value = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("psa_connector_base.event_retention_days", "")
        )
        if value in ("", False, None):
            return EVENT_RETENTION_DAYS
        try:
            return int(value)
        except ValueError:
            _logger.warning(
                "psa_connector_base.event_retention_days is not a whole number of days; "
                "keeping events %d days",
                EVENT_RETENTION_DAYS,
            )
            return EVENT_RETENTION_DAYS

    @api.model
    def _purge_applied(self, batch_size=EVENT_PURGE_BATCH):
        """Delete one batch of applied and skipped events older than the retention; return
        how many went. Never a pending, waiting, failed or ignored event, never one an open
        or retrying exception refers to, never one an audit entry refers to (the audit
        chain hashes ``event_id``: deleting the event would null it and break the chain),
        and never the newest event of a record (what the PSA last said about it, which the
        billing reconciliation reads): what goes is a version re-sent under a new event id,
        a change that changed nothing, an entry skipped as not approved, once newer."""
        days = self._retention_days()
        if days <= 0:
            return 0
        self.flush_model()
        self.env.cr.execute(
            """DELETE FROM psa_event WHERE id IN (
                   SELECT e.id FROM psa_event e
                    WHERE e.state IN ('done', 'skipped')
                      AND COALESCE(e.processed_date, e.create_date)
                          < (now() at time zone 'UTC') - make_interval(days => %(days)s)
                      AND NOT EXISTS (SELECT 1 FROM psa_exception x WHERE x.event_id = e.id
                                         AND x.state IN ('open', 'retrying'))
                      AND NOT EXISTS (SELECT 1 FROM psa_audit_log a WHERE a.event_id = e.id)
                      AND (e.external_id IS NULL OR EXISTS (
                           SELECT 1 FROM psa_event n WHERE n.backend_id = e.backend_id
                              AND n.object_type = e.object_type
                              AND n.external_id = e.external_id AND n.id > e.id))
                    ORDER BY e.id LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED)""",
            {"days": days, "limit": batch_size},
        )
        deleted = self.env.cr.rowcount
        if deleted:
            # Exceptions (resolved or ignored), replays and billing records pointing at
            # them now hold NULL (ondelete set null): drop what the cache still has.
            self.env.invalidate_all()
        return deleted

    @api.model
    def _cron_purge_applied(self):
        """Daily: one batch per run; a full batch asks the scheduler to run again at once
        (each batch its own transaction), until the backlog is gone."""
        deleted = self._purge_applied()
        self.env["ir.cron"]._notify_progress(
            done=deleted, remaining=1 if deleted >= EVENT_PURGE_BATCH else 0
        )
        return deleted

    def _as_job_user(self):
        # Sync jobs apply what the remote system says, whoever queued them (a finance user
        # pressing Retry, a drain of the public webhook user's events): they run as
        # the integration user of the backend's company, in that company.
        backends = self.sudo().backend_id
        if len(backends.company_id) != 1:
            raise ValueError("Events of one company only are queued together.")
        return self.with_env(backends[:1]._as_integration_user().env)

    # Processing -------------------------------------------------------------------

    def _process_job(self):
        """Job entry point; safe to run twice (applied events are left alone).

        Events are handed to their importer by object type, so an importer can apply
        a chunk with batched ORM calls (see ``psa.importer._import_events``). The whole
        pipeline runs as a workflow: it sets events' states, bindings' versions and the
        records the sync owns.
        """
        outcomes = []
        with (
            failure_recorded(
                self[:1].backend_id,
                f"processing of {len(self)} event(s)",
                payload="\n".join(self.mapped("event_uid")),
            ),
            workflow_write(),
        ):
            self._process_by_type(outcomes)
        return "\n".join(outcomes)

    def _process_by_type(self, outcomes):
        for object_type in dict.fromkeys(self.sorted("id").mapped("object_type")):
            events = self.filtered(lambda e, t=object_type: e.object_type == t).sorted("id")
            importer = self.env["psa.importer"]._for_object_type_or_none(object_type)
            if importer is None:
                outcomes += [event._process_one() for event in events]
            else:
                outcomes += importer._import_events(events)

    def _process_one(self):
        self.ensure_one()
        if self.state in ("done", "skipped", "ignored"):
            return f"{self.event_uid}: already {self.state}"
        self.attempt_count += 1
        earlier_failures = self.exception_ids.filtered(
            lambda e: e.state in ("open", "retrying") and e.category != "conflict"
        )
        try:
            with self.env.cr.savepoint():
                state, message = self._apply()
        except SyncError as err:
            return self._fail(err)
        except (UserError, ValidationError) as err:
            return self._fail(SyncError(str(err)))
        except RetryableJobError:
            raise
        except Exception as err:
            if is_concurrency_error(err):
                raise
            if is_lost_race(err) and not self._is_last_attempt():
                # Retried in a new transaction, which sees what the other one committed.
                raise RetryableJobError(
                    _("Applied concurrently by another job; retrying: %s", err), seconds=2
                ) from None
            _logger.exception("Unexpected error applying event %s", self.event_uid)
            return self._fail(
                SyncError(_("Unexpected error while applying the change: %s", err)),
                detail=traceback.format_exc(),
            )
        self.write({"state": state, "result": message, "processed_date": fields.Datetime.now()})
        earlier_failures._mark_resolved(_("Applied on retry."))
        return f"{self.event_uid}: {state} — {message}"

    def _envelope(self):
        self.ensure_one()
        try:
            envelope = json.loads(self.payload)
        except (TypeError, ValueError) as err:
            raise PayloadInvalid(_("The payload is not valid JSON: %s", err)) from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), dict):
            raise PayloadInvalid(_("The payload has no 'data' object."))
        return envelope

    def _apply(self):
        self.ensure_one()
        envelope = self._envelope()
        importer = self.env["psa.importer"]._for_object_type(self.object_type)
        if self.action == "refresh":
            return self._apply_refresh(importer)
        return importer._import(self, self.action, envelope["data"])

    def _apply_refresh(self, importer):
        """``<type>.refresh``: a vendor webhook named a changed record without sending all
        of it (BambooHR posts only the fields an admin picked, under names they may have
        renamed). The record is read afresh through the adapter and applied as an update,
        so nothing the webhook left out is lost or blanked; the raw webhook stays here."""
        self.ensure_one()
        record = self.backend_id._get_adapter().fetch_record(self.object_type, self.external_id)
        if record is None:
            return "skipped", _(
                "%(type)s %(id)s no longer exists remotely; the scheduled pull reports "
                "removals.",
                type=self.object_type,
                id=self.external_id,
            )
        return importer._import(self, "updated", record)

    def _fail(self, error, detail=None):
        self.ensure_one()
        self._defer_when_breaker_open(error)
        if (
            isinstance(error, RemoteServiceError)
            and error.retryable
            and not self._is_last_attempt()
        ):
            raise RetryableJobError(error.message, seconds=error.retry_after or None)
        state = "waiting" if error.category == "missing_reference" else "failed"
        exception = self.env["psa.exception"]._record(error, event=self, detail=detail)
        with workflow_write():
            self.write(
                {"state": state, "result": error.message, "processed_date": fields.Datetime.now()}
            )
        return f"{self.event_uid}: {state} — exception #{exception.id}: {error.message}"

    @api.model
    def _defer_when_breaker_open(self, error):
        """In a job, a call the backend's circuit breaker held back (no call made) is
        retried when the breaker may let one through, and does not use up an attempt:
        an outage of any length exhausts no job (psa.backend.breaker)."""
        if isinstance(error, BreakerOpen) and self.env.context.get("job_uuid"):
            raise RetryableJobError(
                error.message, seconds=error.retry_after, ignore_retry=True
            ) from None

    @api.model
    def _is_last_attempt(self):
        """Whether queue_job will not run this job again if it raises a retryable error."""
        job_uuid = self.env.context.get("job_uuid")
        if not job_uuid:
            return True
        # sudo: queue.job is readable by queue_job managers only; this reads the running
        # job's own retry counters, found by the uuid queue_job put in the context.
        job = self.env["queue.job"].sudo().search([("uuid", "=", job_uuid)], limit=1)
        return not job or bool(job.max_retries and job.retry + 1 >= job.max_retries)

    # Replay and retry ------------------------------------------------------------

    def _retry(self):
        """Queue the event again (after a fix, or when its reference arrived)."""
        to_retry = self.filtered(lambda e: e.state in ("failed", "waiting", "pending"))
        with workflow_write():
            to_retry.write({"state": "pending"})
        groups = {}
        for event in to_retry:
            key = (event.backend_id, event.object_type)
            groups[key] = groups.get(key, self.browse()) | event
        for events in groups.values():
            # One event keeps its own job (and identity key); many go in chunks.
            if len(events) == 1:
                events._enqueue()
            else:
                events._enqueue_batch()
        return to_retry

    def _replay_with_payload(self, payload):
        """A new event with an edited payload; the original stays as received."""
        self.ensure_one()
        replay = self._insert_if_new(
            self.backend_id,
            [
                {
                    "event_uid": f"{self.event_uid}:replay:{uuid.uuid4().hex[:12]}",
                    "event_type": self.event_type,
                    "external_id": self.external_id,
                    "occurred_at": self.occurred_at,
                    "source": "replay",
                    "payload": payload,
                }
            ],
        )
        with workflow_write():
            replay.replay_of_id = self
            self.state = "ignored"
        replay._enqueue()
        return replay
