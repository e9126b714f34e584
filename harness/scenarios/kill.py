"""SIGKILL the worker that runs a chunk job, several times, during a pull."""

import os
import signal
import time

from ..common import SEED, busy_jobs, check_time_entries, log, pg, setting, settled

KILL_ENTRIES = setting("HARNESS_KILL_ENTRIES", 2000, 600)
KILLS = setting("HARNESS_KILLS", 3, 1)


def run(h):
    backend_id = h.entries_to_pull("kill", KILL_ENTRIES, SEED + 1)
    since = time.monotonic()
    h.rpc.execute_kw("psa.backend", "action_pull_now", [[backend_id]])
    kills, killed_at = 0, None
    last_kill, back_after = None, []  # (uuid, when) and how soon a killed job ran again
    deadline = time.monotonic() + 600
    while kills < KILLS and time.monotonic() < deadline:
        rows = pg(
            """SELECT worker_pid, uuid FROM queue_job WHERE state = 'started'
                  AND method_name = '_process_job' AND worker_pid IS NOT NULL
                  AND date_started < now() at time zone 'utc' - interval '0.5 second'
                LIMIT 1"""
        )
        pids = h.server.worker_pids()
        if rows and rows[0][0] in pids:
            if last_kill and rows[0][1] == last_kill[0]:
                back_after.append(time.monotonic() - last_kill[1])
            os.kill(rows[0][0], signal.SIGKILL)
            kills += 1
            killed_at = killed_at or time.monotonic()
            last_kill = (rows[0][1], time.monotonic())
            log(f"kill: SIGKILL worker {rows[0][0]} running job {rows[0][1]} ({kills}/{KILLS})")
            time.sleep(3)
        elif settled(backend_id) and not busy_jobs():
            break
        time.sleep(0.1)
    if not kills:
        h.notes.append("kill: no chunk job was caught running; nothing was killed")
    started_dead = time.monotonic()
    h.converge(backend_id, "pull after worker kills")
    recover = time.monotonic() - (killed_at or started_dead)
    requeued = pg(
        "SELECT count(*) FROM queue_job WHERE retry > 0 AND state = 'done' AND date_created >= "
        "(now() at time zone 'utc') - %s * interval '1 second'",
        (time.monotonic() - since + 1,),
    )[0][0]
    check = check_time_entries(backend_id, h.expected_from_simulator())
    check["notes"].append(
        f"{kills} worker(s) killed; {requeued} job(s) of the scenario done after a retry/requeue"
    )
    if back_after:
        check["notes"].append(
            "a killed job ran again after "
            + " / ".join(f"{seconds:.0f}" for seconds in back_after)
            + " s (requeued by the job runner)"
        )
    failed = pg("SELECT count(*) FROM queue_job WHERE state = 'failed'")[0][0]
    if failed:
        check["notes"].append(f"{failed} job(s) failed")
    sent = pg(
        "SELECT count(*) FROM psa_event WHERE backend_id = %s AND object_type = 'time_entry'",
        (backend_id,),
    )[0][0]
    h.pull_row(f"SIGKILL worker x{kills} mid-batch", sent, backend_id, check, recover, since)
