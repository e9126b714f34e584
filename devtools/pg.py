"""PostgreSQL for the dev tools: queries, databases (with their filestore), and a private
cluster that a tool may stop and restart without touching anyone else's databases."""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2

from . import ToolError


class Postgres:
    """Where to connect. Unset values come from PGHOST/PGPORT/PGUSER, as for psql."""

    def __init__(self, dbname="postgres", host=None, port=None, user=None, connect_timeout=None):
        self.dbname = dbname
        self.params = {}
        for env_name, key, value in (
            ("PGHOST", "host", host),
            ("PGPORT", "port", port),
            ("PGUSER", "user", user),
        ):
            value = value or os.environ.get(env_name)
            if value:
                self.params[key] = value
        if connect_timeout:
            self.params["connect_timeout"] = connect_timeout

    def connect(self, dbname=None):
        connection = psycopg2.connect(dbname=dbname or self.dbname, **self.params)
        connection.autocommit = True
        return connection

    def query(self, sql, params=None, dbname=None, fetch=True):
        """Run one statement (autocommit); its rows, or None when it returns none."""
        connection = self.connect(dbname)
        try:
            with connection.cursor() as cr:
                cr.execute(sql, params)
                return cr.fetchall() if fetch and cr.description else None
        finally:
            connection.close()

    def exists(self, name):
        return bool(
            self.query("SELECT 1 FROM pg_database WHERE datname = %s", (name,), dbname="postgres")
        )

    def create_database(self, name, template=None):
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        self.query(sql, dbname="postgres")

    def drop_database(self, name, data_dir=None):
        """Drop ``name`` (its sessions cut first) and its filestore under ``data_dir``."""
        self.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
            "AND pid <> pg_backend_pid()",
            (name,),
            dbname="postgres",
        )
        self.query(f'DROP DATABASE IF EXISTS "{name}"', dbname="postgres")
        if data_dir:
            shutil.rmtree(Path(data_dir) / "filestore" / name, ignore_errors=True)

    def clone_database(self, source, target, data_dir=None):
        """``target`` afresh as a copy of ``source``, filestore included."""
        self.drop_database(target, data_dir)
        self.create_database(target, template=source)
        if data_dir:
            source_store = Path(data_dir) / "filestore" / source
            if source_store.exists():
                shutil.copytree(source_store, Path(data_dir) / "filestore" / target)


class PrivateCluster:
    """initdb into a temporary directory; started, restarted and removed by us only."""

    def __init__(self, port, pg_bin, prefix="psa-pg-"):
        self.port = port
        self.pg_bin = Path(pg_bin)
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        self.as_user = []
        self.user = None
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root.
            shutil.chown(self.dir, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _pg_ctl(self, *args, timeout=120):
        command = [*self.as_user, str(self.pg_bin / "pg_ctl"), "-D", str(self.data), *args]
        completed = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        if completed.returncode != 0:
            raise ToolError(
                f"pg_ctl {' '.join(args[:1])} failed: {completed.stderr.decode()[-500:]}"
            )

    def init(self):
        user = os.environ.get("PGUSER") or os.environ.get("USER") or "root"
        self.user = user if os.geteuid() != 0 else "root"
        command = [
            *self.as_user,
            str(self.pg_bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]
        completed = subprocess.run(command, capture_output=True, timeout=300, check=False)
        if completed.returncode != 0:
            raise ToolError(f"initdb failed: {completed.stderr.decode()[-500:]}")
        self.start()

    def options(self):
        return (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            # Commits stay durable (synchronous_commit on): the PostgreSQL-restart scenario
            # stops the server with -m immediate, which loses WAL not yet written at commit,
            # i.e. webhooks already answered 202 (seen once with synchronous_commit=off).
            # fsync stays off: an immediate stop kills processes, not the machine, so what
            # was written to the operating system survives.
            "-c fsync=off -c full_page_writes=off "
            "-c max_connections=80 -c shared_buffers=64MB"
        )

    def start(self):
        self._pg_ctl("-o", self.options(), "-l", str(self.logfile), "-w", "start")

    def stop(self, mode="fast"):
        self._pg_ctl("-m", mode, "-w", "stop")

    def remove(self):
        with contextlib.suppress(ToolError, subprocess.TimeoutExpired):
            self.stop("fast")
        shutil.rmtree(self.dir, ignore_errors=True)

    def postgres(self, dbname="postgres"):
        """How to connect to this cluster (over TCP, a short timeout: it may be down)."""
        return Postgres(dbname, host="127.0.0.1", port=self.port, user=self.user, connect_timeout=5)
