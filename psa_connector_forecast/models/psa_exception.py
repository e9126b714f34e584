from odoo import api, models


class PsaException(models.Model):
    _inherit = "psa.exception"

    # Project ids of the forecasting tool are the PSA's: an allocation waiting on a
    # forecast backend is woken by the project binding another backend of the company
    # creates. Not added to ``_shared_reference_types``, which would make every
    # backend's project references cross-backend.

    @api.model
    def _wake_waiting(self, bindings):
        result = super()._wake_waiting(bindings)
        projects = bindings.filtered(lambda b: b.external_type == "project")
        if projects:
            keys = {(b.company_id.id, b.external_id) for b in projects}
            self.sudo().search(
                [
                    ("state", "=", "open"),
                    ("category", "=", "missing_reference"),
                    ("waiting_type", "=", "project"),
                    ("waiting_external_id", "in", list({k[1] for k in keys})),
                    ("backend_id.kind", "=", "forecast"),
                ]
            ).filtered(lambda e: (e.company_id.id, e.waiting_external_id) in keys)._retry(
                automatic=True
            )
        return result

    @api.model
    def _cron_retry_arrived_references(self):
        count = super()._cron_retry_arrived_references()
        self.env.cr.execute(
            """
            SELECT e.id FROM psa_exception e
              JOIN psa_backend fb ON fb.id = e.backend_id AND fb.kind = 'forecast'
              JOIN psa_binding b ON b.external_type = 'project'
                                AND b.external_id = e.waiting_external_id
                                AND b.company_id = e.company_id
             WHERE e.state = 'open' AND e.category = 'missing_reference'
               AND e.waiting_type = 'project'
            """
        )
        arrived = self.browse(list({row[0] for row in self.env.cr.fetchall()}))
        arrived._retry(automatic=True)
        return count + len(arrived)
