from odoo import models


class AccountPartialReconcile(models.Model):
    _inherit = "account.partial.reconcile"

    def unlink(self):
        # Un-reconciling a payment or a credit note (remove_move_reconcile, a reset to
        # draft of the payment, a bank statement line unmatched) gives the invoice its
        # residual back: the PSA must hear it like it heard the payment.
        moves = (self.debit_move_id.move_id | self.credit_move_id.move_id).filtered(
            lambda m: m.move_type in ("out_invoice", "out_refund")
        )
        before = {move: (move.payment_state, move.amount_residual) for move in moves}
        result = super().unlink()
        changed = moves.filtered(lambda m: (m.payment_state, m.amount_residual) != before[m])
        changed._psa_report_status()
        return result
