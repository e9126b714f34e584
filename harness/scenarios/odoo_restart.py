"""The whole server (HTTP workers and the job runner) killed mid-ingest, restarted."""

import signal

from ..common import SEED, log, pg, setting, wait_until

RESTART_ENTRIES = setting("HARNESS_RESTART_ENTRIES", 300, 120)


def run(h):
    delivery = h.deliver_in_background("odoo_restart", "rs", RESTART_ENTRIES, SEED + 3)
    backend_id = delivery.backend_id
    wait_until(
        "jobs running",
        lambda: (
            pg(
                "SELECT count(*) FROM psa_event WHERE backend_id = %s AND state = 'done'"
                " AND object_type = 'time_entry'",
                (backend_id,),
            )[0][0]
            > 20
        ),
        timeout=300,
    )
    started = pg("SELECT count(*) FROM queue_job WHERE state IN ('started', 'enqueued')")[0][0]
    log(f"odoo_restart: SIGKILL to the Odoo server group ({started} job(s) started/enqueued)")
    down, up = h.outage(
        lambda: h.server.stop(signal.SIGKILL), 3, h.server.start, "odoo_restart: Odoo is back"
    )
    recover = h.recovered(delivery, "ingest after the Odoo restart", up)
    note = f"{started} job(s) were started/enqueued when the server died"
    h.delivery_row(delivery, "Odoo + job runner killed, restarted", note, recover, (down, up + 5))
