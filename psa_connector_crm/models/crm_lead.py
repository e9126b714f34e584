import json

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.psa_connector_base.tools.access import workflow_write
from odoo.addons.psa_connector_base.tools.errors import (
    AmbiguousMatch,
    RemoteServiceError,
    SyncError,
)
from odoo.addons.queue_job.exception import RetryableJobError

# A write of one of these can make a lead newly won, or correct what stopped its
# engagement at an exception.
RETRIGGER_FIELDS = {
    "stage_id",
    "psa_engagement_template_id",
    "psa_engagement_start_date",
    "partner_id",
}

ENGAGEMENT_STATES = [
    ("none", "Not requested"),
    ("queued", "Queued"),
    ("created", "Created on the PSA"),
    ("exception", "Exception"),
]


class CrmLead(models.Model):
    """An opportunity that, once won, becomes an engagement on the PSA.

    The trigger is the move into a won stage, whichever way it happens
    (``action_set_won``, a drag to the won column, a CRM backend's import): ``write`` and
    ``create`` queue ``_psa_engagement_job`` as the backend's integration user.
    """

    _name = "crm.lead"
    _inherit = ["crm.lead", "psa.workflow.guard.mixin"]
    _psa_workflow_fields = (
        "psa_engagement_state",
        "psa_engagement_key",
        "psa_engagement_external_id",
        "psa_engagement_contract_external_id",
        "psa_engagement_backend_id",
    )

    psa_engagement_template_id = fields.Many2one(
        "psa.engagement.template",
        string="Engagement template",
        domain="[('company_id', 'in', (company_id, False))]",
        tracking=True,
        help="What the opportunity becomes on the PSA once won: project, contract and "
        "rate card. Empty on a won opportunity: an exception for the salesperson.",
    )
    psa_engagement_start_date = fields.Date(
        string="Engagement start",
        tracking=True,
        help="Start of the project and its contract; empty: the day it is won.",
    )
    psa_engagement_state = fields.Selection(
        ENGAGEMENT_STATES,
        string="Engagement",
        default="none",
        readonly=True,
        copy=False,
        tracking=True,
    )
    psa_engagement_key = fields.Char(
        string="Engagement key",
        readonly=True,
        copy=False,
        help="Idempotency key the PSA creates the engagement under: a retried job finds "
        "the project it created instead of creating a second one.",
    )
    psa_engagement_external_id = fields.Char(string="PSA project ID", readonly=True, copy=False)
    psa_engagement_contract_external_id = fields.Char(
        string="PSA contract ID", readonly=True, copy=False
    )
    psa_engagement_backend_id = fields.Many2one(
        "psa.backend", string="Engagement backend", readonly=True, copy=False
    )
    psa_project_id = fields.Many2one(
        "project.project",
        string="PSA project",
        compute="_compute_psa_engagement_records",
        help="The project the PSA engagement landed as in Odoo (its binding).",
    )
    psa_sale_order_id = fields.Many2one(
        "sale.order",
        string="PSA contract",
        compute="_compute_psa_engagement_records",
        help="The quotation/sale order the PSA contract landed as in Odoo (its binding).",
    )

    @api.depends("psa_engagement_external_id", "psa_engagement_contract_external_id")
    def _compute_psa_engagement_records(self):
        Binding = self.env["psa.binding"].sudo()
        for lead in self:
            lead.psa_project_id = lead.psa_sale_order_id = False
            backend = lead.psa_engagement_backend_id
            if not backend:
                continue
            for field, model, object_type, external_id in (
                ("psa_project_id", "project.project", "project", lead.psa_engagement_external_id),
                (
                    "psa_sale_order_id",
                    "sale.order",
                    "contract",
                    lead.psa_engagement_contract_external_id,
                ),
            ):
                if not external_id:
                    continue
                binding = Binding._find(backend, object_type, external_id)
                if binding and binding.res_model == model:
                    lead[field] = self.env[model].browse(binding.res_id).exists()

    @api.constrains("psa_engagement_template_id", "company_id")
    def _check_psa_engagement_template_company(self):
        """A template of another company is refused on the server (its PSA backend and
        integration user would create the engagement), whatever the view offers."""
        for lead in self:
            template_company = lead.sudo().psa_engagement_template_id.company_id
            allowed = lead.company_id or self.env.user.company_ids
            if template_company and template_company not in allowed:
                raise ValidationError(
                    _(
                        "Opportunity %(lead)s belongs to %(company)s: its engagement template "
                        "must be one of that company's.",
                        lead=lead.name,
                        company=lead.company_id.name or self.env.user.company_id.name,
                    )
                )

    # The trigger ------------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        leads.filtered(lambda lead: lead.stage_id.is_won)._psa_queue_engagement()
        return leads

    def write(self, vals):
        if not RETRIGGER_FIELDS.intersection(vals):
            return super().write(vals)
        # Newly won; or won and stopped at an exception whose cause (template, customer,
        # start date) is being corrected, or marked won again: tried again.
        candidates = self.filtered(
            lambda lead: not lead.stage_id.is_won or lead.psa_engagement_state == "exception"
        )
        res = super().write(vals)
        candidates.filtered(lambda lead: lead.stage_id.is_won)._psa_queue_engagement()
        return res

    def _psa_queue_engagement(self):
        """Queue the engagement job of each newly won opportunity (once: a lead whose
        engagement exists or is queued is left alone)."""
        for lead in self:
            if lead.psa_engagement_state in ("queued", "created"):
                continue
            backend = lead._psa_engagement_backend()
            if not backend:
                # No PSA in this company: Odoo's CRM is used on its own.
                continue
            with workflow_write():
                lead.psa_engagement_state = "queued"
            backend._as_integration_user().env["crm.lead"].browse(lead.id).with_delay(
                description=_("Create the PSA engagement of %s", lead.name),
                identity_key=f"psa.engagement:{lead.id}",
                channel="root.psa",
            )._psa_engagement_job()

    def _psa_engagement_backend(self):
        """The PSA backend of the engagement: the template's, else (for the exception of
        a won opportunity without one) the company's first active PSA backend."""
        self.ensure_one()
        template = self.sudo().psa_engagement_template_id
        if template:
            return template.backend_id
        return (
            self.env["psa.backend"]
            .sudo()
            .search(
                [
                    ("kind", "=", "psa"),
                    ("company_id", "=", self.company_id.id or self.env.company.id),
                ],
                order="sequence, id",
                limit=1,
            )
        )

    # The job ----------------------------------------------------------------------------

    def _psa_engagement_job(self):
        """Create the engagement of this won opportunity on the PSA (a job, run as the
        backend's integration user).

        Idempotent: the lead row is locked, a lead whose engagement exists is left
        alone, and the PSA creates under a key derived from the lead, so a retried job
        gets back the project and contract it created. The records the PSA answers go
        through the importers like any pulled record: the PSA's own webhooks for them,
        before or after, land on the same bindings.
        """
        self.ensure_one()
        self.env.cr.execute("SELECT id FROM crm_lead WHERE id = %s FOR UPDATE", [self.id])
        self.invalidate_recordset()
        lead = self.exists()
        if not lead or not lead.stage_id.is_won:
            return "the opportunity is no longer won: nothing to create"
        if lead.psa_engagement_state == "created":
            return f"engagement {lead.psa_engagement_external_id} already created"
        backend = lead._psa_engagement_backend()
        template = lead.psa_engagement_template_id
        try:
            if not template:
                raise SyncError(
                    _(
                        "Opportunity %s was won without an engagement template: no project "
                        "was created on the PSA. Pick the template on the opportunity's "
                        "Engagement tab, then retry.",
                        lead.name,
                    )
                )
            customer_id = lead._psa_engagement_customer(backend)
        except RemoteServiceError as err:
            if err.retryable and not self.env["psa.event"]._is_last_attempt():
                raise RetryableJobError(err.message, seconds=err.retry_after or None) from None
            return lead._psa_engagement_fail(backend, err)
        except SyncError as err:
            return lead._psa_engagement_fail(backend, err)
        key = lead.psa_engagement_key or lead._psa_engagement_new_key()
        project_values, contract_values = lead._psa_engagement_values(template, customer_id)
        lead._psa_engagement_write({"psa_engagement_key": key})

        def create(adapter):
            project = adapter.create_record("project", project_values, f"{key}:project")
            contract = adapter.create_record(
                "contract", {**contract_values, "project_id": project["id"]}, f"{key}:contract"
            )
            return project, contract

        result, failure = backend._run_remote(
            _("creation of the engagement of %s", lead.name),
            create,
            object_type="project",
            external_id=key,
            payload=json.dumps({"project": project_values, "contract": contract_values}),
        )
        if failure:
            lead._psa_engagement_write({"psa_engagement_state": "exception"})
            return failure
        project, contract = result
        lead._psa_engagement_write(
            {
                "psa_engagement_state": "created",
                "psa_engagement_backend_id": backend.id,
                "psa_engagement_external_id": str(project["id"]),
                "psa_engagement_contract_external_id": str(contract["id"]),
            }
        )
        # Through the importers, as pulled records: one binding per record whichever of
        # this and the PSA's webhooks comes first (the later one is an update or older).
        Event = self.env["psa.event"]
        events = Event._store_pulled(backend, "project", [project]) | Event._store_pulled(
            backend, "contract", [contract]
        )
        outcome = events._process_job()
        lead._psa_engagement_exceptions()._mark_resolved(
            _("The engagement was created on the PSA (project %s).", project["id"])
        )
        lead.activity_ids.filtered(
            lambda a: a.summary == _("PSA engagement not created")
        ).action_feedback(_("Engagement created on the PSA."))
        lead.message_post(
            body=_(
                "Engagement created on %(backend)s: project %(project)s, contract %(contract)s.",
                backend=backend.name,
                project=project["id"],
                contract=contract["id"],
            )
        )
        return f"project {project['id']}, contract {contract['id']}\n{outcome}"

    def _psa_engagement_new_key(self):
        """The idempotency key the PSA creates this lead's engagement under: the
        database and the lead, so no other lead or database can collide with it."""
        self.ensure_one()
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return f"odoo-{uuid[:8]}-crm.lead-{self.id}"

    def _psa_engagement_write(self, values):
        # The engagement fields are the workflow's (psa.workflow.guard.mixin).
        with workflow_write():
            self.write(values)

    def _psa_engagement_customer(self, backend):
        """The PSA customer id of the opportunity's customer; never a guess.

        Bound already: its binding. Else the PSA's customers with the same VAT number
        (or, without one, the same name): one is bound to the partner, none is created
        on the PSA and bound; more than one, or a partner matching several bound
        customers, is an ``AmbiguousMatch``.
        """
        self.ensure_one()
        partner = self.partner_id.commercial_partner_id
        if not partner:
            raise SyncError(
                _(
                    "Opportunity %s was won without a customer: the engagement needs one. "
                    "Set the customer, then retry.",
                    self.name,
                )
            )
        Binding = self.env["psa.binding"]
        bound = Binding.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("external_type", "=", "customer"),
                ("res_model", "=", "res.partner"),
                ("res_id", "=", partner.id),
            ]
        )
        if len(bound) == 1:
            return bound.external_id
        adapter = backend._get_adapter()
        vat = (partner.vat or "").replace(" ", "").upper()
        name = (partner.name or "").strip().casefold()
        matches = [
            record
            for page in adapter.iter_changes("customer")
            for record in page
            if not record.get("deleted")
            and (
                (record.get("vat") or "").replace(" ", "").upper() == vat
                if vat
                else (record.get("name") or "").strip().casefold() == name
            )
        ]
        if len(matches) > 1:
            raise AmbiguousMatch(
                _(
                    "The customer %(partner)s of opportunity %(lead)s matches %(count)s "
                    "customers of %(backend)s (%(ids)s). Nothing was created; link the "
                    "partner to the right one (or merge them on the PSA), then retry.",
                    partner=partner.display_name,
                    lead=self.name,
                    count=len(matches),
                    backend=backend.name,
                    ids=", ".join(str(m.get("id")) for m in matches),
                ),
                candidate_ids=[m.get("id") for m in matches],
            )
        if matches:
            external_id = str(matches[0]["id"])
            if Binding.sudo()._find(backend, "customer", external_id):
                raise AmbiguousMatch(
                    _(
                        "The customer %(partner)s of opportunity %(lead)s matches customer "
                        "%(id)s of %(backend)s, which is bound to another partner. Nothing "
                        "was created; merge the partners or correct the customer, then retry.",
                        partner=partner.display_name,
                        lead=self.name,
                        id=external_id,
                        backend=backend.name,
                    )
                )
        else:
            created = adapter.create_record(
                "customer",
                {
                    key: value
                    for key, value in {
                        "name": partner.name,
                        "is_company": True,
                        "vat": partner.vat,
                        "ref": partner.ref,
                        "email": partner.email,
                        "street": partner.street,
                        "city": partner.city,
                        "zip": partner.zip,
                        "country_code": partner.country_id.code,
                    }.items()
                    if value
                },
                f"{self.psa_engagement_key or self._psa_engagement_new_key()}:customer",
            )
            external_id = str(created["id"])
        with workflow_write():
            Binding.create(
                {
                    "backend_id": backend.id,
                    "external_type": "customer",
                    "external_id": external_id,
                    "res_model": "res.partner",
                    "res_id": partner.id,
                }
            )
        return external_id

    def _psa_engagement_values(self, template, customer_id):
        """(project, contract) to create, in the canonical schema."""
        self.ensure_one()
        start = self.psa_engagement_start_date or fields.Date.context_today(self)
        end = (
            start + relativedelta(months=template.duration_months, days=-1)
            if template.duration_months
            else None
        )
        currency = template.currency_id.name
        # Starting later: signed (a quotation in Odoo) until it starts; else active (a
        # confirmed sale order).
        started = start <= fields.Date.context_today(self)
        project = {
            "name": self.name,
            "customer_id": customer_id,
            "state": "active" if started else "approved",
            "billing_type": template.contract_type,
            "currency": currency,
            "date_start": str(start),
            "date_end": str(end) if end else None,
            "budget_hours": template.budget_hours or None,
            "budget_amount": self.expected_revenue or None,
            "description": template.note or None,
            "manager_email": self.user_id.email or None,
            "template_code": template.psa_project_template or None,
        }
        contract = {
            "name": self.name,
            "customer_id": customer_id,
            "type": template.contract_type,
            "state": "active" if started else "signed",
            "currency": currency,
            "date_start": str(start),
            "date_end": str(end) if end else None,
        }
        if template.contract_type == "time_and_materials":
            contract["rate_card"] = template._rate_card()
        elif template.contract_type == "retainer":
            contract["retainer_amount"] = template.retainer_amount
            contract["retainer_period"] = template.retainer_period
        else:
            contract["fixed_amount"] = template.fixed_amount or self.expected_revenue
        return project, contract

    def _psa_engagement_exceptions(self):
        """The open exceptions of this lead's engagement."""
        self.ensure_one()
        return (
            self.env["psa.exception"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "=", self.id),
                    ("state", "in", ("open", "retrying")),
                ]
            )
        )

    def _psa_engagement_fail(self, backend, error):
        """The won opportunity becomes an exception for its salesperson: the exception
        queue keeps what was won (the payload), the lead gets an activity."""
        self.ensure_one()
        payload = json.dumps(
            {
                "lead_id": self.id,
                "name": self.name,
                "partner": self.partner_id.display_name or self.partner_name or None,
                "template": self.psa_engagement_template_id.code or None,
                "start_date": str(self.psa_engagement_start_date or "") or None,
                "expected_revenue": self.expected_revenue,
            },
            indent=2,
        )
        Exception_ = self.env["psa.exception"].sudo()
        exception = self._psa_engagement_exceptions()[:1]
        values = {
            **Exception_._exception_values(error, backend=backend, object_type="engagement"),
            "res_model": self._name,
            "res_id": self.id,
            "payload": payload,
            "user_id": self.user_id.id or False,
        }
        if exception:
            exception.write(values)
        else:
            exception = Exception_.create(values)
        self._psa_engagement_write({"psa_engagement_state": "exception"})
        summary = _("PSA engagement not created")
        if self.user_id and not self.activity_ids.filtered(lambda a: a.summary == summary):
            self.sudo().activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary,
                note=error.message,
                user_id=self.user_id.id,
            )
        return error.message
