"""Pre-migration of psa_connector_forecast to 18.0.1.0.2: no dependency on HR sync.

A leaver's allocations ending with them is psa_connector_forecast_hr now, installed in
this run where the HR connector is (``-u`` installs no auto_install addon).
"""

from odoo.addons.psa_connector_base.tools.migration import install_with_dependencies_present


def migrate(cr, version):
    if not version:  # a fresh install, nothing to migrate
        return
    install_with_dependencies_present(cr, "psa_connector_forecast_hr")
