import secrets

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..adapters import AdapterConfig
from ..models.psa_backend import MASK
from ..tools import crypto
from ..tools.access import MANAGER, requires_group


class PsaBackendSetupWizard(models.TransientModel):
    """Connect a new system in three steps: connection, webhook, sync rules.

    No credential is stored in clear in a wizard row: the API token and the webhook
    secret (shown once) are kept encrypted with the connector key, like the backend's,
    until the backend is created (the token) or the next step is reached (the secret).
    """

    _name = "psa.backend.setup.wizard"
    _description = "PSA Connector: Guided Backend Set-up"

    step = fields.Selection(
        [("connect", "Connection"), ("webhook", "Webhook"), ("rules", "Sync rules")],
        default="connect",
        required=True,
    )
    name = fields.Char(help="How the connected system is called in Odoo, e.g. Company PSA.")
    code = fields.Char(
        help="Short identifier used in the webhook URL: letters, digits, '-' and '_'."
    )
    kind = fields.Selection(
        [
            ("psa", "PSA"),
            ("hr", "HR system"),
            ("forecast", "Resource forecasting"),
            ("crm", "CRM"),
        ],
        default="psa",
        required=True,
        help="What the system is: a PSA (customers, projects, time), an HR system, a "
        "resource forecasting tool or a CRM (deals won become opportunities).",
    )
    adapter = fields.Selection(
        selection=lambda self: self.env["psa.backend"]._selection_adapter(),
        default="canonical_v1",
        required=True,
        help="Which vendor API the system speaks.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    base_url = fields.Char(
        string="Base URL", help="The root of the system's API, e.g. https://psa.example.com/"
    )
    vendor_account = fields.Char(
        string="Account / organization ID",
        help="Only for vendors whose API needs one (Harvest account ID, Productive "
        "organization ID, BambooHR subdomain).",
    )
    api_token = fields.Char(
        string="API token",
        compute="_compute_api_token",
        inverse="_inverse_api_token",
        help="Created in the remote system for Odoo; stored encrypted on the backend.",
    )
    api_token_encrypted = fields.Char(groups="base.group_system")
    connection_ok = fields.Boolean(readonly=True)
    connection_message = fields.Char(readonly=True)
    backend_id = fields.Many2one("psa.backend", readonly=True)
    webhook_url = fields.Char(compute="_compute_webhook_url")
    webhook_secret_once = fields.Char(
        string="Signing secret",
        compute="_compute_webhook_secret_once",
        help="Shown once: copy it into the remote system now. It is stored encrypted and "
        "cannot be displayed again; a new one can be generated on the backend.",
    )
    webhook_secret_once_encrypted = fields.Char(groups="base.group_system")
    ownership_rule_ids = fields.One2many(related="backend_id.ownership_rule_ids", readonly=False)
    state_mapping_ids = fields.One2many(related="backend_id.state_mapping_ids", readonly=False)

    # Secrets: encrypted at rest, like the backend's -------------------------------------
    # sudo: the ciphertext columns are base.group_system only; a wizard row is readable by
    # its creator alone (transient model rule).

    @api.depends("api_token_encrypted")
    def _compute_api_token(self):
        for wizard in self:
            wizard.api_token = MASK if wizard.sudo().api_token_encrypted else False

    def _inverse_api_token(self):
        for wizard in self:
            if wizard.api_token != MASK:
                wizard.sudo().api_token_encrypted = crypto.encrypt(wizard.api_token or "")

    @api.depends("webhook_secret_once_encrypted")
    def _compute_webhook_secret_once(self):
        for wizard in self:
            stored = wizard.sudo().webhook_secret_once_encrypted
            wizard.webhook_secret_once = crypto.decrypt(stored) if stored else False

    @api.model_create_multi
    def create(self, vals_list):
        wizards = super().create(vals_list)
        # The cache would otherwise hand the typed token back for the rest of the request.
        wizards.invalidate_recordset(["api_token"])
        return wizards

    def write(self, vals):
        result = super().write(vals)
        if "api_token" in vals:
            self.invalidate_recordset(["api_token"])
        return result

    def _clear_token(self):
        return crypto.decrypt(self.sudo().api_token_encrypted or "")

    @api.depends("backend_id.webhook_url", "adapter")
    def _compute_webhook_url(self):
        adapter_classes = self.env["psa.adapter"]._adapter_classes()
        for wizard in self:
            url = wizard.backend_id.webhook_url
            vendor = getattr(adapter_classes.get(wizard.adapter), "webhook_vendor", None)
            wizard.webhook_url = f"{url}/{vendor}" if url and vendor else url

    @api.onchange("kind", "adapter", "base_url", "api_token", "vendor_account")
    def _onchange_connection(self):
        # A changed connection must be tested again.
        self.connection_ok = False
        self.connection_message = False

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "name": _("Set up a connected system"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    @requires_group(MANAGER)
    def action_test_connection(self):
        self.ensure_one()
        Backend = self.env["psa.backend"]
        problem = Backend._check_base_url(self.base_url)
        if problem:
            ok, message = False, problem
        elif not self.sudo().api_token_encrypted:
            ok, message = False, _("Enter the API token the remote system gave you.")
        else:
            adapter = self.env["psa.adapter"]._adapter_class_for(self.adapter)(
                AdapterConfig(
                    base_url=self.base_url.strip(),
                    token=self._clear_token(),
                    timeout=10.0,
                    max_attempts=1,
                    account_id=self.vendor_account or "",
                    **Backend._outbound_policy(),
                )
            )
            ok, message = Backend._probe_connection(adapter)
        self.write({"connection_ok": ok, "connection_message": message})
        return self._reopen()

    @requires_group(MANAGER)
    def action_create_backend(self):
        self.ensure_one()
        if not self.connection_ok:
            raise UserError(_("Test the connection first; the backend is created once it works."))
        if not (self.name and self.code):
            raise UserError(_("Give the system a name and a code."))
        backend = self.env["psa.backend"].create(
            {
                "name": self.name,
                "code": self.code.strip(),
                "kind": self.kind,
                "adapter": self.adapter,
                "company_id": self.company_id.id,
                "base_url": self.base_url.strip(),
                "vendor_account": self.vendor_account,
                "api_token": self._clear_token(),
                "last_connection_message": self.connection_message,
                "last_connection_date": fields.Datetime.now(),
            }
        )
        secret = secrets.token_urlsafe(32)
        backend.sudo().webhook_secret_encrypted = crypto.encrypt(secret)
        backend.message_post(
            body=Markup(_("Set up with the guided wizard; a webhook signing secret was generated."))
        )
        self.write({"backend_id": backend.id, "step": "webhook"})
        self.sudo().write(
            {"api_token_encrypted": False, "webhook_secret_once_encrypted": crypto.encrypt(secret)}
        )
        return self._reopen()

    @requires_group(MANAGER)
    def action_to_rules(self):
        self.ensure_one()
        # The secret was shown; it is not kept anywhere in clear from now on.
        self.write({"step": "rules"})
        self.sudo().webhook_secret_once_encrypted = False
        return self._reopen()

    @requires_group(MANAGER)
    def action_finish(self):
        self.ensure_one()
        self.sudo().webhook_secret_once_encrypted = False
        return {
            "type": "ir.actions.act_window",
            "res_model": "psa.backend",
            "res_id": self.backend_id.id,
            "view_mode": "form",
            "target": "current",
        }
