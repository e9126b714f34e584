from odoo import _, fields, models

from odoo.addons.psa_connector_base.tools.access import USER, requires_group


class PsaVendorBillRecord(models.Model):
    """The proof that one PSA vendor bill (approved subcontractor time or a vendor's
    invoice) became an Odoo vendor bill, keyed by its idempotency key.

    Inserted in the same transaction as the draft bill, under a unique index on
    (backend, key): a replay, a redelivery under a new envelope id or a racing worker
    finds the row (or waits on the index) and skips, so each PSA bill is billed once.
    """

    _name = "psa.vendor.bill.record"
    _inherit = ["psa.idempotency.record.mixin", "psa.workflow.guard.mixin"]
    _description = "PSA Connector Applied Vendor Bill"
    # The proof that a PSA bill was billed: only the importer writes it (see billing events).
    _psa_workflow_fields = (
        "backend_id",
        "idempotency_key",
        "event_id",
        "result",
        "kind",
        "purchase_ref",
        "purchase_order_id",
        "bill_id",
        "amount",
    )

    idempotency_key = fields.Char(required=True, readonly=True, help="The PSA vendor bill id.")
    kind = fields.Selection(
        [("subcontractor_time", "Subcontractor time"), ("vendor_invoice", "Vendor invoice")],
        readonly=True,
    )
    purchase_ref = fields.Char(string="PSA purchase", readonly=True)
    purchase_order_id = fields.Many2one(
        "purchase.order", readonly=True, ondelete="set null", index=True
    )
    bill_id = fields.Many2one(
        "account.move", string="Vendor bill", readonly=True, ondelete="set null", index=True
    )
    amount = fields.Float(readonly=True, help="Amount excluding taxes, in the purchase currency.")

    _sql_constraints = [
        (
            "key_unique",
            "unique(backend_id, idempotency_key)",
            "A PSA vendor bill is billed only once per backend.",
        ),
    ]

    @requires_group(USER)
    def action_open_bill(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Vendor bill"),
            "res_model": "account.move",
            "res_id": self.bill_id.id,
            "view_mode": "form",
        }
