from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.psa_connector_base.tools.access import requires_group, workflow_write

from .psa_payroll_batch import APPROVER_GROUPS, READER_GROUPS

CHECK_KINDS = [
    ("no_payroll_id", "Employee without payroll ID"),
    ("above_ceiling", "Hours above the ceiling"),
    ("changed_after_cutoff", "Changed after cut-off"),
    ("no_receipt", "Expense without receipt"),
]


class PsaPayrollCheck(models.Model):
    """A finding of the validation checkpoint an HR/finance user approves or fixes."""

    _name = "psa.payroll.check"
    _description = "PSA Connector Payroll Validation Check"
    _inherit = ["psa.workflow.guard.mixin"]
    _order = "batch_id, kind, id"
    # A finding is the checkpoint's, and accepting it records who did: only action_accept.
    _psa_workflow_fields = (
        "batch_id",
        "kind",
        "name",
        "employee_id",
        "source_model",
        "source_id",
        "state",
        "accepted_by_id",
        "accepted_date",
    )

    batch_id = fields.Many2one(
        "psa.payroll.batch", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one(related="batch_id.company_id", store=True, index=True)
    kind = fields.Selection(CHECK_KINDS, required=True, readonly=True)
    name = fields.Char(string="Finding", required=True, readonly=True)
    employee_id = fields.Many2one("hr.employee", readonly=True)
    source_model = fields.Char(readonly=True)
    source_id = fields.Many2oneReference(model_field="source_model", readonly=True)
    state = fields.Selection(
        [("open", "To review"), ("accepted", "Accepted")],
        default="open",
        required=True,
        readonly=True,
        help="Accept a finding to send it as it is, or fix the source and refresh the "
        "batch (the finding then disappears).",
    )
    accepted_by_id = fields.Many2one("res.users", readonly=True)
    accepted_date = fields.Datetime(readonly=True)

    def _key(self):
        self.ensure_one()
        return (self.kind, self.employee_id.id, self.source_model or "", self.source_id or 0)

    @requires_group(*APPROVER_GROUPS)
    def action_accept(self):
        if any(c.batch_id.state != "to_approve" for c in self):
            raise UserError(_("The batch is approved already."))
        with workflow_write():
            self.filtered(lambda c: c.state == "open").write(
                {
                    "state": "accepted",
                    "accepted_by_id": self.env.user.id,
                    "accepted_date": fields.Datetime.now(),
                }
            )
        return True

    @requires_group(*READER_GROUPS)
    def action_open_source(self):
        self.ensure_one()
        if not (self.source_model and self.source_id):
            return {
                "type": "ir.actions.act_window",
                "res_model": "hr.employee",
                "res_id": self.employee_id.id,
                "view_mode": "form",
            }
        return {
            "type": "ir.actions.act_window",
            "res_model": self.source_model,
            "res_id": self.source_id,
            "view_mode": "form",
        }
