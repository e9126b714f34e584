"""End-migration of psa_connector_hr to 18.0.1.2.0: the payroll cron keeps its settings.

Runs once every module of the upgrade is loaded, psa_connector_hr_payroll (installed in
the same run, see pre-migration.py) included: puts back what an administrator had set on
the payroll export cron, which the new addon's data reset.
"""


def migrate(cr, version):
    if not version:  # a fresh install, nothing to migrate
        return
    cr.execute("SELECT to_regclass('psa_connector_hr_payroll_cron_kept')")
    if not cr.fetchone()[0]:
        return
    cr.execute(
        """
        UPDATE ir_cron c
           SET active = k.active, interval_number = k.interval_number,
               interval_type = k.interval_type, nextcall = k.nextcall, priority = k.priority
          FROM psa_connector_hr_payroll_cron_kept k
         WHERE c.id = k.id
        """
    )
    cr.execute("DROP TABLE psa_connector_hr_payroll_cron_kept")
