"""For the scripts that `odoo-bin shell` reads (bench/odoo, harness/odoo): imported there
(devtools.odoo_process.Odoo puts the checkout on PYTHONPATH), never by a server."""

import json

# The connector's own schedule: the tools trigger pulls and reconciliations themselves.
SCHEDULED_PULLS = (
    "psa_connector_base.ir_cron_psa_pull",
    "psa_connector_timesheet.ir_cron_psa_reconcile_time",
)


def prepare_for_simulator(env, employees):
    """A database driven against a local demo PSA: the connector's scheduled pull and
    reconciliation off, outbound calls allowed to http://127.0.0.1, and one employee per
    simulator employee (matched by work e-mail, as the connector matches them)."""
    # Imported here: the suite's test helpers load its test modules, which the scripts
    # that only print a result (and measure memory) should not pay for.
    from odoo.addons.psa_connector_base.tests.common import allow_local_targets

    for xmlid in SCHEDULED_PULLS:
        cron = env.ref(xmlid, raise_if_not_found=False)
        if cron:
            cron.active = False
    allow_local_targets(env)
    return env["hr.employee"].create(
        [
            {"name": e["name"], "work_email": e.get("work_email") or e.get("email")}
            for e in employees
        ]
    )


def print_result(marker, result):
    """The one line the driver reads back (devtools.odoo_process.Odoo.shell)."""
    print(f"{marker} " + json.dumps(result))
