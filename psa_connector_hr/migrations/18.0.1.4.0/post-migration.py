"""Post-migration of psa_connector_hr to 18.0.1.4.0: billable by default.

Until now ``psa_billable`` was stored and used by nothing, with False for everyone the
HR system did not say anything about (BambooHR never sends it). It now drives billable
utilisation and the forecast push, and defaults to True. Employees stay non-billable
only when the latest employee event of theirs says ``"billable": false``.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        r"""
        UPDATE hr_employee e
           SET psa_billable = TRUE
         WHERE psa_billable IS NOT TRUE
           AND NOT EXISTS (
                 SELECT 1
                   FROM psa_binding b
                   JOIN LATERAL (
                         SELECT ev.payload
                           FROM psa_event ev
                          WHERE ev.backend_id = b.backend_id
                            AND ev.object_type = 'employee'
                            AND ev.external_id = b.external_id
                            AND ev.state = 'done'
                          ORDER BY ev.id DESC
                          LIMIT 1
                   ) last ON TRUE
                  WHERE b.res_model = 'hr.employee' AND b.res_id = e.id
                    AND last.payload ~ '"billable"\s*:\s*false'
           )
        """
    )
