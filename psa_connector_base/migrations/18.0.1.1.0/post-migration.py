"""Post-migration of psa_connector_base to 18.0.1.1.0: a documented no-op skeleton.

Odoo runs ``migrations/<version>/post-migration.py`` once, during ``-u``, on a database
where the addon is installed at an older version than <version> (here: 18.0.1.0.0),
after its models and data are loaded (the ORM is available through
``odoo.api.Environment(cr, SUPERUSER_ID, {})``, e.g. recompute or fill a new field).
Copy this folder to the next version when a change of schema or data needs one.
"""

import logging

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:  # a fresh install, nothing to migrate
        return
    _logger.info("psa_connector_base: post-migration from %s: nothing to do", version)
