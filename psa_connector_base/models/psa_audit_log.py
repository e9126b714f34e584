import json

from odoo import _, api, fields, models
from odoo.exceptions import AccessError


class PsaAuditLog(models.Model):
    """Append-only record of every change that crossed the boundary."""

    _name = "psa.audit.log"
    _description = "PSA Connector Audit Log"
    _order = "id desc"
    _log_access = True

    backend_id = fields.Many2one("psa.backend", required=True, ondelete="restrict", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    direction = fields.Selection([("in", "Inbound"), ("out", "Outbound")], required=True)
    object_type = fields.Char(index=True)
    external_id = fields.Char(string="External ID", index=True)
    res_model = fields.Char(string="Odoo model")
    res_id = fields.Many2oneReference(string="Odoo record", model_field="res_model")
    operation = fields.Selection(
        [
            ("create", "Created"),
            ("update", "Updated"),
            ("archive", "Archived"),
            ("delete", "Deleted"),
            ("match", "Matched existing"),
            ("skip_stale", "Skipped: older than Odoo's"),
            ("skip_owned", "Not applied: Odoo owns the field"),
            ("write_back", "Odoo ids written back"),
            ("push", "Pushed"),
        ],
        required=True,
    )
    outcome = fields.Selection(
        [("success", "Success"), ("skipped", "Skipped"), ("failed", "Failed")],
        default="success",
        required=True,
    )
    correlation_id = fields.Char(index=True)
    event_id = fields.Many2one("psa.event", ondelete="set null", index=True)
    message = fields.Char()
    values = fields.Text(string="Values")

    @api.model
    def _log(
        self,
        backend,
        direction,
        operation,
        object_type=None,
        external_id=None,
        record=None,
        res_model=None,
        res_id=None,
        event=None,
        outcome="success",
        message=None,
        values=None,
    ):
        return self.sudo().create(
            {
                "backend_id": backend.id,
                "direction": direction,
                "operation": operation,
                "object_type": object_type,
                "external_id": external_id,
                "res_model": record._name if record else res_model,
                "res_id": record.id if record else res_id,
                "event_id": event.id if event else False,
                "correlation_id": event.correlation_id if event else False,
                "outcome": outcome,
                "message": message,
                "values": json.dumps(values, default=str, sort_keys=True, ensure_ascii=False)
                if values
                else False,
            }
        )

    def write(self, vals):
        if not self.env.su:
            raise AccessError(_("The connector audit log cannot be changed."))
        return super().write(vals)

    def unlink(self):
        if not self.env.su:
            raise AccessError(_("The connector audit log cannot be deleted."))
        return super().unlink()
