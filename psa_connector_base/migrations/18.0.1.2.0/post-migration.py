"""Accepted webhooks are drained by queue_job jobs now: the dispatcher cron goes.

Its record is ``noupdate``, so the upgrade would keep it (calling a method that no
longer exists) without this.
"""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    dispatcher = env.ref("psa_connector_base.ir_cron_psa_dispatch_events", False)
    if dispatcher:
        dispatcher.unlink()
