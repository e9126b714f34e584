from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        for invoice in posted.filtered(lambda m: m.move_type == "out_invoice"):
            lines = (
                self.env["account.analytic.line"]
                .sudo()
                .search([("timesheet_invoice_id", "=", invoice.id)])
            )
            if lines:
                lines._psa_report_billed(
                    {
                        "number": invoice.name,
                        "date": str(invoice.invoice_date or ""),
                        "odoo_id": invoice.id,
                    }
                )
        return posted
