"""The whole server (HTTP workers and the job runner) killed mid-ingest, restarted."""

import signal
import time

from ..common import (
    BACKENDS,
    RESTART_ENTRIES,
    SEED,
    log,
    pg,
    wait_until,
)


def run(h):
    backend_id = h.backend_id("odoo_restart")
    stream = h.stream("rs", RESTART_ENTRIES, SEED + 3)
    since = time.monotonic()
    thread, result = h.post_in_background(BACKENDS["odoo_restart"], stream.bodies())
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
    down = time.monotonic()
    started = pg("SELECT count(*) FROM queue_job WHERE state IN ('started', 'enqueued')")[0][0]
    log(f"odoo_restart: SIGKILL to the Odoo server group ({started} job(s) started/enqueued)")
    h.server.stop(signal.SIGKILL)
    time.sleep(3)
    h.server.start()
    up = time.monotonic()
    log("odoo_restart: Odoo is back")
    thread.join()
    h.converge(backend_id, "ingest after the Odoo restart")
    recover = time.monotonic() - up
    h.delivery_row(
        "Odoo + job runner killed, restarted",
        backend_id,
        stream,
        result["statuses"],
        f"{started} job(s) were started/enqueued when the server died",
        recover,
        (down, up + 5),
        since,
    )
