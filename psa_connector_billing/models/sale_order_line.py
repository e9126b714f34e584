from odoo import fields, models


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    psa_line_key = fields.Char(
        string="PSA line key",
        readonly=True,
        copy=False,
        index=True,
        help="What the line stands for in the contract (role:<name>, employee:<id>, "
        "milestone:<id>, retainer:<period>, change_order:<id>, fixed); contract updates "
        "and billing events find their line by it.",
    )

    def _psa_posted_invoice_lines(self):
        return self.invoice_lines.filtered(lambda line: line.move_id.state == "posted")

    def _psa_draft_invoice_lines(self):
        return self.invoice_lines.filtered(lambda line: line.move_id.state == "draft")
