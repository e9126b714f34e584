from odoo import api, fields, models


class PsaBackend(models.Model):
    _inherit = "psa.backend"

    crm_won_stages = fields.Char(
        string="Won deal stages",
        default="closedwon",
        help="CRM backends: the stage ids (comma-separated) of a won deal, e.g. HubSpot's "
        "closedwon and the won stages of other pipelines. A deal reaching one becomes a "
        "won opportunity.",
    )

    def _pull_object_types(self):
        types = super()._pull_object_types()
        if self.kind == "crm":
            types.append("deal")
        return types

    @api.model
    def _psa_won_stage_set(self, text):
        return {part.strip() for part in (text or "").split(",") if part.strip()}

    def _psa_deal_is_won(self, data):
        self.ensure_one()
        stage = (data or {}).get("stage")
        return bool(stage) and stage in self._psa_won_stage_set(self.crm_won_stages)
