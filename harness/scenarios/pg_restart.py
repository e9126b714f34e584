"""PostgreSQL stopped (immediate) and restarted while the PSA delivers webhooks."""

import time

from ..common import (
    BACKENDS,
    PG_DOWN_SECONDS,
    PG_RESTART_ENTRIES,
    SEED,
    log,
    pg,
    wait_until,
)


def run(h):
    backend_id = h.backend_id("pg_restart")
    stream = h.stream("pg", PG_RESTART_ENTRIES, SEED + 2)
    since = time.monotonic()
    # While PostgreSQL is down the webhook intake answers 503 + Retry-After, which a PSA
    # retries; a 404 (Odoo's no-database fallback) would be taken as final: not retried.
    thread, result = h.post_in_background(BACKENDS["pg_restart"], stream.bodies())
    # Down while the PSA is still delivering: the outage must meet webhooks, not only jobs.
    third = len(stream.envelopes) // 3
    wait_until(
        "a third of the deliveries answered",
        lambda: (sum(1 for moment, _status in list(h.sender.answers) if moment >= since) >= third),
        timeout=300,
    )
    applied_before = pg(
        "SELECT count(*) FROM psa_event WHERE backend_id = %s AND state = 'done'",
        (backend_id,),
    )[0][0]
    down = time.monotonic()
    log(f"pg_restart: stopping PostgreSQL (immediate) for {PG_DOWN_SECONDS:.0f}s mid-ingest")
    h.cluster.stop("immediate")
    time.sleep(PG_DOWN_SECONDS)
    h.cluster.start()
    up = time.monotonic()
    log("pg_restart: PostgreSQL is back")
    thread.join()
    h.converge(backend_id, "ingest after the PostgreSQL restart")
    recover = time.monotonic() - up
    unavailable = sum(1 for moment, status in h.sender.answers if moment >= since and status == 503)
    h.delivery_row(
        "PostgreSQL restarted mid-ingest",
        backend_id,
        stream,
        result["statuses"],
        f"stopped after {third} deliveries and {applied_before} events applied; "
        f"{unavailable} delivery attempt(s) answered 503 while PostgreSQL was down, retried",
        recover,
        (down, up + 30),
        since,
    )
