"""429 storms, 500/503, slow answers, dropped connections, invalid JSON; then calm."""

import itertools
import time

from ..common import (
    BACKENDS,
    SEED,
    busy_jobs,
    check_time_entries,
    log,
    pg,
    setting,
    settled,
    wait_until,
)

REMOTE_ENTRIES = setting("HARNESS_REMOTE_ENTRIES", 1000, 200)
FAULT_SECONDS = setting("HARNESS_FAULT_SECONDS", 15.0, 4.0)
# A call that passed the closed breaker just before another job recorded the first
# failure (a few database round trips on a loaded machine) was in flight at the onset.
ONSET_SECONDS = 1.0


def run(h):
    backend_id = h.entries_to_pull("remote", REMOTE_ENTRIES, SEED + 4)
    since = time.monotonic()
    phases = [
        ("429 storm", {"status": 429, "retry_after": 1}),
        ("500/503", {"status": 503}),
        ("slow past timeout", {"status": 200, "delay": 5, "body": "{}"}),
        ("dropped connections", {"status": 0}),
        ("invalid JSON", {"status": 200, "body": "{not json"}),
        ("500", {"status": 500}),
    ]
    sim = h.simulator
    for name, fault in phases:
        log(f"remote: {name} for {FAULT_SECONDS:.0f}s while pulling")
        sim.add_fault(count=100000, **fault)
        phase_end = time.monotonic() + FAULT_SECONDS
        while time.monotonic() < phase_end:
            h.rpc.execute_kw("psa.backend", "action_pull_now", [[backend_id]])
            time.sleep(min(5, FAULT_SECONDS))
        sim.clear_faults()
    calm = time.monotonic()
    log("remote: faults cleared; the pull must converge")
    expected = h.expected_from_simulator()

    def converged():
        if busy_jobs():
            return False
        check = check_time_entries(backend_id, expected)
        if check["lost"]:
            # What the scheduled pull would do every 5 minutes, compressed.
            h.rpc.execute_kw("psa.backend", "action_pull_now", [[backend_id]])
            return False
        return settled(backend_id)

    wait_until("pull converged after remote faults", converged)
    recover = time.monotonic() - calm
    check = check_time_entries(backend_id, expected)
    remote_errors = pg(
        "SELECT count(*) FROM psa_exception WHERE backend_id = %s AND category = 'remote_error'",
        (backend_id,),
    )[0][0]
    check["notes"].append(f"{remote_errors} remote_error exception(s) raised on the way")
    sent = sum(1 for (_m, path, _s) in sim.requests_log if "/api/" in path)
    h.pull_row("remote faults then recovery", sent, backend_id, check, recover, since)
    h.notes.append(f"remote: 'sent' counts API requests answered by the simulator ({sent})")
    for note in breaker_figures(sim.timed_requests_log, since, calm):
        h.notes.append(f"remote: {note}")
        log(f"remote: {note}")


def breaker_figures(timed_log, since, calm):
    """The circuit breaker's two figures, from the demo PSA's request log (one backend).

    - from the outage's end to the first successful pull (a GET of the API answered 200);
    - per backend, the shortest interval between two calls the failing API answered
      with a fault. The calls that passed the still closed breaker before the backend's
      first failure was recorded are one burst (nothing could know yet): those arriving
      within ONSET_SECONDS of its first faulted answer; the interval counts from the
      first of them (the failure that opened the breaker).
    """
    api = [e for e in timed_log if "/api/" in e["path"] and e["arrived"] >= since]
    first_ok = min(
        (
            e["arrived"]
            for e in api
            if e["arrived"] >= calm and e["method"] == "GET" and e["status"] == 200
        ),
        default=None,
    )
    faulted = sorted((e for e in api if e["faulted"]), key=lambda e: e["arrived"])
    notes = [
        "outage end to first successful pull: "
        + ("none" if first_ok is None else f"{first_ok - calm:.1f}s")
        + " (target <= 15s)"
    ]
    if not faulted:
        return [*notes, "no call reached the failing API"]
    # Per backend: its User-Agent names it (database/code). Every scenario's backend
    # calls the one demo PSA (write-backs of earlier scenarios are retried meanwhile).
    by_backend = {}
    for entry in faulted:
        by_backend.setdefault(entry["agent"] or "?", []).append(entry)
    figures = []
    for agent, calls in by_backend.items():
        known = min(e["answered"] for e in calls) + ONSET_SECONDS
        burst = [e["arrived"] for e in calls if e["arrived"] < known]
        later = [e["arrived"] for e in calls if e["arrived"] >= known]
        times = burst[:1] + later
        gaps = [b - a for a, b in itertools.pairwise(times)]
        if gaps:
            figures.append((min(gaps), agent, len(calls), len(burst)))
    if not figures:
        return [*notes, f"{len(faulted)} call(s) reached the failing API, none twice"]
    gap, agent, count, burst = min(figures)
    own = [f for f in figures if f"/{BACKENDS['remote']})" in f[1]]
    notes.append(
        f"min interval between two calls to the failing API per backend: {gap:.1f}s "
        f"(target >= 10s; {agent.split('(')[-1].rstrip(')')}: {count} faulted call(s), "
        f"{burst} in flight when the outage began; {len(faulted)} faulted calls from "
        f"{len(by_backend)} backend(s))"
    )
    if own:
        notes.append(
            f"the pulling backend {BACKENDS['remote']}: {own[0][0]:.1f}s between two of its "
            f"{own[0][2]} calls to the failing API"
        )
    return notes
