"""Waking Odoo's cron workers without a new PostgreSQL connection each time.

Cron workers LISTEN on the ``postgres`` database, so ``ir.cron._notifydb`` sends its
NOTIFY there; but Odoo's connection pool never keeps connections to ``postgres``, so
every call opened (and PostgreSQL forked) a fresh server process — for the webhook
accept path, a connection per request. This module keeps one autocommit connection per
Odoo process (workers are forked, so each makes its own, lazily).
"""

import logging
import os

import psycopg2
from psycopg2 import sql

from odoo import sql_db

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

_logger = logging.getLogger(__name__)

_connection = None
_connection_pid = None


def wake_cron_workers(dbname):
    """NOTIFY ``cron_trigger`` as ``ir.cron._notifydb`` does; never raises.

    A lost wake-up only delays a triggered cron until its next scheduled run.
    """
    global _connection, _connection_pid
    statement = sql.SQL("SELECT {}('cron_trigger', %s)").format(
        sql.Identifier(ODOO_NOTIFY_FUNCTION)
    )
    for attempt in (1, 2):
        try:
            if _connection is None or _connection.closed or _connection_pid != os.getpid():
                _name, info = sql_db.connection_info_for("postgres")
                _connection = psycopg2.connect(**info)
                _connection.autocommit = True
                _connection_pid = os.getpid()
            with _connection.cursor() as cr:
                cr.execute(statement, [dbname])
            return True
        except psycopg2.Error as err:
            _connection = None
            if attempt == 2:
                _logger.warning("Could not wake the cron workers: %s", err)
    return False
