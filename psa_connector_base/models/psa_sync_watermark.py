from odoo import api, fields, models

from ..tools.versions import normalize_timestamp


class PsaSyncWatermark(models.Model):
    """How far the incremental pull of one object type has read."""

    _name = "psa.sync.watermark"
    _description = "PSA Connector Pull Watermark"
    _order = "backend_id, object_type"
    _rec_name = "object_type"
    _inherit = ["psa.workflow.guard.mixin"]
    # Moved by the pulls only (under sudo): a watermark set ahead skips changes for good.
    _psa_workflow_fields = (
        "backend_id",
        "object_type",
        "last_updated_at",
        "last_run",
        "last_success",
        "last_error",
    )

    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    object_type = fields.Char(required=True)
    last_updated_at = fields.Char(
        help="Greatest updated_at pulled so far; the next pull asks from there (inclusive)."
    )
    last_run = fields.Datetime()
    last_success = fields.Datetime()
    last_error = fields.Text()

    _sql_constraints = [
        ("watermark_unique", "unique(backend_id, object_type)", "One watermark per object type."),
    ]

    @api.model
    def _for(self, backend, object_type):
        watermark = self.sudo().search(
            [("backend_id", "=", backend.id), ("object_type", "=", object_type)], limit=1
        )
        return watermark or self.sudo().create(
            {"backend_id": backend.id, "object_type": object_type}
        )

    def _advance(self, records):
        stamps = [normalize_timestamp(r.get("updated_at")) for r in records]
        newest = max((s for s in stamps if s), default=None)
        if newest and (not self.last_updated_at or newest > self.last_updated_at):
            self.sudo().last_updated_at = newest
