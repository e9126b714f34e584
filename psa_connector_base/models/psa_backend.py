import json
import logging
import secrets
from urllib.parse import urlsplit

import requests

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools import str2bool

from odoo.addons.queue_job.exception import RetryableJobError

from ..adapters import AdapterConfig
from ..adapters.base import ALLOW_INSECURE_HTTP, ALLOW_PRIVATE_TARGETS, TargetRefused
from ..tools import crypto, job_runner, webhook_guard, webhook_intake
from ..tools.access import MANAGER, requires_group
from ..tools.errors import RemoteServiceError
from ..tools.jobs import failure_recorded
from ..tools.webhook_guard import WEBHOOK_FIELDS_ORDER
from .psa_backend_breaker import STATES as BREAKER_STATES
from .psa_backend_breaker import CircuitBreaker
from .psa_event import PULL_CHUNK_SIZE

_logger = logging.getLogger(__name__)

SECRET_FIELDS = {"api_token": "api_token_encrypted", "webhook_secret": "webhook_secret_encrypted"}
MASK = "********"
WEBHOOK_FIELDS = frozenset(WEBHOOK_FIELDS_ORDER) | {"active", "webhook_secret"}
# The attempts of a pull job: only calls that reached a failing remote system count (the
# breaker lets one through per backend every breaker_open_seconds at most; deferrals
# while it is open do not count), so a pull outlives an outage of several minutes and
# runs within seconds of its end. Past that, the exception queue has it and the next
# scheduled pull starts again from the watermark.
PULL_MAX_RETRIES = 30
# A write-back (one record's ids, idempotent) probes a failing remote system at most
# every 10 s too: 12 attempts are two minutes of failed probes of its own at least;
# past that it is an exception a person retries.
WRITE_BACK_MAX_RETRIES = 12
# Changing one of these clears the stored API token (see write).
CONNECTION_FIELDS = frozenset({"base_url", "adapter", "vendor_account"})


class PsaBackend(models.Model):
    _name = "psa.backend"
    _description = "PSA Connector Backend"
    _inherit = ["mail.thread"]
    _order = "sequence, name"

    name = fields.Char(required=True, tracking=True)
    code = fields.Char(
        required=True,
        copy=False,
        tracking=True,
        help="Short identifier used in the webhook URL: /psa/webhook/<code>.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    kind = fields.Selection(
        [
            ("psa", "PSA"),
            ("hr", "HR system"),
            ("forecast", "Resource forecasting"),
            ("crm", "CRM"),
        ],
        required=True,
        default="psa",
        tracking=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, tracking=True
    )
    adapter = fields.Selection(
        selection="_selection_adapter",
        required=True,
        default="canonical_v1",
        tracking=True,
        help="Which vendor API this backend speaks. Everything behind the adapter uses "
        "the canonical schema.",
    )
    base_url = fields.Char(string="Base URL", tracking=True)
    vendor_account = fields.Char(
        string="Account / organization ID",
        tracking=True,
        help="The vendor's account selector, when its API needs one: the Harvest account "
        "ID, the Productive organization ID, the BambooHR company subdomain.",
    )
    contact_email = fields.Char(
        tracking=True,
        help="Named in the User-Agent of outbound calls, as Harvest and Float ask of "
        "integrations, so the vendor can reach the firm about its traffic.",
    )
    # The clear values are write-only: they are never computed back from the
    # ciphertext, so no read, export or RPC call can return them.
    api_token = fields.Char(
        string="API token",
        compute="_compute_secrets",
        inverse="_inverse_api_token",
        groups="psa_connector_base.group_connector_manager",
        help="Stored encrypted with the key from the Odoo configuration file.",
    )
    webhook_secret = fields.Char(
        compute="_compute_secrets",
        inverse="_inverse_webhook_secret",
        groups="psa_connector_base.group_connector_manager",
        help="Shared secret the remote system signs webhooks with (HMAC-SHA256).",
    )
    api_token_encrypted = fields.Char(copy=False, groups="base.group_system")
    webhook_secret_encrypted = fields.Char(copy=False, groups="base.group_system")
    has_api_token = fields.Boolean(compute="_compute_has_secrets")
    has_webhook_secret = fields.Boolean(compute="_compute_has_secrets")
    webhook_url = fields.Char(compute="_compute_webhook_url")
    timeout = fields.Float(default=30.0, help="Seconds before an outbound call times out.")
    max_attempts = fields.Integer(
        default=4, help="Attempts of one outbound call before the job retries later."
    )
    max_retry_wait = fields.Float(
        default=60.0, help="Longest wait honoured from a Retry-After header, in seconds."
    )
    breaker_open_seconds = fields.Float(
        string="Breaker open (s)",
        default=10.0,
        help="After an outbound call fails (5xx, 429, timeout, dropped connection), no "
        "call goes to this backend for this long (or the remote system's Retry-After, "
        "when longer); then one probe call may. At least 1 second.",
    )
    breaker_max_open_seconds = fields.Float(
        string="Breaker cap (s)",
        default=10.0,
        help="The open time doubles with each consecutive failed probe, up to this. The "
        "first call after an outage ends waits at most this long: raise it to call a "
        "remote system that stays down less often.",
    )
    breaker_id = fields.One2many(
        "psa.backend.breaker", "backend_id", string="Circuit breaker state row"
    )
    breaker_state = fields.Selection(
        BREAKER_STATES,
        string="Circuit breaker",
        compute="_compute_breaker",
        help="Closed: calls go out. Open: the remote system failed moments ago; no call "
        "goes out until the time shown. Half-open: one job probes it.",
    )
    breaker_open_until = fields.Datetime(string="Breaker open until", compute="_compute_breaker")
    breaker_failures = fields.Integer(string="Breaker failures", compute="_compute_breaker")
    breaker_last_error = fields.Char(string="Breaker last error", compute="_compute_breaker")
    page_size = fields.Integer(default=100)
    max_body_bytes = fields.Integer(string="Max webhook body (bytes)", default=1024 * 1024)
    timestamp_tolerance = fields.Integer(
        string="Signature tolerance (s)",
        default=300,
        help="Webhooks whose X-PSA-Timestamp is further from now are refused (401).",
    )
    pull_enabled = fields.Boolean(
        string="Scheduled pull",
        default=True,
        help="Pull changes incrementally on schedule, in addition to webhooks.",
    )
    match_partner_by_vat = fields.Boolean(string="Match customers by VAT", default=True)
    match_partner_by_ref = fields.Boolean(string="Match customers by reference", default=True)
    match_partner_by_email_domain = fields.Boolean(
        string="Match customers by e-mail domain", default=False
    )
    ownership_rule_ids = fields.One2many("psa.ownership.rule", "backend_id", copy=True)
    state_mapping_ids = fields.One2many("psa.state.mapping", "backend_id", copy=True)
    entity_mapping_ids = fields.One2many(
        "psa.entity.mapping",
        "backend_id",
        string="Legal entities",
        help="The remote system's legal entities (business units) and the Odoo company "
        "each one's records land in. A payload without legal_entity lands in the "
        "backend's company; one naming an unmapped entity stops at the exception queue.",
    )
    watermark_ids = fields.One2many("psa.sync.watermark", "backend_id")
    last_connection_message = fields.Char(readonly=True)
    last_connection_date = fields.Datetime(readonly=True)
    open_exception_count = fields.Integer(compute="_compute_counts")
    event_count = fields.Integer(compute="_compute_counts")

    _sql_constraints = [
        ("code_unique", "unique(code)", "The backend code must be unique."),
    ]

    @api.model
    def _selection_adapter(self):
        return self.env["psa.adapter"]._adapter_selection()

    @api.constrains("code")
    def _check_code(self):
        for backend in self:
            if not webhook_guard.is_valid_code(backend.code):
                raise UserError(
                    _("The code may hold only letters, digits, '-' and '_' (at most 64).")
                )

    # Secrets -------------------------------------------------------------------------

    def _compute_secrets(self):
        stored = {r["id"]: r for r in self.sudo().read(list(SECRET_FIELDS.values()))}
        for backend in self:
            row = stored.get(backend.id, {})
            backend.api_token = MASK if row.get("api_token_encrypted") else False
            backend.webhook_secret = MASK if row.get("webhook_secret_encrypted") else False

    def _compute_has_secrets(self):
        stored = {r["id"]: r for r in self.sudo().read(list(SECRET_FIELDS.values()))}
        for backend in self:
            row = stored.get(backend.id, {})
            backend.has_api_token = bool(row.get("api_token_encrypted"))
            backend.has_webhook_secret = bool(row.get("webhook_secret_encrypted"))

    def _inverse_api_token(self):
        self._store_secret("api_token")

    def _inverse_webhook_secret(self):
        self._store_secret("webhook_secret")

    def _store_secret(self, name):
        for backend in self:
            clear = backend[name]
            if clear == MASK:
                continue
            backend.sudo()[SECRET_FIELDS[name]] = crypto.encrypt(clear) if clear else False

    def export_data(self, fields_to_export):
        # Odoo's export reads fields without checking their groups; secrets must not leak.
        self.check_field_access_rights(
            "read", [path.split("/")[0].split(".")[0] for path in fields_to_export]
        )
        return super().export_data(fields_to_export)

    def write(self, vals):
        # A token belongs to the address and account it was issued for: changing either
        # clears it (the manager enters it again), or a changed base URL would receive it.
        # Enforced here, for every caller: the form, JSON-RPC, imports.
        moved = self.browse()
        if CONNECTION_FIELDS & vals.keys() and vals.get("api_token") in (None, False, "", MASK):
            moved = self.filtered(
                lambda b: any(
                    (b[name] or False) != (vals[name] or False)
                    for name in CONNECTION_FIELDS & vals.keys()
                )
            )
        result = super().write(vals)
        if moved:
            # sudo: the ciphertext column is readable and writable by base.group_system
            # only; these records passed the caller's own write access just above.
            moved.sudo().write({"api_token_encrypted": False})
            moved.invalidate_recordset(list(SECRET_FIELDS))
            for backend in moved:
                backend.message_post(
                    body=_(
                        "The API token was cleared because the base URL, adapter or account "
                        "changed; enter the token for the new connection."
                    )
                )
        if SECRET_FIELDS.keys() & vals.keys():
            # The cache would otherwise hand the clear value back until the next request.
            self.invalidate_recordset(list(SECRET_FIELDS))
        if WEBHOOK_FIELDS & vals.keys():
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    @requires_group("base.group_system")
    def action_rotate_encryption_key(self):
        """Re-encrypt every stored connector secret with the first configured key.

        Settings only: the keys are the server's configuration and one key encrypts every
        company's secrets, so rotating touches backends no single company's Connector
        Manager may see (another company's manager could otherwise rewrite them)."""
        rotated, failed = self._rotate_secrets()
        message = _("%(count)s stored secret(s) re-encrypted with the first key.", count=rotated)
        if failed:
            message += " " + _(
                "%(count)s could not be decrypted with any configured key: enter them again.",
                count=failed,
            )
        _logger.info("PSA connector key rotation: %s re-encrypted, %s failed", rotated, failed)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Rotate encryption key"),
                "message": message,
                "type": "warning" if failed else "success",
                "sticky": bool(failed),
            },
        }

    @api.model
    def _rotate_secrets(self):
        """(re-encrypted, undecryptable) over every ciphertext column the connector keeps.

        sudo: the ciphertext columns are base.group_system only; the caller passed the
        group check of action_rotate_encryption_key (Settings), and every backend is concerned (one
        key encrypts them all), archived ones included.
        """
        rotated = failed = 0
        holders = [
            (self.sudo().with_context(active_test=False), list(SECRET_FIELDS.values())),
            (
                self.env["psa.backend.setup.wizard"].sudo(),
                ["api_token_encrypted", "webhook_secret_once_encrypted"],
            ),
        ]
        for model, columns in holders:
            for column in columns:
                for record in model.search([(column, "!=", False)]):
                    try:
                        record[column] = crypto.rotate(record[column])
                    except UserError:
                        failed += 1
                    else:
                        rotated += 1
        return rotated, failed

    # The webhook accept path -----------------------------------------------------------

    @api.model
    def _for_webhook(self, code):
        """The active backend of this code, as a superuser record whose webhook settings
        are already in the cache; an empty recordset when there is none.

        Every webhook needs them: from a per-process cache (cleared, in every worker, when
        a backend is created, archived or its webhook settings change) they cost no query.
        """
        if not webhook_guard.is_valid_code(code):
            return self.sudo().browse()
        try:
            settings = self._webhook_settings(code)
        except LookupError:
            # Not cached: unknown codes must not grow every worker's memory.
            return self.sudo().browse()
        return self._webhook_backend(settings)

    @api.model
    def _webhook_backend(self, settings):
        """The backend of these webhook settings (WEBHOOK_FIELDS_ORDER values), as a
        superuser record with them in its cache: the accept path reads them without a
        query."""
        backend = self.sudo().browse(settings[0])
        for name, value in zip(WEBHOOK_FIELDS_ORDER[1:], settings[1:], strict=True):
            field = self._fields[name]
            self.env.cache.update(backend, field, [field.convert_to_cache(value, backend)])
        return backend

    def _register_hook(self):
        # The manifest's post_load installs the webhook fast intake and the job runner's
        # poll, but Odoo skips that hook when the package was imported before the registry
        # loaded it (as pytest-odoo does); installing twice is a no-op.
        webhook_intake.install()
        job_runner.install()
        return super()._register_hook()

    @api.model
    @tools.ormcache("code")
    def _webhook_settings(self, code):
        backend = self.sudo().search([("code", "=", code), ("active", "=", True)], limit=1)
        if not backend:
            # ormcache keeps what is returned, not what is raised: a miss is not cached.
            raise LookupError(code)
        row = backend.read([f for f in WEBHOOK_FIELDS_ORDER if f != "id"], load=None)[0]
        return tuple(row[name] for name in WEBHOOK_FIELDS_ORDER)

    def _get_secret(self, name):
        self.ensure_one()
        return crypto.decrypt(self.sudo()[SECRET_FIELDS[name]])

    @requires_group(MANAGER)
    def action_generate_webhook_secret(self):
        self.ensure_one()
        secret = secrets.token_urlsafe(32)
        self.sudo().webhook_secret_encrypted = crypto.encrypt(secret)
        self.message_post(body=_("A new webhook signing secret was generated."))
        # Shown once in a notification, never stored in clear: not even in a wizard row.
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Webhook signing secret (shown once)"),
                "message": _(
                    "Configure the remote system to POST to %(url)s and sign with this "
                    "secret: %(secret)s",
                    url=self.webhook_url,
                    secret=secret,
                ),
                "type": "warning",
                "sticky": True,
            },
        }

    # Derived values ----------------------------------------------------------------

    @api.depends("code", "adapter")
    def _compute_webhook_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        adapter_classes = self.env["psa.adapter"]._adapter_classes()
        for backend in self:
            if not backend.code:
                backend.webhook_url = False
                continue
            adapter_class = adapter_classes.get(backend.adapter)
            vendor = adapter_class.webhook_vendor if adapter_class else None
            backend.webhook_url = f"{base}/psa/webhook/{backend.code}" + (
                f"/{vendor}" if vendor else ""
            )

    @api.onchange("adapter", "vendor_account")
    def _onchange_adapter_base_url(self):
        """Propose the vendor's documented API root (e.g. BambooHR's per-company URL)."""
        adapter_classes = self.env["psa.adapter"]._adapter_classes()
        for backend in self.filtered(lambda b: not b.base_url):
            adapter_class = adapter_classes.get(backend.adapter)
            if adapter_class:
                backend.base_url = adapter_class.default_base_url(backend.vendor_account or "")

    @api.depends("breaker_id.state")
    def _compute_breaker(self):
        for backend in self:
            # sudo: read only, the breaker of a backend the user already reads.
            breaker = backend.sudo().breaker_id[:1]
            backend.breaker_state = breaker.state or "closed"
            backend.breaker_open_until = breaker.open_until
            backend.breaker_failures = breaker.failures
            backend.breaker_last_error = breaker.last_error

    def _compute_counts(self):
        exceptions = dict(
            self.env["psa.exception"]._read_group(
                [("backend_id", "in", self.ids), ("state", "in", ("open", "retrying"))],
                ["backend_id"],
                ["__count"],
            )
        )
        events = dict(
            self.env["psa.event"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.open_exception_count = exceptions.get(backend, 0)
            backend.event_count = events.get(backend, 0)

    # Defaults created with the backend ----------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        backends = super().create(vals_list)
        backends.invalidate_recordset(list(SECRET_FIELDS))
        # A code that was unknown is cached as such.
        self.env.registry.clear_cache()
        for backend in backends:
            if not backend.ownership_rule_ids:
                self.env["psa.ownership.rule"]._create_defaults(backend)
            if not backend.state_mapping_ids:
                self.env["psa.state.mapping"]._create_defaults(backend)
        return backends

    # Adapter -------------------------------------------------------------------------

    def _adapter_config(self):
        self.ensure_one()
        if not self.base_url:
            raise UserError(_("Backend %s has no base URL.", self.display_name))
        return AdapterConfig(
            base_url=self.base_url,
            token=self._get_secret("api_token"),
            timeout=self.timeout,
            max_attempts=max(1, self.max_attempts),
            max_retry_wait=self.max_retry_wait,
            page_size=self.page_size,
            user_agent=f"Odoo PSA Connector ({self.env.cr.dbname}/{self.code})"
            + (f" {self.contact_email}" if self.contact_email else ""),
            account_id=self.vendor_account or "",
            contact_email=self.contact_email or "",
            **self._outbound_policy(),
        )

    @api.model
    def _outbound_policy(self):
        """What the administrator allows outbound calls to reach (system parameters)."""
        params = self.env["ir.config_parameter"].sudo()
        return {
            name: str2bool(params.get_param(key) or "False", False)
            for name, key in (
                ("allow_private_targets", ALLOW_PRIVATE_TARGETS),
                ("allow_insecure_http", ALLOW_INSECURE_HTTP),
            )
        }

    def _adapter_class(self):
        """This backend's adapter class in this database (see psa.adapter)."""
        self.ensure_one()
        return self.env["psa.adapter"]._adapter_class_for(self.adapter)

    def _get_adapter(self, breaker=True):
        """This backend's adapter. In a job (pulls, pushes, write-backs, refreshes), its
        calls ask the backend's circuit breaker first (psa.backend.breaker) and are tried
        once each; what a person runs (*Test connection*, a reconciliation) keeps the
        adapter's quick retries and is not held back."""
        self.ensure_one()
        config = self._adapter_config()
        if breaker and self.env.context.get("job_uuid"):
            config.breaker = CircuitBreaker(self)
        return self._adapter_class()(config)

    @requires_group(MANAGER)
    def action_test_connection(self):
        self.ensure_one()
        try:
            adapter = self._get_adapter(breaker=False)
        except (RemoteServiceError, UserError) as err:
            message, kind = getattr(err, "message", None) or str(err), "danger"
        else:
            ok, message = self._probe_connection(adapter)
            kind = "success" if ok else "danger"
        self.write(
            {"last_connection_message": message, "last_connection_date": fields.Datetime.now()}
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Test connection"),
                "message": message,
                "type": kind,
                "sticky": kind != "success",
            },
        }

    @api.model
    def _probe_connection(self, adapter):
        """(ok, message for a person) of one call to the remote account, no retries."""
        adapter.config.max_attempts = 1
        try:
            description = adapter.test_connection()
        except RemoteServiceError as err:
            return False, _connection_failure_message(err)
        except UserError as err:
            return False, str(err)
        except requests.RequestException as err:
            return False, _("The base URL is not a valid address: %s", err)
        return True, _("Connected to %s.", description)

    @api.model
    def _check_base_url(self, url):
        """A clear message for a base URL that cannot be an API root, else None."""
        parts = urlsplit((url or "").strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return _(
                "The base URL must be a full address starting with https:// (or http://), "
                "e.g. https://psa.example.com/."
            )
        return None

    # Integration identity -------------------------------------------------------------

    def _as_integration_user(self):
        """This backend as its company's integration user, in that company: what every
        job of the backend runs as, whoever queues it (see ``res.company``)."""
        self.ensure_one()
        company = self.sudo().company_id
        # That company first, then the companies its legal-entity mappings route to
        # (psa.entity.mapping gives the integration user access to them): with_company()
        # would keep the caller's other allowed companies, which the integration user
        # may not enter.
        companies = self.env["psa.entity.mapping"]._companies_of(self)
        user = company._psa_integration_user()
        allowed = company | (companies & user.sudo().company_ids)
        return self.with_user(user).with_context(allowed_company_ids=allowed.ids)

    # Scheduled pull ------------------------------------------------------------------

    def _pull_object_types(self):
        """Object types pulled for this backend, in dependency order; addons extend it."""
        self.ensure_one()
        if self.kind == "psa":
            return ["customer", "contact", "project", "task"]
        return []

    @api.model
    def _cron_pull(self):
        # The cron runs as root only to find every company's backends and queue their
        # pulls; each pull job runs as its backend company's integration user.
        for backend in self.search([("pull_enabled", "=", True), ("base_url", "!=", False)]):
            backend.action_pull_now()

    @requires_group(MANAGER)
    def action_pull_now(self):
        for backend in self:
            for object_type in backend._pull_object_types():
                backend._as_integration_user().with_delay(
                    priority=self.env["psa.importer"]._priority_for(object_type),
                    description=f"Pull {object_type} from {backend.name}",
                    identity_key=f"psa.pull:{backend.id}:{object_type}",
                    max_retries=PULL_MAX_RETRIES,
                )._pull_job(object_type)
        return True

    def _pull_job(self, object_type):
        """Store every changed record as an event and queue it; move the watermark."""
        self.ensure_one()
        # One pull of a kind at a time per backend: a second one (the next cron run while a
        # month-end pull still runs) would store the same versions and fail to serialize on
        # them; the running pull brings those changes, the next run what came after.
        self.env.cr.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [self.id, f"pull:{object_type}"]
        )
        if not self.env.cr.fetchone()[0]:
            return f"another pull of {object_type} is running: left to it"
        watermark = self.env["psa.sync.watermark"]._for(self, object_type)
        stored, failure = self._run_remote(
            f"pull of {object_type}",
            lambda adapter: self._pull_pages(adapter, object_type, watermark),
            object_type=object_type,
            on_remote_error=lambda err: watermark.write(
                {"last_error": err.message, "last_run": fields.Datetime.now()}
            ),
        )
        if failure:
            return failure
        watermark.write(
            {
                "last_run": fields.Datetime.now(),
                "last_success": fields.Datetime.now(),
                "last_error": False,
            }
        )
        return f"{stored} new {object_type} record(s) queued"

    def _pull_pages(self, adapter, object_type, watermark):
        """Store the changed records page by page, queued in chunks; how many were new."""
        Event = self.env["psa.event"]
        stored = 0
        waiting = Event
        lane_of = {}  # each event's lane, found once (the held ones are cut again)
        for page in adapter.iter_changes(object_type, since=watermark.last_updated_at):
            new = Event._store_pulled(self, object_type, page)
            stored += len(new)
            waiting |= new
            if len(waiting) >= PULL_CHUNK_SIZE:
                # Full chunks go; a lane's rest waits for the next pages.
                waiting = waiting._enqueue_batch(hold_partial=True, lane_of=lane_of)
            watermark._advance(page)
        waiting._enqueue_batch(lane_of=lane_of)
        return stored

    # Write-back ----------------------------------------------------------------------

    def _enqueue_write_back(self, object_type, external_id, odoo_refs):
        self.ensure_one()
        self._as_integration_user().with_delay(
            description=f"Write Odoo ids back to {self.name}: {object_type} {external_id}",
            identity_key=f"psa.writeback:{self.id}:{object_type}:{external_id}",
            max_retries=WRITE_BACK_MAX_RETRIES,
        )._write_back_job(object_type, external_id, odoo_refs)

    def _write_back_job(self, object_type, external_id, odoo_refs):
        self.ensure_one()
        _result, failure = self._run_remote(
            f"write-back of {object_type} {external_id}",
            lambda adapter: adapter.write_back(object_type, external_id, odoo_refs),
            object_type=object_type,
            external_id=external_id,
            payload=json.dumps(odoo_refs),
            audit={
                "operation": "write_back",
                "res_model": odoo_refs.get("model"),
                "res_id": odoo_refs.get("id"),
                "values": odoo_refs,
            },
        )
        return failure or "written back"

    # Outbound calls --------------------------------------------------------------------

    def _run_remote(
        self,
        what,
        call,
        object_type=None,
        external_id=None,
        payload=None,
        audit=None,
        on_remote_error=None,
        message=None,
    ):
        """Run one call to the remote system the way every push and pull does.

        ``call(adapter)`` does the work and may write in Odoo meanwhile (a pull stores
        its pages). Returns ``(result, failure)``: the call's result and None, or None
        and the text a job returns when the remote system failed.

        - Anything unexpected is recorded by ``failure_recorded`` (in a cursor of its
          own) and goes on to queue_job, which marks the job failed.
        - A remote error (``RemoteServiceError``) first goes to ``on_remote_error(err)``
          (e.g. the watermark notes it), then is queue_job's to retry while attempts
          remain (``RetryableJobError``); on the last attempt, or outside a job, it
          becomes a ``psa.exception``, named ``message(err)`` if given, else "The <what>
          failed: <error>".
        - On success, ``audit`` (``psa.audit.log._log`` arguments, or a function of the
          call's result giving them) is logged as an outgoing entry of this backend.
        """
        self.ensure_one()
        try:
            with failure_recorded(
                self, what, object_type=object_type, external_id=external_id, payload=payload
            ):
                result = call(self._get_adapter())
        except RemoteServiceError as err:
            self.env["psa.event"]._defer_when_breaker_open(err)
            if on_remote_error:
                on_remote_error(err)
            if err.retryable and not self.env["psa.event"]._is_last_attempt():
                raise RetryableJobError(err.message, seconds=err.retry_after or None) from None
            exception = self.env["psa.exception"]._record(
                err,
                backend=self,
                object_type=object_type,
                external_id=external_id,
                message=message(err)
                if message
                else _("The %(what)s failed: %(error)s", what=what, error=err.message),
            )
            return None, f"exception #{exception.id}: {err.message}"
        if audit is not None:
            values = audit(result) if callable(audit) else audit
            self.env["psa.audit.log"]._log(
                **{
                    "backend": self,
                    "direction": "out",
                    "object_type": object_type,
                    "external_id": external_id,
                    **values,
                }
            )
        return result, None


def _connection_failure_message(err):
    cause = err.message
    if isinstance(err, TargetRefused):
        return cause
    if err.status in (401, 403):
        return _("The remote system refused the credentials (%s). Check the API token.", err.status)
    if err.status == 404:
        return _("The base URL answered 404: it does not look like the API root. (%s)", cause)
    if err.status is None:
        return _("The host cannot be reached. Check the base URL and the network. (%s)", cause)
    return _("The remote system answered with an error: %s", cause)
