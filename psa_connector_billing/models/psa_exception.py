from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.psa_connector_base.tools.access import MANAGER, requires_group, workflow_write
from odoo.addons.psa_connector_timesheet.models.psa_exception import (
    PsaException as TimesheetException_,
)

from .psa_service_mapping import WAITING_TYPES
from .psa_tax_mapping import TAX_CODE_WAITING_TYPE

# Waiting types resolved by a catalogue or tax mapping (not by a binding), and the Odoo
# model the map wizard offers for them.
CATALOGUE_MODELS = {
    WAITING_TYPES["service_item"]: "product.product",
    WAITING_TYPES["role"]: "product.product",
    TAX_CODE_WAITING_TYPE: "account.tax",
}


class PsaException(models.Model):
    _inherit = "psa.exception"

    # The lock found and the date proposed are the importer's findings; the acceptance
    # is the Apply in open period action's.
    _psa_workflow_fields = (
        *TimesheetException_._psa_workflow_fields,
        "psa_lock_date",
        "psa_open_period_date",
        "psa_open_period_accepted",
    )

    psa_lock_date = fields.Date(
        string="Locked until",
        readonly=True,
        help="The change is dated in a period locked in the company's accounting (lock "
        "dates) up to this day; nothing was written there.",
    )
    psa_open_period_date = fields.Date(
        string="Proposed date",
        readonly=True,
        help="The first open day, where the change would be booked instead.",
    )
    psa_open_period_accepted = fields.Boolean(
        string="Open period accepted",
        readonly=True,
        help="Someone accepted booking the change in the first open period; it is retried "
        "that way (the first open day is computed again when it runs).",
    )

    @requires_group(MANAGER)
    def action_apply_in_open_period(self):
        """Accept the proposed adjustment of a change dated in a locked period and retry
        it: the importer books it on the first open day it computes itself."""
        todo = self.filtered(
            lambda e: e.psa_open_period_date and e.event_id and e.state in ("open", "retrying")
        )
        if not todo:
            raise UserError(
                _("None of the selected exceptions is a change dated in a locked period.")
            )
        for exception in todo:
            with workflow_write():
                exception.psa_open_period_accepted = True
            exception._audit(
                "update",
                _(
                    "Accepted: book in the first open period (proposed %s).",
                    fields.Date.to_string(exception.psa_open_period_date),
                ),
                {"proposed_date": fields.Date.to_string(exception.psa_open_period_date)},
            )
        todo._retry()
        return True

    def _mapping_model(self):
        self.ensure_one()
        if self.waiting_type in CATALOGUE_MODELS:
            return CATALOGUE_MODELS[self.waiting_type]
        return super()._mapping_model()

    def _suggest_references(self, limit=5):
        """Service products or sale taxes whose code or name contain the missing code."""
        self.ensure_one()
        if self.waiting_type not in CATALOGUE_MODELS:
            return super()._suggest_references(limit=limit)
        model = CATALOGUE_MODELS[self.waiting_type]
        code = self.waiting_external_id or ""
        if not code or not self.env[model].has_access("read"):
            return []
        if model == "account.tax":
            domain = [
                ("type_tax_use", "=", "sale"),
                "|",
                ("name", "ilike", code),
                ("description", "ilike", code),
            ]
        else:
            domain = [
                ("type", "=", "service"),
                ("sale_ok", "=", True),
                "|",
                ("default_code", "=ilike", code),
                ("name", "ilike", code),
            ]
        records = self.env[model].search(domain, limit=limit)
        return [
            {
                "res_model": model,
                "res_id": record.id,
                "display_name": record.display_name,
                # An exact product code beats a name that merely contains the code.
                "score": 90
                if model == "product.product"
                and (record.default_code or "").lower() == code.lower()
                else 60,
                "evidence": _("code or name contains %s", code),
            }
            for record in records
        ]

    @api.depends("category", "waiting_type", "waiting_external_id", "backend_id")
    def _compute_explanation(self):
        super()._compute_explanation()
        for exception in self:
            if (
                exception.category == "missing_reference"
                and exception.waiting_type in CATALOGUE_MODELS
                and exception.waiting_external_id
            ):
                text = (
                    _(
                        "%(backend)s requires a mapping for PSA tax code %(ref)s in the "
                        "contract's company. Nothing was drafted. A Connector Manager maps "
                        "it with <b>Map to Odoo record</b> (choose the company's sale tax) "
                        "or in the backend's Tax mapping tab; the change is retried then."
                    )
                    if exception.waiting_type == TAX_CODE_WAITING_TYPE
                    else _(
                        "%(backend)s requires a product of the service catalogue for PSA "
                        "%(ref)s. No order line was created. A Connector Manager maps it "
                        "with <b>Map to Odoo record</b> (choose the service product) or in "
                        "the backend's Service catalogue tab; the change is retried then."
                    )
                )
                exception.explanation = Markup("<p>%s</p>") % (
                    Markup(text)
                    % {
                        "backend": exception.backend_id.name or "",
                        "ref": exception.waiting_external_id,
                    }
                )
