from odoo import fields, models

PURCHASE_KINDS = [("subcontract", "Subcontractor engagement"), ("purchase", "Project purchase")]


class PurchaseOrder(models.Model):
    _inherit = "purchase.order"

    psa_backend_id = fields.Many2one(
        "psa.backend",
        string="PSA backend",
        readonly=True,
        copy=False,
        index=True,
        help="Set when this order is a purchase or subcontractor engagement of the PSA.",
    )
    psa_purchase_ref = fields.Char(string="PSA purchase", readonly=True, copy=False, index=True)
    psa_purchase_kind = fields.Selection(PURCHASE_KINDS, string="PSA purchase kind", readonly=True)
    psa_purchase_state = fields.Selection(
        [
            ("draft", "Draft"),
            ("submitted", "Submitted"),
            ("approved", "Approved"),
            ("rejected", "Rejected"),
            ("cancelled", "Cancelled"),
            ("closed", "Closed"),
        ],
        string="PSA approval",
        readonly=True,
        copy=False,
        help="Approval state in the PSA. Approved orders are committed cost until billed; "
        "closed ones commit nothing more.",
    )
    psa_project_id = fields.Many2one(
        "project.project",
        string="PSA project",
        readonly=True,
        index="btree_not_null",
        help="The engagement the purchase is for; its analytic account carries the cost.",
    )
    psa_vendor_bill_ids = fields.One2many(
        "psa.vendor.bill.record", "purchase_order_id", string="PSA vendor bills"
    )

    def _psa_billed_lines(self):
        """Vendor bill lines (draft or posted) against the order's lines."""
        return self.order_line.invoice_lines.filtered(lambda line: line.move_id.state != "cancel")
