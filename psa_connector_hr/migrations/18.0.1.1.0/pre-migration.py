"""Pre-migration of psa_connector_hr to 18.0.1.1.0: a documented no-op skeleton.

Odoo runs ``migrations/<version>/pre-migration.py`` once, during ``-u``, on a database
where the addon is installed at an older version than <version> (here: 18.0.1.0.0),
before the addon's models and data are loaded (the schema is still the old
one: plain SQL only, e.g. rename a column so the new field keeps its values).
Copy this folder to the next version when a change of schema or data needs one.
"""

import logging

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:  # a fresh install, nothing to migrate
        return
    _logger.info("psa_connector_hr: pre-migration from %s: nothing to do", version)
