from odoo import api, fields, models

from odoo.addons.psa_connector_base.models.psa_exception import PsaException as BaseException_


class PsaException(models.Model):
    _inherit = "psa.exception"

    # Which employee the entry waits for is the importer's finding, not a person's input.
    _psa_workflow_fields = (*BaseException_._psa_workflow_fields, "waiting_email")

    waiting_email = fields.Char(
        index=True, help="The work e-mail of the employee a time entry waits for."
    )

    @api.model
    def _wake_waiting_employees(self, employees):
        """Retry time entries waiting for an employee who now exists with that e-mail."""
        emails = [e.lower() for e in employees.mapped("work_email") if e]
        if not emails:
            return
        self.sudo().search(
            [
                ("state", "=", "open"),
                ("category", "=", "missing_reference"),
                ("waiting_type", "=", "employee"),
                ("waiting_email", "in", emails),
            ]
        )._retry(automatic=True)
