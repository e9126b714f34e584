"""SQL helpers for the migration scripts that move records between the suite's addons.

Pre-migration scripts run before the addon's models and data are loaded: plain SQL.
"""

import logging

_logger = logging.getLogger(__name__)


def move_xmlids(cr, old_module, new_module, name_patterns):
    """Hand the XML ids of ``old_module`` matching ``name_patterns`` (LIKE) to ``new_module``.

    What an addon no longer declares is deleted at the end of its upgrade, a model with
    its table: records moving to another addon change owner first, so the other addon
    adopts them (same records, same ids) instead.
    """
    cr.execute(
        "UPDATE ir_model_data SET module = %s WHERE module = %s AND name LIKE ANY(%s)",
        (new_module, old_module, list(name_patterns)),
    )
    _logger.info("%s: %s XML ids handed to %s", old_module, cr.rowcount, new_module)
    return cr.rowcount


def move_model_ownership(cr, old_module, new_module, models):
    """Hand the SQL constraints and relation tables of ``models`` to ``new_module``."""
    for query in (
        """
        UPDATE ir_model_constraint t SET module = new.id
          FROM ir_module_module new, ir_module_module old, ir_model m
         WHERE new.name = %s AND old.name = %s
           AND t.module = old.id AND t.model = m.id AND m.model IN %s
        """,
        """
        UPDATE ir_model_relation t SET module = new.id
          FROM ir_module_module new, ir_module_module old, ir_model m
         WHERE new.name = %s AND old.name = %s
           AND t.module = old.id AND t.model = m.id AND m.model IN %s
        """,
    ):
        cr.execute(query, (new_module, old_module, tuple(models)))


def install_with_dependencies_present(cr, module):
    """Mark ``module`` to be installed in this run if everything it depends on is there.

    ``-u`` installs no auto_install addon: a glue addon that takes over code of an
    upgraded addon must be installed by that addon's migration, in the same run (Odoo
    loads the modules marked 'to install' after the upgraded ones).
    """
    cr.execute(
        """
        UPDATE ir_module_module m SET state = 'to install'
         WHERE m.name = %s AND m.state = 'uninstalled'
           AND NOT EXISTS (
                SELECT 1 FROM ir_module_module_dependency d
                  LEFT JOIN ir_module_module dep ON dep.name = d.name
                 WHERE d.module_id = m.id
                   AND COALESCE(dep.state, 'unknown')
                       NOT IN ('installed', 'to upgrade', 'to install'))
        """,
        (module,),
    )
    if cr.rowcount:
        _logger.info("%s will be installed in this run", module)
    return bool(cr.rowcount)
