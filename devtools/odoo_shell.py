"""For the scripts that `odoo-bin shell` reads (bench/odoo, harness/odoo): imported there
(devtools.odoo_process.Odoo puts the checkout on PYTHONPATH), never by a server."""

import json

# Not the tests' allow_local_targets: importing Odoo's test framework outside a test run
# logs an ERROR, which fails the harness's set-up.
from odoo.addons.psa_connector_base.adapters.base import ALLOW_INSECURE_HTTP, ALLOW_PRIVATE_TARGETS

# The connector's own schedule: the tools trigger pulls and reconciliations themselves.
SCHEDULED_PULLS = (
    "psa_connector_base.ir_cron_psa_pull",
    "psa_connector_timesheet.ir_cron_psa_reconcile_time",
)


def prepare_for_simulator(env, employees):
    """A database driven against a local demo PSA: the connector's scheduled pull and
    reconciliation off, outbound calls allowed to http://127.0.0.1, and one employee per
    simulator employee (matched by work e-mail, as the connector matches them)."""
    for xmlid in SCHEDULED_PULLS:
        cron = env.ref(xmlid, raise_if_not_found=False)
        if cron:
            cron.active = False
    for param in (ALLOW_PRIVATE_TARGETS, ALLOW_INSECURE_HTTP):
        env["ir.config_parameter"].set_param(param, "True")
    return env["hr.employee"].create(
        [
            {"name": e["name"], "work_email": e.get("work_email") or e.get("email")}
            for e in employees
        ]
    )


def print_result(marker, result):
    """The one line the driver reads back (devtools.odoo_process.Odoo.shell)."""
    print(f"{marker} " + json.dumps(result))
