"""Two Odoo nodes on one database behind HAProxy; the node whose queue_job runner holds the
master lock is SIGKILLed (its whole process group) mid-burst.

The harness's own server is node 1; node 2 is a second process group with the same
configuration on other ports (2 workers, a cron worker and the job runner: queue_job is a
server-wide module in both). HAProxy, on loopback, balances both and checks
``/web/health`` every second. Webhooks and the pull go through it. queue_job's runner
elects its master with ``pg_try_advisory_lock``; the scenario finds the backend holding
that lock (``pg_locks`` joined to ``pg_stat_activity``), maps its client port to the
process owning the socket and so to a node, and kills that node. It measures how long the
other node's runner takes to hold the lock and to start a job, checks that the jobs the
dead node had started are done in the end (requeued by queue_job), then the invariants.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from devtools.odoo_process import Odoo, OdooServer, wait_http
from devtools.rpc import JsonRpc

from ..common import (
    DB,
    HTTP_PORT,
    ODOO_SRC,
    PG_PORT,
    PYTHON,
    RUN_DIR,
    SEED,
    HarnessError,
    check_time_entries,
    log,
    pg,
    setting,
    skipped_of,
    unstored_acknowledged,
    wait_until,
)

MN_ENTRIES = setting("HARNESS_MN_ENTRIES", 1000, 300)  # pulled through the balancer
MN_WEBHOOKS = setting("HARNESS_MN_WEBHOOKS", 400, 150)  # time entries delivered as webhooks
NODE2_PORT = setting("HARNESS_NODE2_PORT", HTTP_PORT + 11, HTTP_PORT + 11)
NODE2_GEVENT_PORT = setting("HARNESS_NODE2_GEVENT_PORT", NODE2_PORT + 1, NODE2_PORT + 1)
BALANCER_PORT = setting("HARNESS_BALANCER_PORT", NODE2_PORT + 2, NODE2_PORT + 2)
# queue_job's jobrunner.runner.PG_ADVISORY_LOCK_ID: a bigint key, which pg_locks shows as
# classid (high 32 bits) and objid (low 32 bits), objsubid 1.
RUNNER_LOCK_ID = 2293787760715711918
# A node the balancer cannot reach is retried on the other (retries + redispatch); a
# request in flight on the killed node is answered 502 and retried by the sender. Such
# answers within this many seconds of the kill are the outage.
OUTAGE_SECONDS = 10.0


class Balancer:
    """HAProxy in the foreground, its configuration and pid under the run directory."""

    def __init__(self, servers, port, run_dir):
        self.servers, self.port, self.run_dir = servers, port, Path(run_dir)
        self.process = None
        self.binary = None

    def ensure_installed(self):
        self.binary = shutil.which("haproxy") or (
            "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
        )
        if self.binary:
            return
        if os.geteuid() == 0 and shutil.which("apt-get"):
            log("multinode: installing HAProxy (apt-get, once)")
            install_log = self.run_dir / "haproxy-install.log"
            with open(install_log, "wb") as out:
                done = subprocess.run(
                    ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "haproxy"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            self.binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
            if done.returncode == 0 and Path(self.binary).exists():
                return
            raise HarnessError(f"could not install haproxy (log {install_log})")
        raise HarnessError(
            "the multinode scenario needs HAProxy as its load balancer: install it "
            "(Debian/Ubuntu: sudo apt-get install haproxy) or leave multinode out of "
            "HARNESS_SCENARIOS"
        )

    def write_conf(self):
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{port} check" for name, port in self.servers
        )
        conf = self.run_dir / "haproxy.cfg"
        conf.write_text(
            f"""global
    maxconn 512

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    # A refused connection (a dead node) is tried again, on the other node.
    retries 3
    option redispatch

frontend odoo
    bind 127.0.0.1:{self.port}
    default_backend nodes

backend nodes
    balance roundrobin
    # HTTP/1.1 with a Host header: Odoo answers 500 to a request without one.
    option httpchk
    http-check send meth GET uri /web/health ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    # A dead node refuses the check's connection at once (down after 2 checks); a live
    # node whose workers are all busy answers late, which is not down.
    timeout check 10s
    default-server inter 1s fall 2 rise 2
{servers}
"""
        )
        return conf

    def start(self):
        self.ensure_installed()
        conf = self.write_conf()
        out = open(self.run_dir / "haproxy.out", "ab")  # noqa: SIM115
        with out:
            self.process = subprocess.Popen(
                [self.binary, "-db", "-f", str(conf)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_http(f"http://127.0.0.1:{self.port}/web/health", 30, self.process, "HAProxy")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


def group_pids(server):
    """Every process of ``server``'s process group (master, workers, job runner)."""
    if not server.running:
        return set()
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) == server.process.pid:
                pids.add(int(entry.name))
    return pids


def socket_inodes(pid):
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def inode_of_client_port(port):
    """The socket inode of the live connection from local port ``port`` to PostgreSQL.

    The remote port is checked too, and closed sockets (inode 0, e.g. a health check's
    connection in TIME_WAIT that had the same ephemeral port) are skipped."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local = int(fields[1].rsplit(":", 1)[1], 16)
                remote = int(fields[2].rsplit(":", 1)[1], 16)
                if local == port and remote == PG_PORT and fields[9] != "0":
                    return fields[9]
    return None


def lock_holder():
    """(backend pid, client port, application name) of the session holding the runner lock."""
    rows = pg(
        """SELECT a.pid, a.client_port, a.application_name
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted
              AND l.classid::bigint = %s AND l.objid::bigint = %s AND l.objsubid = 1""",
        (RUNNER_LOCK_ID >> 32, RUNNER_LOCK_ID & 0xFFFFFFFF),
    )
    return rows[0] if rows else None


def holder_node(nodes):
    """The name of the node whose process holds the runner lock, and that process's pid."""
    holder = lock_holder()
    if not holder:
        return None, None
    _backend_pid, client_port, application_name = holder
    inode = inode_of_client_port(client_port) if client_port else None
    for name, server in nodes.items():
        for pid in group_pids(server):
            if inode and inode in socket_inodes(pid):
                return name, pid
    # Odoo names its connections odoo-<pid> (when the socket is not found, e.g. a
    # Unix-domain one).
    for name, server in nodes.items():
        for pid in group_pids(server):
            if application_name == f"odoo-{pid}":
                return name, pid
    return None, None


def second_node(h):
    """Node 2: the harness's configuration on ports of its own, its log and output apart."""
    run_dir = RUN_DIR / "node2"
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for line in Path(h.server.odoo.conf).read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if key == "http_port":
            line = f"http_port = {NODE2_PORT}"
        elif key == "gevent_port":
            line = f"gevent_port = {NODE2_GEVENT_PORT}"
        elif key == "logfile":
            line = f"logfile = {run_dir / 'odoo-node2.log'}"
        lines.append(line)
    conf = run_dir / "odoo-node2.conf"
    conf.write_text("\n".join(lines) + "\n")
    odoo = Odoo(odoo_src=ODOO_SRC, python=PYTHON, conf=conf, db=DB, run_dir=run_dir)
    return OdooServer(odoo, f"http://127.0.0.1:{NODE2_PORT}")


def run(h):
    node2 = second_node(h)
    balancer = Balancer([("node1", HTTP_PORT), ("node2", NODE2_PORT)], BALANCER_PORT, RUN_DIR)
    saved_port, saved_rpc = h.sender.port, h.rpc
    try:
        log(f"multinode: starting node 2 on :{NODE2_PORT}, HAProxy on :{BALANCER_PORT}")
        if not h.server.running:
            h.server.start()
        node2.start()
        balancer.start()
        nodes = {"node 1": h.server, "node 2": node2}
        wait_until("a runner holds the master lock", lambda: holder_node(nodes)[0], timeout=60)
        h.sender.port = BALANCER_PORT
        h.rpc = JsonRpc(f"http://127.0.0.1:{BALANCER_PORT}", DB)
        _scenario(h, nodes)
    finally:
        h.sender.port, h.rpc = saved_port, saved_rpc
        balancer.stop()
        node2.stop()
        if not h.server.running:
            h.server.start()


def _scenario(h, nodes):
    backend_id = h.entries_to_pull("multinode", MN_ENTRIES, SEED + 7)
    since = time.monotonic()
    delivery = h.deliver_in_background("multinode", "mn", MN_WEBHOOKS, SEED + 8)
    h.rpc.execute_kw("psa.backend", "action_pull_now", [[backend_id]])
    wait_until(
        "jobs running on the runner's node",
        lambda: pg(
            "SELECT count(*) FROM queue_job WHERE state = 'started' AND date_started < "
            "(now() at time zone 'utc') - interval '0.5 second'"
        )[0][0]
        > 0,
        timeout=300,
    )
    name, runner_pid = holder_node(nodes)
    if not name:
        raise HarnessError("no node's process holds queue_job's runner lock")
    victim = nodes[name]
    survivor_name = next(n for n in nodes if n != name)
    survivor = nodes[survivor_name]
    dead_pids = group_pids(victim)
    started = [
        uuid
        for uuid, worker_pid in pg(
            "SELECT uuid, worker_pid FROM queue_job WHERE state IN ('started', 'enqueued')"
        )
        if worker_pid in dead_pids or worker_pid is None
    ]
    log(
        f"multinode: runner lock held by {name} (pid {runner_pid}); SIGKILL its process "
        f"group with {len(started)} job(s) started/enqueued"
    )
    killed_db = pg("SELECT now() at time zone 'utc'")[0][0]
    kill_at = time.monotonic()
    victim.stop(signal.SIGKILL)
    lock_after = job_after = None
    while time.monotonic() - kill_at < 120 and (lock_after is None or job_after is None):
        now = time.monotonic() - kill_at
        if lock_after is None:
            holder, _pid = holder_node({survivor_name: survivor})
            if holder:
                lock_after = now
        if job_after is None and pg(
            "SELECT 1 FROM queue_job WHERE date_started >= %s AND worker_pid = ANY(%s) LIMIT 1",
            (killed_db, list(group_pids(survivor))),
        ):
            job_after = now
        time.sleep(0.2)
    statuses = delivery.wait()
    h.converge(backend_id, "multi-node ingest after the runner's node died")
    recover = time.monotonic() - kill_at

    expected = {**h.expected_from_simulator(), **delivery.stream.expected}
    check = check_time_entries(backend_id, expected)
    notes = check["notes"]
    notes.append(
        f"{name} (runner lock) SIGKILLed mid-burst; {survivor_name}'s runner held the lock "
        + (f"{lock_after:.1f} s" if lock_after is not None else "never (within 120 s)")
        + " and started its first job "
        + (f"{job_after:.1f} s" if job_after is not None else "never (within 120 s)")
        + f" after the kill; converged {recover:.1f} s after the kill"
    )
    if lock_after is None or job_after is None:
        check["fail"] = True
    unfinished = pg(
        "SELECT uuid, state FROM queue_job WHERE uuid = ANY(%s) AND state != 'done'", (started,)
    )
    notes.append(
        f"{len(started)} job(s) started/enqueued on the dead node: "
        f"{len(started) - len(unfinished)} done after the requeue"
    )
    if unfinished:
        notes.append(f"not done: {unfinished[:5]}")
        check["fail"] = True
    failed = pg("SELECT count(*) FROM queue_job WHERE state = 'failed'")[0][0]
    if failed:
        notes.append(f"{failed} job(s) failed")
    bad = [s for s in statuses if s not in (200, 202)]
    if bad:
        notes.append(f"deliveries never accepted: {bad[:5]}")
        check["lost"] += len(bad)
    unstored = unstored_acknowledged(backend_id, delivery.stream.envelopes, statuses)
    if unstored:
        notes.append(f"acknowledged but not stored: {unstored[:5]}")
        check["lost"] += len(unstored)
    served = pg(
        "SELECT count(*) FROM psa_event WHERE backend_id = %s AND object_type = 'time_entry'",
        (backend_id,),
    )[0][0]
    h.row(
        "2 nodes + HAProxy, runner's node killed",
        served,
        backend_id,
        check,
        statuses.count(200) + skipped_of(backend_id),
        recover,
        [(kill_at, kill_at + OUTAGE_SECONDS)],
        since,
    )
