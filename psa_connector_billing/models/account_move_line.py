from odoo import models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    # Payments, credit notes and reversals all change an invoice's payment state through
    # reconciliation; these hooks see it before and after, whatever the path.

    def _reconcile_pre_hook(self):
        data = super()._reconcile_pre_hook()
        invoices = self.move_id.filtered(lambda m: m.move_type in ("out_invoice", "out_refund"))
        data["psa_payment_states"] = {
            move: (move.payment_state, move.amount_residual) for move in invoices
        }
        return data

    def _reconcile_post_hook(self, data):
        result = super()._reconcile_post_hook(data)
        before = data.get("psa_payment_states") or {}
        changed = self.env["account.move"].browse(
            [
                move.id
                for move, seen in before.items()
                if (move.payment_state, move.amount_residual) != seen
            ]
        )
        changed._psa_report_status()
        return result
