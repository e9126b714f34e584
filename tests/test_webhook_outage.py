"""While PostgreSQL is down, a webhook gets 503 + Retry-After from every worker, never 404.

A real Odoo (``python -m odoo``, 2 HTTP workers) is started in two set-ups:

- against a PostgreSQL port nobody listens on, choosing its database by ``dbfilter``:
  its workers can load no database, so only a connector loaded as a server-wide module
  (as the configuration section of the README says) can answer; Odoo's own no-database
  fallback answers 404, which a PSA may take as final and not send again;
- with ``db_name`` = the test database, reached through a TCP relay in front of the real
  PostgreSQL that the test cuts (every connection dropped, new ones closed at once), as
  a restart does, and restores.
"""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

import psycopg2
import requests

from odoo.sql_db import connection_info_for
from odoo.tools import config

WORKERS = 2
PATHS = ("/psa/webhook/psa", "/psa/webhook/psa/productive", "/psa/webhook/psa/bamboohr")
# No backend has this code: once the database is back, the controller answers 404 (JSON).
UNKNOWN_PATHS = ("/psa/webhook/no-such-backend", "/psa/webhook/no-such-backend/productive")


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresRelay:
    """A loopback TCP port relaying to the test's PostgreSQL, which the test can cut."""

    def __init__(self):
        _db, params = connection_info_for(config["db_name"])
        params.pop("application_name", None)
        with contextlib.closing(psycopg2.connect(**params)) as probe:
            host, port = probe.info.host, probe.info.port
        if host.startswith("/"):
            self.upstream = (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}")
        else:
            self.upstream = (socket.AF_INET, (host, port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.up, self.stopped, self.sockets = True, False, []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.socket(self.upstream[0])
            try:
                server.connect(self.upstream[1])
            except OSError:
                client.close()
                server.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self):
        self.up = False
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for end in sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def restore(self):
        self.up = True

    def close(self):
        self.stopped = True
        self.cut()
        self.listener.close()


class TestWebhookDuringDatabaseOutage(unittest.TestCase):
    test_tags = {"standard", "post_install"}
    test_module = "psa_connector_suite"
    test_sequence = 0

    @contextlib.contextmanager
    def odoo_without_database(self, server_wide_modules):
        database = [f"db_port = {_free_port()}", "dbfilter = ^psa_outage$"]  # port closed
        with self.odoo(server_wide_modules, database) as url:
            yield url

    @contextlib.contextmanager
    def odoo(self, server_wide_modules, database):
        http_port = _free_port()
        with tempfile.TemporaryDirectory(prefix="psa-outage-") as scratch:
            conf = Path(scratch, "odoo.conf")
            conf.write_text(
                "\n".join(
                    [
                        "[options]",
                        f"addons_path = {config['addons_path']}",
                        "db_host = 127.0.0.1",
                        *database,
                        f"data_dir = {scratch}",
                        f"psa_connector_key = {config.get('psa_connector_key') or ''}",
                        f"http_port = {http_port}",
                        f"gevent_port = {_free_port()}",
                        f"workers = {WORKERS}",
                        "max_cron_threads = 0",
                        f"server_wide_modules = {server_wide_modules}",
                        "",
                    ]
                )
            )
            output = Path(scratch, "server.out")
            with output.open("wb") as out:
                server = subprocess.Popen(
                    [sys.executable, "-m", "odoo", "server", "-c", str(conf)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                url = f"http://127.0.0.1:{http_port}"
                self._wait_for_health(server, url, output)
                yield url
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, 15)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, 9)
                    server.wait(timeout=10)

    def _wait_for_health(self, server, url, log):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if server.poll() is not None:
                self.fail(f"Odoo exited at start: {log.read_text()[-2000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/web/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        self.fail("Odoo did not answer /web/health within 120 s")

    def answers(self, url, paths=PATHS):
        """(status, Retry-After) of each webhook route, asked often enough to reach each worker."""
        answers = set()
        for _round in range(2 * WORKERS):
            for path in paths:
                response = requests.post(
                    url + path,
                    data=b'{"id": "evt-outage"}',
                    headers={"Content-Type": "application/json"},
                    timeout=30,
                )
                answers.add((path, response.status_code, response.headers.get("Retry-After")))
        return answers

    def test_the_connector_as_a_server_wide_module_answers_503_from_every_worker(self):
        with self.odoo_without_database("base,web,queue_job,psa_connector_base") as url:
            answers = self.answers(url)
        self.assertEqual(answers, {(path, 503, "5") for path in PATHS})

    def test_without_it_odoo_answers_404(self):
        # Why the README asks for the server-wide module: the sender would stop retrying.
        with self.odoo_without_database("base,web,queue_job") as url:
            answers = self.answers(url)
        self.assertEqual(answers, {(path, 404, None) for path in PATHS})

    def test_a_restart_of_the_preloaded_database_is_503_on_every_route_then_served(self):
        relay = PostgresRelay()
        self.addCleanup(relay.close)
        database = [
            f"db_port = {relay.port}",
            f"db_name = {config['db_name']}",  # preloaded by the master before it forks
            f"db_user = {config['db_user'] or ''}",
            f"db_password = {config['db_password'] or ''}",
        ]
        with self.odoo("base,web,psa_connector_base", database) as url:
            relay.cut()
            during = self.answers(url, UNKNOWN_PATHS)
            relay.restore()
            after = self.answers(url, UNKNOWN_PATHS)
            message = requests.post(url + UNKNOWN_PATHS[1], data=b"{}", timeout=30).json()
        self.assertEqual(during, {(path, 503, "5") for path in UNKNOWN_PATHS})
        self.assertEqual(after, {(path, 404, None) for path in UNKNOWN_PATHS})
        self.assertEqual(message["message"], "unknown or inactive backend")
