"""odoo-bin as the dev tools run it: installs and shells that run to their end, and the
server (workers, job runner) in a process group of its own, started, waited for, stopped."""

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from . import ToolError

ROOT = Path(__file__).resolve().parent.parent


class Odoo:
    """One configuration file and database of one Odoo source tree.

    Every run has the checkout's root as working directory and on PYTHONPATH, so that
    the scripts an ``odoo-bin shell`` reads may import devtools and psa_simulator.
    """

    def __init__(self, *, odoo_src, python, conf, db, run_dir):
        self.odoo_bin = f"{odoo_src}/odoo-bin"
        self.python, self.conf, self.db, self.run_dir = python, str(conf), db, Path(run_dir)

    def command(self, *args, dbname=None):
        """odoo-bin [subcommand] -c CONF -d DB [options]: ``args[0]`` is the subcommand."""
        return [self.python, self.odoo_bin, *args[:1], "-c", self.conf, "-d", dbname or self.db]

    def environment(self, env_extra=None):
        pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        return {**os.environ, "PYTHONPATH": pythonpath, **(env_extra or {})}

    def run(self, args, timeout, what, stdin_path=None, env_extra=None, dbname=None, strict=False):
        """Run odoo-bin to its end; return its stdout, its output kept in the run dir's
        ``odoo-<what>.log``. Raises ToolError on a non-zero exit (``strict``: also on an
        ERROR or CRITICAL line)."""
        command = [*self.command(*args[:1], dbname=dbname), *args[1:]]
        log_path = self.run_dir / f"odoo-{what.replace(' ', '-')}.log"
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            completed = subprocess.run(
                command,
                stdin=stdin,
                capture_output=True,
                timeout=timeout,
                env=self.environment(env_extra),
                cwd=ROOT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ToolError(
                f"{what}: no answer within {timeout:.0f}s (odoo-bin {args[0]})"
            ) from None
        finally:
            if stdin_path:
                stdin.close()
        output = completed.stdout.decode(errors="replace")
        errors = completed.stderr.decode(errors="replace")
        log_path.write_text(output + "\n--- stderr ---\n" + errors)
        logged_error = strict and (" ERROR " in errors or " CRITICAL " in errors)
        if completed.returncode != 0 or logged_error:
            tail = "\n".join((output + errors).splitlines()[-25:])
            raise ToolError(f"{what} failed (exit {completed.returncode}, log {log_path}):\n{tail}")
        return output

    def install(self, addons, timeout, what="install", dbname=None, strict=False):
        """Install ``addons`` (no demo data) and stop."""
        self.run(
            [
                "server",
                "-i",
                addons,
                "--without-demo=all",
                "--stop-after-init",
                "--logfile=",
                "--log-level=warn",
                "--workers=0",
                "--max-cron-threads=0",
                "--no-http",
            ],
            timeout,
            what,
            dbname=dbname,
            strict=strict,
        )

    def shell(self, script, what, timeout, marker, env_extra=None, strict=False):
        """Feed ``script`` to ``odoo-bin shell``; return the JSON it printed after ``marker``."""
        output = self.run(
            ["shell", "--no-http", "--logfile=", "--log-level=warn"],
            timeout,
            what,
            stdin_path=script,
            env_extra={k: str(v) for k, v in (env_extra or {}).items()},
            strict=strict,
        )
        for line in output.splitlines():
            if line.startswith(f"{marker} "):
                return json.loads(line[len(marker) + 1 :])
        raise ToolError(
            f"{what}: the shell script printed no result (log {self.run_dir}/odoo-"
            f"{what.replace(' ', '-')}.log):\n" + "\n".join(output.splitlines()[-25:])
        )


def wait_http(url, timeout, process=None, what="Odoo"):
    """Until ``url`` answers 200; ToolError when ``process`` exits first or on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ToolError(f"{what} exited with {process.returncode} at start")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=3).status_code == 200:
                return
        time.sleep(0.5)
    raise ToolError(f"{what} did not answer {url} within {timeout}s")


class OdooServer:
    """The server of ``odoo`` (its configuration's workers and job runner), in a process
    group of its own so that its workers are stopped with it."""

    def __init__(self, odoo, url):
        self.odoo, self.url, self.process = odoo, url, None

    @property
    def running(self):
        return bool(self.process) and self.process.poll() is None

    def start(self, timeout=180):
        out_path = self.odoo.run_dir / "odoo-server.out"
        with open(out_path, "ab") as out:
            self.process = subprocess.Popen(
                self.odoo.command(),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_http(f"{self.url}/web/health", timeout, self.process)
        except ToolError as err:
            raise ToolError(f"{err}; see {out_path} and the log file of {self.odoo.conf}") from None

    def stop(self, sig=signal.SIGTERM):
        if not self.process:
            return
        pgid = self.process.pid  # session leader: its pid is the group id
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # Workers of a killed master are in the same group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.process = None

    def worker_pids(self):
        """Children of the master (its HTTP and cron workers)."""
        if not self.process:
            return set()
        pids = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == self.process.pid:
                    pids.add(int(entry.name))
        return pids
