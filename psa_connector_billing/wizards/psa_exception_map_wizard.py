from markupsafe import Markup

from odoo import _, models
from odoo.exceptions import UserError

from odoo.addons.psa_connector_base.tools.access import MANAGER, USER, check_group, requires_group

from ..models.psa_exception import CATALOGUE_MODELS
from ..models.psa_service_mapping import WAITING_TYPES


class PsaExceptionMapWizard(models.TransientModel):
    _inherit = "psa.exception.map.wizard"

    @requires_group(USER)
    def action_map_and_retry(self):
        """An unmapped service item, role or tax code is mapped in the backend's service
        catalogue or tax mapping (not by a binding); the change is retried at once."""
        self.ensure_one()
        exception = self.exception_id
        if exception.waiting_type not in CATALOGUE_MODELS:
            return super().action_map_and_retry()
        if not exception.can_map_reference:
            raise UserError(_("This exception no longer waits for a reference."))
        # The catalogue and the tax mapping are configuration: a Connector Manager's.
        check_group(self.env, MANAGER)
        model = CATALOGUE_MODELS[exception.waiting_type]
        record = self.env[model].browse(self.res_id) if self.res_id else None
        if not record or not record.exists():
            raise UserError(_("Choose the Odoo record this %s is.", exception.waiting_type))
        record.check_access("read")
        code = exception.waiting_external_id
        backend = exception.backend_id
        if model == "account.tax":
            # The tax decides the company the code is mapped in.
            self.env["psa.tax.mapping"].create(
                {
                    "backend_id": backend.id,
                    "company_id": record.company_id.id,
                    "mapping_type": "tax_code",
                    "code": code,
                    "tax_ids": [(6, 0, record.ids)],
                }
            )
        else:
            kind = next(k for k, t in WAITING_TYPES.items() if t == exception.waiting_type)
            self.env["psa.service.mapping"].create(
                {
                    "backend_id": backend.id,
                    # A product of one company is mapped for it; a shared one for all.
                    "company_id": record.company_id.id,
                    "kind": kind,
                    "code": code,
                    "product_id": record.id,
                }
            )
        exception.message_post(
            body=Markup(_("Mapped %(type)s %(ref)s to <b>%(record)s</b>."))
            % {
                "type": exception.waiting_type.replace("_", " "),
                "ref": code,
                "record": record.display_name,
            }
        )
        # Creating the mapping retried every change waiting for this code, this one too.
        if exception.state == "open":
            exception._retry()
        return {"type": "ir.actions.act_window_close"}
