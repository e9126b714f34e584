"""PostgreSQL stopped (immediate) and restarted while the PSA delivers webhooks."""

from ..common import SEED, log, pg, setting, wait_until

PG_RESTART_ENTRIES = setting("HARNESS_PG_ENTRIES", 300, 120)
PG_DOWN_SECONDS = setting("HARNESS_PG_DOWN_SECONDS", 10.0, 3.0)


def run(h):
    # While PostgreSQL is down the webhook intake answers 503 + Retry-After, which a PSA
    # retries; a 404 (Odoo's no-database fallback) would be taken as final: not retried.
    delivery = h.deliver_in_background("pg_restart", "pg", PG_RESTART_ENTRIES, SEED + 2)
    backend_id, since = delivery.backend_id, delivery.since
    # Down while the PSA is still delivering: the outage must meet webhooks, not only jobs.
    third = len(delivery.stream.envelopes) // 3
    wait_until(
        "a third of the deliveries answered",
        lambda: (sum(1 for moment, _status in list(h.sender.answers) if moment >= since) >= third),
        timeout=300,
    )
    applied_before = pg(
        "SELECT count(*) FROM psa_event WHERE backend_id = %s AND state = 'done'",
        (backend_id,),
    )[0][0]
    log(f"pg_restart: stopping PostgreSQL (immediate) for {PG_DOWN_SECONDS:.0f}s mid-ingest")
    down, up = h.outage(
        lambda: h.cluster.stop("immediate"),
        PG_DOWN_SECONDS,
        h.cluster.start,
        "pg_restart: PostgreSQL is back",
    )
    recover = h.recovered(delivery, "ingest after the PostgreSQL restart", up)
    unavailable = sum(1 for moment, status in h.sender.answers if moment >= since and status == 503)
    h.delivery_row(
        delivery,
        "PostgreSQL restarted mid-ingest",
        f"stopped after {third} deliveries and {applied_before} events applied; "
        f"{unavailable} delivery attempt(s) answered 503 while PostgreSQL was down, retried",
        recover,
        (down, up + 30),
    )
