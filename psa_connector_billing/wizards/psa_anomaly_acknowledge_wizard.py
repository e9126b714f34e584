from odoo import api, fields, models

from odoo.addons.psa_connector_base.tools.access import USER, requires_group


class PsaAnomalyAcknowledgeWizard(models.TransientModel):
    _name = "psa.anomaly.acknowledge.wizard"
    _description = "PSA Connector: Acknowledge Anomaly Flags With a Note"

    anomaly_ids = fields.Many2many("psa.anomaly", required=True)
    note = fields.Text(required=True, help="Kept on each flag with your name and the date.")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "psa.anomaly" and "anomaly_ids" in fields_list:
            values["anomaly_ids"] = [fields.Command.set(self.env.context.get("active_ids") or [])]
        return values

    @requires_group(USER)
    def action_confirm(self):
        self.anomaly_ids.action_acknowledge(self.note)
        return {"type": "ir.actions.act_window_close"}
