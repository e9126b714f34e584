import json
import logging
import time
import traceback
import uuid

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.queue_job.exception import RetryableJobError

from ..tools import event_store
from ..tools.access import workflow_write
from ..tools.codec import decode_raw_body
from ..tools.cron_wakeup import wake_cron_workers
from ..tools.errors import PayloadInvalid, RemoteServiceError, SyncError
from ..tools.jobs import failure_recorded, is_concurrency_error, is_lost_race
from ..tools.versions import normalize_timestamp, to_odoo_datetime

_logger = logging.getLogger(__name__)

# Webhooks are the near-real-time path: small chunks keep the first change of a burst
# close to its arrival, while a burst still costs a job per hundred events, not per event.
WEBHOOK_CHUNK_SIZE = 100
# Pulled changes are applied in chunks of up to this many events (several pages): every
# chunk pays a transaction, its lookups and Odoo's recomputations over what it touched
# (a task's hours, a sale line's delivered quantity, which grow with the lines already
# there), so month-end volumes apply faster in fewer, larger chunks.
PULL_CHUNK_SIZE = 2000
WEBHOOK_DISPATCH_LIMIT = 5000
# Seconds the dispatcher waits for a burst to gather (system parameter
# psa_connector_base.webhook_dispatch_linger): the latency a single webhook pays for
# bursts being queued as a few jobs instead of one job each.
WEBHOOK_DISPATCH_LINGER = 0.5
# While webhooks keep arriving faster than this (per second), the dispatcher holds the
# burst back (psa_connector_base.webhook_burst_rate): the chunk jobs run on the same
# HTTP workers that answer the PSA, and a sender kept waiting retries or gives up,
# while a change applied a few seconds later costs nothing. The hold never exceeds
# psa_connector_base.webhook_burst_max_wait seconds for the oldest waiting event, so a
# sustained stream is applied at least that often.
WEBHOOK_BURST_RATE = 50.0
WEBHOOK_BURST_MAX_WAIT = 30.0

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
        # The dispatcher's query: only the few events awaiting a job are in this index.
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS psa_event_awaiting_dispatch_idx ON psa_event (id)
                WHERE state = 'pending' AND job_uuid IS NULL AND source = 'webhook'"""
        )

    # Receiving -------------------------------------------------------------------

    @api.model
    def _split_type(self, event_type):
        return event_store.split_type(event_type)

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
            fields.Datetime.now(),
            rows,
        )
        self.invalidate_model()
        new = self.browse([row[0] for row in inserted])
        # The webhook answer quotes both: known here, they need no read-back.
        for name, index in (("event_uid", 1), ("correlation_id", 2)):
            self.env.cache.update(new, self._fields[name], [row[index] for row in inserted])
        return new

    @api.model
    def _receive_webhook(self, backend, envelope, raw_body):
        """Store a verified webhook; return (event, is_new)."""
        new = self._insert_if_new(
            backend, [event_store.webhook_row(envelope, decode_raw_body(raw_body))]
        )
        if new:
            new._schedule_dispatch()
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

    # Queueing ---------------------------------------------------------------------

    def _enqueue(self):
        Importer = self.env["psa.importer"]
        for event in self:
            job = (
                event._as_job_user()
                .with_delay(
                    priority=Importer._priority_for(event.object_type),
                    # The chunks' channel too: one event and a chunk holding another
                    # version of the same record must not race each other.
                    channel=Importer._channel_for(event.object_type),
                    description=f"{event.backend_id.name}: {event.event_type} {event.external_id}",
                    identity_key=f"psa.event:{event.id}:{event.attempt_count}",
                )
                ._process_job()
            )
            with workflow_write():
                event.job_uuid = job.uuid

    def _enqueue_batch(self, chunk_size=PULL_CHUNK_SIZE):
        """One job per chunk: month-end pulls should not mean one job per record."""
        Importer = self.env["psa.importer"]
        for start in range(0, len(self), chunk_size):
            chunk = self[start : start + chunk_size]
            object_type = chunk[:1].object_type
            job = (
                chunk._as_job_user()
                .with_delay(
                    priority=Importer._priority_for(object_type),
                    channel=Importer._channel_for(object_type),
                    description=f"{chunk[:1].backend_id.name}: apply {len(chunk)} change(s)",
                )
                ._process_job()
            )
            with workflow_write():
                chunk.write({"job_uuid": job.uuid})

    def _schedule_dispatch(self):
        """Wake the dispatcher once this transaction commits.

        The webhook answer waits for nothing but the insert and this trigger: queueing a
        job per event cost about half of the accept path, so the dispatcher queues the
        accepted events in chunks instead. The trigger row commits with the event, and a
        cron run's trigger clean-up only sees rows of its own snapshot, so every event has
        a run that sees it; the one-minute schedule is the safety net should the wake-up
        notification be lost. Raw SQL: ``ir.cron._trigger`` costs an ORM create and a read
        of the cron per request, and its wake-up a new PostgreSQL connection
        (``tools/cron_wakeup.py``).
        """
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "psa_connector_base.ir_cron_psa_dispatch_events"
        )
        event_store.insert_dispatch_trigger(self.env.cr, cron_id, self.env.uid)
        dbname = self.env.cr.dbname
        self.env.cr.postcommit.add(lambda: wake_cron_workers(dbname))

    @api.model
    def _cron_dispatch_events(self):
        """The dispatcher: let a burst gather, then queue it.

        Without the pause every accepted webhook of a burst had a dispatcher run (and a
        job) of its own. After the first pause, the dispatcher keeps waiting while the
        burst still arrives faster than ``webhook_burst_rate`` per second, until the
        oldest waiting event is ``webhook_burst_max_wait`` seconds old (see the
        constants). Each commit ends the transaction the cron opened before the pause,
        so the next query sees what arrived meanwhile.
        """
        params = self.env["ir.config_parameter"].sudo()
        linger = min(
            float(
                params.get_param(
                    "psa_connector_base.webhook_dispatch_linger", WEBHOOK_DISPATCH_LINGER
                )
            ),
            10.0,
        )
        if linger > 0:
            burst_rate = float(
                params.get_param("psa_connector_base.webhook_burst_rate", WEBHOOK_BURST_RATE)
            )
            max_wait = float(
                params.get_param(
                    "psa_connector_base.webhook_burst_max_wait", WEBHOOK_BURST_MAX_WAIT
                )
            )
            seen = self._awaiting_dispatch()[0]
            while True:
                time.sleep(linger)
                self.env.cr.commit()  # pylint: disable=invalid-commit
                count, oldest_age = self._awaiting_dispatch()
                if not self._burst_goes_on(count - seen, linger, burst_rate, oldest_age, max_wait):
                    break
                seen = count
        return self._dispatch_accepted_events()

    @api.model
    def _awaiting_dispatch(self):
        """(how many accepted webhooks wait for a job, seconds the oldest has waited)."""
        self.flush_model(["state", "job_uuid", "source"])
        self.env.cr.execute(
            """SELECT count(*),
                      extract(epoch FROM (clock_timestamp() at time zone 'UTC') - min(create_date))
                 FROM psa_event
                WHERE state = 'pending' AND job_uuid IS NULL AND source = 'webhook'"""
        )
        count, oldest_age = self.env.cr.fetchone()
        return count, float(oldest_age or 0.0)

    @api.model
    def _burst_goes_on(self, arrived, seconds, burst_rate, oldest_age, max_wait):
        """Whether to hold the waiting events back a little longer (an overridable hook)."""
        if burst_rate <= 0 or oldest_age >= max_wait:
            return False
        return arrived / seconds > burst_rate

    @api.model
    def _dispatch_accepted_events(
        self, limit=WEBHOOK_DISPATCH_LIMIT, chunk_size=WEBHOOK_CHUNK_SIZE
    ):
        """Queue the webhook events accepted since the last run, in chunks per backend and type.

        ``SKIP LOCKED`` keeps two dispatchers (a manual run beside the cron) off the same
        events; an event gets its job in the transaction that records ``job_uuid``.
        """
        self.flush_model(["state", "job_uuid", "source"])
        self.env.cr.execute(
            """SELECT id FROM psa_event
                WHERE state = 'pending' AND job_uuid IS NULL AND source = 'webhook'
                ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
            [limit],
        )
        events = self.browse([row[0] for row in self.env.cr.fetchall()])
        groups = {}
        for event in events:
            groups.setdefault((event.backend_id.id, event.object_type), []).append(event.id)
        for ids in groups.values():
            batch = self.browse(ids)
            if len(batch) == 1:
                batch._enqueue()
            else:
                batch._enqueue_batch(chunk_size=chunk_size)
        if len(events) == limit:
            # More are waiting: run again right after this transaction commits.
            self._schedule_dispatch()
        return len(events)

    def _as_job_user(self):
        # Sync jobs apply what the remote system says, whoever queued them (a finance user
        # pressing Retry, the dispatcher of the public webhook user's events): they run as
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
