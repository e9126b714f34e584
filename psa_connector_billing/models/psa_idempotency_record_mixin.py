from odoo import api, fields, models
from odoo.tools import SQL

from odoo.addons.psa_connector_base.tools.jobs import execute_racing


class PsaIdempotencyRecordMixin(models.AbstractModel):
    """The proof that one remote object took effect once, keyed by its idempotency key.

    A concrete model adds ``unique(backend_id, idempotency_key)`` and inserts its row with
    :meth:`_claim` in the same transaction as the effect: a replay, a redelivery under a
    new envelope id, a second worker racing the first or a retry after a crash either
    finds the committed row and skips, or waits on the index until the first transaction
    ends (and then skips, or inserts if it rolled back).
    """

    _name = "psa.idempotency.record.mixin"
    _description = "PSA Connector Idempotency Record"
    _order = "id desc"
    _rec_name = "idempotency_key"

    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    idempotency_key = fields.Char(required=True, readonly=True)
    event_id = fields.Many2one("psa.event", readonly=True, ondelete="set null")
    result = fields.Char(readonly=True)

    @api.model
    def _claim(self, backend, key, values):
        """Insert the record for ``key``; return it, or an empty recordset if it exists.

        ``ON CONFLICT DO NOTHING`` rather than the ORM: a concurrent duplicate must turn
        into "skip" for the loser instead of an IntegrityError that aborts its job.
        ``values`` holds stored, non-relational-list columns of the concrete model.
        """
        now = fields.Datetime.now()
        row = {
            **self._claim_defaults(),
            **{name: value for name, value in values.items() if name in self._fields},
            "backend_id": backend.id,
            "company_id": backend.company_id.id,
            "idempotency_key": key,
            "create_uid": self.env.uid,
            "create_date": now,
            "write_uid": self.env.uid,
            "write_date": now,
        }
        execute_racing(
            self.env.cr,
            SQL(
                """INSERT INTO %s (%s) VALUES %s
                   ON CONFLICT (backend_id, idempotency_key) DO NOTHING RETURNING id""",
                SQL.identifier(self._table),
                SQL(", ").join(SQL.identifier(name) for name in row),
                tuple(row.values()),
            ),
        )
        inserted = self.env.cr.fetchone()
        return self.browse(inserted[0]) if inserted else self.browse()

    @api.model
    def _claim_defaults(self):
        """Columns a claimed row needs that the caller may leave out."""
        return {}

    @api.model
    def _find(self, backend, key):
        return self.search(
            [("backend_id", "=", backend.id), ("idempotency_key", "=", key)], limit=1
        )
