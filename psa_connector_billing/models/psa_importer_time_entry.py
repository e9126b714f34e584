import logging

from odoo import models

_logger = logging.getLogger(__name__)


class PsaImporterTimeEntry(models.AbstractModel):
    _inherit = "psa.importer.time_entry"

    def _import_events(self, events):
        """After a chunk is applied (batch and one-by-one alike), flag its anomalies.

        The one place every time entry passes through, whichever path applied it: one
        detection per chunk, batched over its lines, before anyone invoices them.
        """
        outcomes = super()._import_events(events)
        backend = events.backend_id
        if len(backend) == 1:
            try:
                with self.env.cr.savepoint():
                    self._detect_anomalies(backend, events)
            except Exception:
                # A flag is advice: failing to raise one must not undo the import.
                _logger.exception("Anomaly detection failed for %s time entries", len(events))
        return outcomes

    def _detect_anomalies(self, backend, events):
        bindings = self.env["psa.binding"].search(
            [
                ("backend_id", "=", backend.id),
                ("external_type", "=", self._psa_object_type),
                ("external_id", "in", list(set(events.mapped("external_id")))),
                ("res_model", "=", self._psa_odoo_model),
                ("res_id", "!=", False),
            ]
        )
        lines = self.env["account.analytic.line"].browse(bindings.mapped("res_id"))
        return (
            self.env["psa.anomaly"]
            .with_company(backend.company_id)
            ._detect_time_lines(backend, lines)
        )
