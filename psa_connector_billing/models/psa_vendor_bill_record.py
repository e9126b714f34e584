from odoo import _, api, fields, models


class PsaVendorBillRecord(models.Model):
    """The proof that one PSA vendor bill (approved subcontractor time or a vendor's
    invoice) became an Odoo vendor bill, keyed by its idempotency key.

    Inserted in the same transaction as the draft bill, under a unique index on
    (backend, key): a replay, a redelivery under a new envelope id or a racing worker
    finds the row (or waits on the index) and skips, so each PSA bill is billed once.
    """

    _name = "psa.vendor.bill.record"
    _description = "PSA Connector Applied Vendor Bill"
    _order = "id desc"
    _rec_name = "idempotency_key"

    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
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
    event_id = fields.Many2one("psa.event", readonly=True, ondelete="set null")
    result = fields.Char(readonly=True)

    _sql_constraints = [
        (
            "key_unique",
            "unique(backend_id, idempotency_key)",
            "A PSA vendor bill is billed only once per backend.",
        ),
    ]

    @api.model
    def _claim(self, backend, key, values):
        """Insert the record for ``key``; return it, or an empty recordset if it exists.

        ``ON CONFLICT DO NOTHING``: a concurrent duplicate becomes a skip for the loser
        instead of an IntegrityError that would abort its job.
        """
        now = fields.Datetime.now()
        self.env.cr.execute(
            """INSERT INTO psa_vendor_bill_record
                   (backend_id, company_id, idempotency_key, kind, purchase_ref,
                    purchase_order_id, amount, event_id,
                    create_uid, create_date, write_uid, write_date)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (backend_id, idempotency_key) DO NOTHING RETURNING id""",
            (
                backend.id,
                backend.company_id.id,
                key,
                values.get("kind"),
                values.get("purchase_ref"),
                values.get("purchase_order_id"),
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

    def action_open_bill(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Vendor bill"),
            "res_model": "account.move",
            "res_id": self.bill_id.id,
            "view_mode": "form",
        }
