"""Intake abuse, part of the hostile-input scenario: framing abuse, slow bodies and a flood
of unknown codes at the webhook endpoint, with the workers' memory before and after."""

import collections
import contextlib
import socket
import threading
import time
from pathlib import Path

import requests

from .common import CONCURRENCY, HTTP_PORT, ODOO_URL, RUN_DIR, setting


def intake_abuse(h, code):
    """Framing abuse and a flood of unknown codes at the webhook endpoint.

    Returns (name, expected status, status) rows for the refusal table; notes the
    time and bytes each took, and the workers' memory before/after the flood.
    """
    path = f"/psa/webhook/{code}"
    limit = 256 * 1024  # the harness backends' max_body_bytes (harness/odoo/setup.py)
    json_type = {"Content-Type": "application/json"}
    big = [b"x" * 65536] * 256  # 16 MiB offered
    chunk = b"%x\r\n" % 4096 + b"c" * 4096 + b"\r\n"
    rows, detail = [], []
    for name, expected, headers, parts, pause in (
        ("Content-Length: -1, 16 MiB", 400, {**json_type, "Content-Length": "-1"}, big, 0),
        ("Content-Length: abc", 400, {**json_type, "Content-Length": "abc"}, [b"{}"], 0),
        ("no Content-Length", 411, json_type, [b"{}"], 0),
        (
            "Content-Length over the limit, 16 MiB",
            413,
            {**json_type, "Content-Length": str(16 * 1024 * 1024)},
            big,
            0,
        ),
        (
            "lying Content-Length (1000, 10 sent)",
            408,
            {**json_type, "Content-Length": "1000"},
            [b"{" * 10],
            0,
        ),
        (
            "chunked, limit + 1 MiB",
            413,
            {**json_type, "Transfer-Encoding": "chunked"},
            [chunk] * ((limit + 1024 * 1024) // 4096),
            0.002,
        ),
        (
            "chunked size line without end",
            400,
            {**json_type, "Transfer-Encoding": "chunked"},
            [b"f" * 4096] * 64,
            0.005,
        ),
        (
            "slow chunked body (1 byte / 0.5 s)",
            408,
            {**json_type, "Transfer-Encoding": "chunked"},
            [b"1\r\n{\r\n"] * 60,
            0.5,
        ),
    ):
        status, seconds, sent = raw_post(h, path, headers, parts, pause)
        rows.append((name, expected, status))
        offered = sum(len(p) for p in parts)
        detail.append(f"{name}: {status} in {seconds:.1f}s, {sent}/{offered} B sent")
    h.notes.append("intake abuse: " + "; ".join(detail))

    # 10,000 distinct unknown codes of the longest valid length, and some invalid ones.
    flood = setting("HARNESS_UNKNOWN_CODES", 10_000, 10_000)
    rss_before = worker_rss_mib(h)
    log_before = refusal_log_lines()
    codes = [f"unknown-{n:06d}-" + "u" * 49 for n in range(flood)]
    codes += [f"bad.code.{n}" + "v" * 80 for n in range(200)]
    statuses = collections.Counter()
    index = iter(codes)
    lock = threading.Lock()
    started = time.monotonic()

    def worker():
        while True:
            with lock:
                unknown = next(index, None)
            if unknown is None:
                return
            status = None
            with contextlib.suppress(requests.RequestException):
                status = requests.post(
                    f"{ODOO_URL}/psa/webhook/{unknown}",
                    data=b"{}",
                    headers={"Content-Type": "application/json"},
                    timeout=30,
                ).status_code
            with lock:
                statuses[status] += 1
            with h.sender.lock:
                h.sender.answers.append((time.monotonic(), status))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    rss_after = worker_rss_mib(h)
    log_lines = refusal_log_lines() - log_before
    rows.append(
        (
            f"{len(codes)} unknown/invalid codes",
            404,
            404 if set(statuses) == {404} else dict(statuses),
        )
    )
    h.notes.append(
        f"intake abuse: {flood} unknown codes + 200 invalid ones in {elapsed:.0f}s -> "
        f"{dict(statuses)}; Odoo worker RSS {rss_before:.1f} -> {rss_after:.1f} MiB "
        f"({rss_after - rss_before:+.1f}); {log_lines} refusal log line(s) written"
    )
    return rows


def raw_post(h, path, headers, parts=(), pause=0.0, timeout=30.0):
    """One raw HTTP/1.1 POST; the body parts are sent by a thread while the answer is
    read. Returns (status or None, seconds, body bytes sent when the answer began)."""
    sock = socket.create_connection(("127.0.0.1", HTTP_PORT), timeout=timeout)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    sent = [0]
    answered = threading.Event()

    def send():
        with contextlib.suppress(OSError):
            for part in parts:
                if answered.is_set():
                    return
                sock.sendall(part)
                sent[0] += len(part)
                if pause:
                    time.sleep(pause)

    started = time.monotonic()
    status = sent_at_answer = None
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        threading.Thread(target=send, daemon=True).start()
        first = sock.recv(4096)
        sent_at_answer = sent[0]
        answered.set()
        status = int(first.split(b" ", 2)[1]) if first.startswith(b"HTTP/") else None
    except (OSError, ValueError, IndexError):
        status = None
    finally:
        answered.set()
        sock.close()
    with h.sender.lock:
        h.sender.answers.append((time.monotonic(), status))
    return status, time.monotonic() - started, sent_at_answer


def worker_rss_mib(h):
    total = 0
    for pid in h.server.worker_pids():
        with contextlib.suppress(OSError, ValueError, IndexError):
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(next(x for x in status.splitlines() if x.startswith("VmRSS:")).split()[1])
    return total / 1024


def refusal_log_lines():
    logfile = RUN_DIR / "odoo-harness.log"
    if not logfile.exists():
        return 0
    return logfile.read_bytes().count(b"PSA webhook refused")
