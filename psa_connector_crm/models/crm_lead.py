from odoo import _, api, fields, models

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

    _inherit = "crm.lead"

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
                binding = Binding.search(
                    [
                        ("backend_id", "=", backend.id),
                        ("object_type", "=", object_type),
                        ("external_id", "=", external_id),
                    ],
                    limit=1,
                )
                if binding and binding.res_model == model:
                    lead[field] = self.env[model].browse(binding.res_id).exists()

    # The trigger ------------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        leads.filtered(lambda lead: lead.stage_id.is_won)._psa_queue_engagement()
        return leads

    def write(self, vals):
        if "stage_id" not in vals:
            return super().write(vals)
        not_won = self.filtered(lambda lead: not lead.stage_id.is_won)
        res = super().write(vals)
        not_won.filtered(lambda lead: lead.stage_id.is_won)._psa_queue_engagement()
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
            lead.sudo().psa_engagement_state = "queued"
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
        """Create the engagement of this won opportunity on the PSA (a job, as the
        integration user; idempotent: see ``_psa_create_engagement``)."""
        self.ensure_one()
        return self._psa_create_engagement()

    def _psa_create_engagement(self):
        return "not yet"
