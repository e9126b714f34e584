from odoo import fields, models

CONTRACT_TYPES = [
    ("time_and_materials", "Time and materials"),
    ("fixed_fee", "Fixed fee"),
    ("milestone", "Milestones"),
    ("retainer", "Retainer"),
]


class SaleOrder(models.Model):
    _inherit = "sale.order"

    psa_backend_id = fields.Many2one(
        "psa.backend",
        string="PSA backend",
        readonly=True,
        copy=False,
        index=True,
        help="Set when this order is a PSA contract: the PSA drives its lines.",
    )
    psa_contract_ref = fields.Char(string="PSA contract", readonly=True, copy=False, index=True)
    psa_contract_type = fields.Selection(CONTRACT_TYPES, string="Billing model", readonly=True)
    psa_project_id = fields.Many2one("project.project", string="PSA project", readonly=True)
    psa_retainer_amount = fields.Monetary(
        string="Retainer per period", readonly=True, currency_field="currency_id"
    )
    psa_retainer_period = fields.Char(string="Retainer period", readonly=True)
    psa_expense_policy = fields.Selection(
        [("cost", "At cost"), ("sales_price", "At sales price"), ("no", "Not re-invoiced")],
        string="Expense re-invoicing",
        default="no",
        readonly=True,
        help="How the PSA contract re-invoices the project's reimbursable expenses.",
    )
    psa_billing_event_ids = fields.One2many("psa.billing.event.record", "sale_order_id")

    def _psa_line(self, key):
        self.ensure_one()
        return self.order_line.filtered(lambda line: line.psa_line_key == key)[:1]

    def _psa_create_draft_invoices(self):
        """Draft invoices for the orders with something to invoice; never posts them."""
        invoices = self.env["account.move"]
        for order in self.filtered(
            lambda o: o.state == "sale" and o.invoice_status == "to invoice"
        ):
            invoices |= order._create_invoices()
        return invoices
