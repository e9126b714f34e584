from odoo import api, fields, models


class PsaException(models.Model):
    _inherit = "psa.exception"

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
