from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from odoo.addons.psa_connector_base.tools.access import in_workflow


class PsaTimesheetReconciliationLine(models.Model):
    _name = "psa.timesheet.reconciliation.line"
    _description = "PSA Connector Timesheet Reconciliation Difference"
    _inherit = ["psa.workflow.guard.mixin"]
    _order = "date, project_external_id"
    # Written by the reconciliation's run only: the re-import acts on these findings.
    _psa_workflow_fields = (
        "reconciliation_id",
        "project_id",
        "project_external_id",
        "date",
        "psa_hours",
        "odoo_hours",
        "kind",
        "missing_count",
        "missing_entries",
        "extra_line_ids",
    )

    reconciliation_id = fields.Many2one(
        "psa.timesheet.reconciliation", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="reconciliation_id.company_id", store=True)
    project_id = fields.Many2one("project.project")
    project_external_id = fields.Char(string="PSA project")
    date = fields.Date()
    psa_hours = fields.Float(string="PSA hours")
    odoo_hours = fields.Float(string="Odoo hours")
    difference = fields.Float(compute="_compute_difference", store=True)
    kind = fields.Selection(
        [
            ("missing_in_odoo", "Missing in Odoo"),
            ("extra_in_odoo", "Extra in Odoo"),
            ("entries_differ", "Entries differ"),
            ("hours_differ", "Hours differ"),
        ],
        required=True,
    )
    missing_count = fields.Integer(string="Missing entries")
    missing_entries = fields.Text(help="The PSA's approved entries that Odoo does not hold.")
    extra_line_ids = fields.Many2many(
        "account.analytic.line", string="Lines not approved in the PSA"
    )

    @api.depends("psa_hours", "odoo_hours")
    def _compute_difference(self):
        for line in self:
            line.difference = round(line.psa_hours - line.odoo_hours, 4)

    @api.ondelete(at_uninstall=False)
    def _unlink_by_the_run_only(self):
        # Deleting a finding would hide a difference as surely as editing it.
        if not (self.env.su or in_workflow()):
            raise AccessError(_("Reconciliation differences are removed by running it again."))
