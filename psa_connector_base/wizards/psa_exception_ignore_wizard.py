from odoo import fields, models

from ..tools.access import USER, requires_group


class PsaExceptionIgnoreWizard(models.TransientModel):
    _name = "psa.exception.ignore.wizard"
    _description = "PSA Connector: Ignore Exceptions With a Reason"

    exception_ids = fields.Many2many("psa.exception", required=True)
    reason = fields.Text(required=True, help="Kept on each exception and in its chatter.")

    @requires_group(USER)
    def action_confirm(self):
        self.exception_ids.action_ignore(self.reason)
        return {"type": "ir.actions.act_window_close"}
