import logging

from odoo import models

from odoo.addons.psa_connector_base.tools.jobs import is_concurrency_error

_logger = logging.getLogger(__name__)

# queue_job runs lower priorities first: a queued detection lets the chunks go first.
DETECTION_PRIORITY_OFFSET = 5


class PsaImporterTimeEntry(models.AbstractModel):
    _inherit = "psa.importer.time_entry"

    def _import_events(self, events):
        """After a chunk is applied (batch and one-by-one alike), flag its anomalies.

        The one place every time entry passes through, whichever path applied it: one
        detection per chunk, batched over its lines, before anyone invoices them.
        """
        backend = events.backend_id
        if len(backend) != 1:
            return super()._import_events(events)
        # The days the chunk's lines were on before it: an update moving a line, or an
        # un-approval removing it, changes those days' totals too.
        before = self._bound_lines(backend, events)
        days_before = {(line.employee_id.id, line.date) for line in before if line.employee_id}
        outcomes = super()._import_events(events)
        if self._lane_count() > 1:
            # Chunks of other lanes may be adding lines to the same employees' days right
            # now, unseen in this snapshot (a day's total would be short, and two lanes
            # would update the same flags): the detection runs after this commits, in
            # lane 0 only, one detection at a time, where every committed line is seen.
            after = self._bound_lines(backend, events)
            days = days_before | {(line.employee_id.id, line.date) for line in after}
            self._queue_detection(backend, days)
            return outcomes
        try:
            with self.env.cr.savepoint():
                self.env["psa.anomaly"].with_company(backend.company_id)._detect_time_lines(
                    backend, self._bound_lines(backend, events), days=days_before
                )
        except Exception as err:
            # Losing a race to another job is not a detection failure: queue_job runs the
            # chunk again (its import is idempotent), and the flags come with it.
            if is_concurrency_error(err):
                raise
            # A flag is advice: failing to raise one must not undo the import.
            _logger.exception("Anomaly detection failed for %s time entries", len(events))
        return outcomes

    def _queue_detection(self, backend, days):
        """Queue the detection of these (employee id, date) days in lane 0, behind the
        chunks already queued: a flag is advice and may wait, the lines may not, and the
        detection then takes over the days of the detections queued behind it."""
        days = sorted((employee_id, str(day)) for employee_id, day in days if employee_id)
        if not days:
            return
        self.env["psa.anomaly"].with_delay(
            priority=self._psa_priority + DETECTION_PRIORITY_OFFSET,
            channel=self._channel_for(self._psa_object_type, 0),
            description=f"{backend.name}: detect anomalies on {len(days)} employee day(s)",
        )._detect_time_days_job(backend.id, days)

    def _bound_lines(self, backend, events):
        """The timesheet lines the events' time entries are bound to, in one search."""
        bindings = self.env["psa.binding"].search(
            [
                ("backend_id", "=", backend.id),
                ("external_type", "=", self._psa_object_type),
                ("external_id", "in", list(set(events.mapped("external_id")))),
                ("res_model", "=", self._psa_odoo_model),
                ("res_id", "!=", False),
            ]
        )
        return self.env["account.analytic.line"].browse(bindings.mapped("res_id")).exists()
