"""Dev tooling shared by `make bench`, `make harness`, `make screenshots` and the checks in
scripts/: one JSON-RPC client (rpc), one way to run odoo-bin and its server (odoo_process),
one PostgreSQL helper with the harness's private cluster (pg), the headless Chromium driver
(browser), and the helpers of the scripts that run inside `odoo-bin shell` (odoo_shell).

Not an addon and not shipped in the wheels: it runs beside Odoo, never inside a server.
"""

import signal
import sys
import time


class ToolError(Exception):
    """A step of a dev tool failed; the message says which and where its log is."""


def make_log(name):
    """``log(message)`` printing ``[name HH:MM:SS] message`` on stderr, as the tools do."""

    def log(message):
        print(f"[{name} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    return log


def interrupt_on_sigterm():
    """SIGTERM as Ctrl-C: the tool's ``finally`` stops what it started, then it reports."""

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
