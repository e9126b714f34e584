from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from ..tools.access import USER, requires_group, workflow_write


class PsaExceptionMapWizard(models.TransientModel):
    """Resolve a missing reference: link the external id to a record Odoo already has."""

    _name = "psa.exception.map.wizard"
    _description = "PSA Connector: Map a Missing Reference to an Odoo Record"

    exception_id = fields.Many2one("psa.exception", required=True, ondelete="cascade")
    backend_id = fields.Many2one(related="exception_id.backend_id")
    waiting_type = fields.Char(related="exception_id.waiting_type")
    waiting_external_id = fields.Char(
        related="exception_id.waiting_external_id", string="External ID"
    )
    res_model = fields.Char(string="Odoo model", compute="_compute_res_model", store=True)
    res_id = fields.Many2oneReference(
        string="Odoo record",
        model_field="res_model",
        help="The existing Odoo record that is this external object. A link (external ID "
        "binding) is created and the waiting change is retried.",
    )

    suggestion_ids = fields.One2many(
        "psa.exception.map.suggestion",
        "wizard_id",
        string="Suggestions",
        help="Odoo records most like the missing object, best first, with the evidence. "
        "None is mapped until you choose it.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        wizards = super().create(vals_list)
        for wizard in wizards:
            if wizard.exception_id.can_map_reference:
                wizard.suggestion_ids = [
                    Command.create(
                        {
                            "res_id": suggestion["res_id"],
                            "name": suggestion["display_name"],
                            "score": suggestion["score"],
                            "evidence": suggestion["evidence"],
                        }
                    )
                    for suggestion in wizard.exception_id._suggest_references(limit=5)
                ]
        return wizards

    @api.depends("exception_id")
    def _compute_res_model(self):
        for wizard in self:
            wizard.res_model = (
                wizard.exception_id._mapping_model() if wizard.exception_id else False
            )

    @requires_group(USER)
    def action_map_and_retry(self):
        self.ensure_one()
        exception = self.exception_id
        if not exception.can_map_reference:
            raise UserError(_("This exception no longer waits for a reference."))
        # The model comes from the exception's importer, never from the wizard's (writable)
        # res_model; the record must exist and be readable by the user who maps it.
        model = exception._mapping_model()
        record = self.env[model].browse(self.res_id) if model and self.res_id else None
        if not record or not record.exists():
            raise UserError(_("Choose the Odoo record this %s is.", self.waiting_type))
        record.check_access("read")
        Binding = self.env["psa.binding"]
        Binding._psa_check_bindable([(exception.waiting_type, model)])
        taken = Binding.search(
            [
                ("backend_id", "=", exception.backend_id.id),
                ("external_type", "=", exception.waiting_type),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
            ],
            limit=1,
        )
        if taken:
            raise UserError(
                _(
                    "%(record)s is already linked to %(type)s %(ref)s of this backend.",
                    record=record.display_name,
                    type=exception.waiting_type,
                    ref=taken.external_id,
                )
            )
        # Creating the binding wakes every event waiting for it, this one included.
        # sudo: Connector Users work the queue but may not create bindings by hand; every
        # value here was checked above (declared model, a record the user can read).
        with workflow_write():
            Binding.sudo().create(
                {
                    "backend_id": exception.backend_id.id,
                    "external_type": exception.waiting_type,
                    "external_id": exception.waiting_external_id,
                    "res_model": record._name,
                    "res_id": record.id,
                }
            )
        exception.message_post(
            body=Markup(_("Mapped %(type)s %(ref)s to <b>%(record)s</b>."))
            % {
                "type": exception.waiting_type,
                "ref": exception.waiting_external_id,
                "record": record.display_name,
            }
        )
        if exception.state == "open":
            exception._retry()
        return {"type": "ir.actions.act_window_close"}
