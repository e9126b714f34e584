from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _psa_contract_orders(self):
        return self.sudo().line_ids.sale_line_ids.order_id.filtered("psa_backend_id")

    def _psa_status_payload(self, orders):
        """What the PSA is told about an invoice; also kept with a failed push."""
        self.ensure_one()
        return {
            "number": self.name,
            "odoo_id": self.id,
            "move_type": self.move_type,
            "state": self.state,
            "payment_state": self.payment_state,
            "currency": self.currency_id.name,
            "amount_untaxed": self.amount_untaxed,
            "amount_tax": self.amount_tax,
            "amount_total": self.amount_total,
            "amount_residual": self.amount_residual,
            "invoice_date": str(self.invoice_date) if self.invoice_date else None,
            "due_date": str(self.invoice_date_due) if self.invoice_date_due else None,
            "reversed_entry": self.reversed_entry_id.name or None,
            "contract_ids": sorted(orders.mapped("psa_contract_ref")),
        }

    def _psa_report_status(self):
        """Queue a status push per backend for customer invoices of PSA contracts."""
        for move in self.filtered(lambda m: m.move_type in ("out_invoice", "out_refund")):
            orders = move._psa_contract_orders()
            if not orders or not move.name or move.name == "/":
                continue
            for backend in orders.psa_backend_id:
                backend._enqueue_invoice_status(
                    move._psa_status_payload(
                        orders.filtered(lambda o, b=backend: o.psa_backend_id == b)
                    )
                )

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        posted._psa_report_status()
        return posted

    def button_cancel(self):
        result = super().button_cancel()
        self._psa_report_status()
        return result

    def button_draft(self):
        # A posted invoice reset to draft is no longer owed: the PSA must know.
        was_posted = self.filtered(lambda m: m.state in ("posted", "cancel"))
        result = super().button_draft()
        was_posted._psa_report_status()
        return result
