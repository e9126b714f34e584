"""Pre-migration of psa_connector_base to 18.0.1.2.0: the cost reader group moves here.

*Connector: read employee cost* guards the HR connector's cost fields and billing's
project financials, and billing no longer depends on the HR connector: the group is
psa_connector_base's now. Renamed before the base's data is loaded, so that data
updates the existing group (and its members keep it) instead of creating a second one.
"""

from odoo.addons.psa_connector_base.tools.migration import move_xmlids


def migrate(cr, version):
    if not version:  # a fresh install, nothing to migrate
        return
    move_xmlids(cr, "psa_connector_hr", "psa_connector_base", ["group_cost_reader"])
