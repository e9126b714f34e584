from odoo import models
from odoo.exceptions import UserError

from odoo.addons.psa_connector_base.tools.errors import MissingReference


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    def _sale_prepare_sale_line_values(self, order, price):
        """A re-invoiced PSA expense gets the taxes of its tax code (the expense's, else
        the contract's) in the order's company, mapped by the order's fiscal position."""
        values = super()._sale_prepare_sale_line_values(order, price)
        code = self.expense_id.psa_tax_code or order.psa_tax_code
        if order.psa_backend_id and code:
            try:
                taxes = self.env["psa.tax.mapping"]._taxes_for(
                    order.psa_backend_id, order.company_id, code
                )
            except MissingReference as error:
                # The mapping was removed since the expense arrived: finance decides.
                raise UserError(error.message) from error
            fiscal_position = order.fiscal_position_id
            if fiscal_position:
                taxes = fiscal_position.map_tax(taxes)
            values["tax_id"] = taxes.ids
        return values

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
