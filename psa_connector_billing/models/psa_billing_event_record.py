from odoo import _, api, fields, models


class PsaBillingEventRecord(models.Model):
    """The proof that one billing event took effect, keyed by its idempotency key.

    The row is inserted in the same transaction as the effect (the order line made
    invoiceable, the invoice created), and the unique index on (backend, key) is what
    guarantees "at most once": a replay, a second worker racing the first, or a retry
    after a crash either finds the committed row and skips, or waits on the index
    until the first transaction ends (and then skips, or inserts if it rolled back).
    """

    _name = "psa.billing.event.record"
    _description = "PSA Connector Applied Billing Event"
    _order = "id desc"
    _rec_name = "idempotency_key"

    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    idempotency_key = fields.Char(required=True, readonly=True, help="The billing event id.")
    kind = fields.Char(readonly=True)
    contract_ref = fields.Char(string="Contract", readonly=True)
    sale_order_id = fields.Many2one("sale.order", readonly=True, ondelete="set null", index=True)
    sale_line_id = fields.Many2one("sale.order.line", readonly=True, ondelete="set null")
    invoice_id = fields.Many2one("account.move", readonly=True, ondelete="set null")
    amount = fields.Float(readonly=True)
    event_id = fields.Many2one("psa.event", readonly=True, ondelete="set null")
    state = fields.Selection(
        [("applied", "Applied"), ("recorded", "Recorded, nothing to bill")],
        default="applied",
        required=True,
        readonly=True,
    )
    result = fields.Char(readonly=True)

    _sql_constraints = [
        (
            "key_unique",
            "unique(backend_id, idempotency_key)",
            "A billing event is applied only once per backend.",
        ),
    ]

    @api.model
    def _claim(self, backend, key, values):
        """Insert the record for ``key``; return it, or an empty recordset if it exists.

        ``ON CONFLICT DO NOTHING`` rather than the ORM: a concurrent duplicate must turn
        into "skip" for the loser instead of an IntegrityError that aborts its job.
        """
        now = fields.Datetime.now()
        self.env.cr.execute(
            """INSERT INTO psa_billing_event_record
                   (backend_id, company_id, idempotency_key, kind, contract_ref, sale_order_id,
                    amount, event_id, state, create_uid, create_date, write_uid, write_date)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'applied', %s, %s, %s, %s)
               ON CONFLICT (backend_id, idempotency_key) DO NOTHING RETURNING id""",
            (
                backend.id,
                backend.company_id.id,
                key,
                values.get("kind"),
                values.get("contract_ref"),
                values.get("sale_order_id"),
                values.get("amount") or 0.0,
                values.get("event_id"),
                self.env.uid,
                now,
                self.env.uid,
                now,
            ),
        )
        row = self.env.cr.fetchone()
        return self.browse(row[0]) if row else self.browse()

    @api.model
    def _find(self, backend, key):
        return self.search(
            [("backend_id", "=", backend.id), ("idempotency_key", "=", key)], limit=1
        )

    def action_open_invoice(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Invoice"),
            "res_model": "account.move",
            "res_id": self.invoice_id.id,
            "view_mode": "form",
        }
