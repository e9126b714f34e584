from odoo import fields, models

from ..tools.access import USER, requires_group


class PsaExceptionMapSuggestion(models.TransientModel):
    """One Odoo record the map wizard suggests for a missing reference."""

    _name = "psa.exception.map.suggestion"
    _description = "PSA Connector: Suggested Odoo Record for a Missing Reference"
    _order = "score desc, id"

    wizard_id = fields.Many2one("psa.exception.map.wizard", required=True, ondelete="cascade")
    res_model = fields.Char(related="wizard_id.res_model", string="Odoo model")
    res_id = fields.Many2oneReference(
        string="Odoo record",
        model_field="res_model",
        help="The suggested record; mapped only when you click Map and retry.",
    )
    name = fields.Char(string="Candidate", help="The suggested record's name.")
    score = fields.Integer(help="How much the record resembles the missing object (0-100).")
    evidence = fields.Char(help="Which attributes resemble the missing object, and how much.")

    @requires_group(USER)
    def action_map_and_retry(self):
        """Map exactly this candidate: the wizard's checks decide (the model comes from
        the exception's importer, the record must be readable by the user)."""
        self.ensure_one()
        wizard = self.wizard_id
        wizard.res_id = self.res_id
        return wizard.action_map_and_retry()
