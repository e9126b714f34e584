"""Pre-migration of psa_connector_billing to 18.0.1.2.0: billing no longer depends on HR sync.

Labour in the project financials is Odoo's timesheet cost; the cost in force on the day
of the work (the HR connector's cost history) is psa_connector_billing_hr, installed in
this run where the HR connector is (``-u`` installs no auto_install addon), so margins
of an upgraded database do not change.
"""

from odoo.addons.psa_connector_base.tools.migration import install_with_dependencies_present


def migrate(cr, version):
    if not version:  # a fresh install, nothing to migrate
        return
    install_with_dependencies_present(cr, "psa_connector_billing_hr")
