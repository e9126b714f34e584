"""Duplicates and disorder: a stream of time-entry webhooks with re-deliveries, re-sent
versions and stale ones, beside billing events on a backend of their own."""

import json
import threading
import time

from ..common import BACKENDS, SEED, check_common, check_time_entries, log, pg, setting, skipped_of
from ..streams import billing_stream

DISORDER_ENTRIES = setting("HARNESS_DISORDER_ENTRIES", 600, 150)


def run(h):
    backend_id = h.backend_id("disorder")
    stream = h.stream("dis", DISORDER_ENTRIES, SEED)
    log(
        f"disorder: {len(stream.envelopes)} events for {len(stream.expected)} entries "
        f"({stream.redeliveries} re-deliveries, {stream.resent} re-sent, {stream.stale} stale)"
    )
    # Billing events on a backend of their own: their draft invoices would bill the
    # stream's time (a billed line is finance's; later versions become conflicts).
    billing_id = h.backend_id("billing")
    billing, billing_keys = billing_stream(SEED, "dis")
    billing_bodies = [json.dumps(e).encode() for e in billing]
    bodies = stream.bodies()
    since = time.monotonic()
    billing_thread = threading.Thread(
        target=lambda: billing_statuses.extend(
            h.sender.post_all(BACKENDS["billing"], billing_bodies, concurrency=2)
        ),
        daemon=True,
    )
    billing_statuses = []
    billing_thread.start()
    statuses = h.sender.post_all(BACKENDS["disorder"], bodies)
    billing_thread.join()
    statuses += billing_statuses
    duplicates_200 = statuses.count(200)
    unexpected = [s for s in statuses if s not in (200, 202)]
    posted = time.monotonic()
    h.converge(backend_id, "disorder stream applied")
    h.converge(billing_id, "billing events applied")
    recover = time.monotonic() - posted
    check = check_time_entries(backend_id, stream.expected)
    billed = dict(
        pg(
            """SELECT sl.psa_line_key, count(*) FROM sale_order_line sl
                WHERE sl.order_id IN (SELECT res_id FROM psa_binding WHERE backend_id = %s
                                        AND res_model = 'sale.order')
                  AND sl.psa_line_key = ANY(%s) GROUP BY 1""",
            (billing_id, sorted(billing_keys)),
        )
    )
    billing_problems = check_common(billing_id)
    check["notes"] += [f"billing: {p}" for p in billing_problems]
    check["fail"] = bool(billing_problems)
    missing = sorted(billing_keys - set(billed))
    twice = sorted(k for k, n in billed.items() if n > 1)
    check["notes"].append(
        f"billing: {len(billing)} billing deliveries for {len(billing_keys)} order lines"
    )
    if missing:
        check["notes"].append(f"billing lines missing: {missing[:5]}")
        check["lost"] += len(missing)
    if twice:
        check["notes"].append(f"billing lines doubled: {twice[:5]}")
        check["doubled"] += len(twice)
    if unexpected:
        check["notes"].append(f"answers other than 200/202: {unexpected[:5]}")
        check["lost"] += len(unexpected)
    h.row(
        "duplicates + disorder",
        len(bodies) + len(billing_bodies),
        backend_id,
        check,
        duplicates_200 + skipped_of(backend_id),
        recover,
        since=since,
    )
