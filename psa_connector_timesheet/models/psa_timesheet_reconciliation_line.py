from odoo import api, fields, models


class PsaTimesheetReconciliationLine(models.Model):
    _name = "psa.timesheet.reconciliation.line"
    _description = "PSA Connector Timesheet Reconciliation Difference"
    _order = "date, project_external_id"

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
