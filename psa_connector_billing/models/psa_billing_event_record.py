from odoo import api, fields, models


class PsaBillingEventRecord(models.Model):
    """The proof that one billing event took effect, keyed by its idempotency key.

    The row is inserted in the same transaction as the effect (the order line made
    invoiceable, the invoice created), and the unique index on (backend, key) is what
    guarantees "at most once": a replay, a second worker racing the first, or a retry
    after a crash either finds the committed row and skips, or waits on the index
    until the first transaction ends (and then skips, or inserts if it rolled back).
    """

    _name = "psa.billing.event.record"
    _inherit = ["psa.idempotency.record.mixin", "psa.workflow.guard.mixin"]
    _description = "PSA Connector Applied Billing Event"
    # The proof that a billing event was applied: a row edited or made by hand would make
    # a replay skip (or apply again) an amount; only the importer writes it.
    _psa_workflow_fields = (
        "backend_id",
        "idempotency_key",
        "event_id",
        "result",
        "kind",
        "contract_ref",
        "sale_order_id",
        "sale_line_id",
        "invoice_id",
        "amount",
        "state",
    )

    idempotency_key = fields.Char(required=True, readonly=True, help="The billing event id.")
    kind = fields.Char(readonly=True)
    contract_ref = fields.Char(string="Contract", readonly=True)
    sale_order_id = fields.Many2one("sale.order", readonly=True, ondelete="set null", index=True)
    sale_line_id = fields.Many2one("sale.order.line", readonly=True, ondelete="set null")
    invoice_id = fields.Many2one("account.move", readonly=True, ondelete="set null")
    amount = fields.Float(readonly=True)
    state = fields.Selection(
        [("applied", "Applied"), ("recorded", "Recorded, nothing to bill")],
        default="applied",
        required=True,
        readonly=True,
    )

    _sql_constraints = [
        (
            "key_unique",
            "unique(backend_id, idempotency_key)",
            "A billing event is applied only once per backend.",
        ),
    ]

    @api.model
    def _claim_defaults(self):
        return {"state": "applied"}
