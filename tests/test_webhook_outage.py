"""While PostgreSQL is down, a webhook gets 503 + Retry-After from every worker, never 404.

A real Odoo (``python -m odoo``, 2 HTTP workers) is started against a PostgreSQL port
nobody listens on, choosing its database by ``dbfilter``: its workers can load no
database, so only a connector loaded as a server-wide module (as the configuration
section of the README says) can answer; Odoo's own no-database fallback answers 404,
which a PSA may take as final and not send again.
"""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import requests

from odoo.tools import config

WORKERS = 2
PATHS = ("/psa/webhook/psa", "/psa/webhook/psa/productive", "/psa/webhook/psa/bamboohr")


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TestWebhookDuringDatabaseOutage(unittest.TestCase):
    test_tags = {"standard", "post_install"}
    test_module = "psa_connector_suite"
    test_sequence = 0

    @contextlib.contextmanager
    def odoo_without_database(self, server_wide_modules):
        http_port = _free_port()
        with tempfile.TemporaryDirectory(prefix="psa-outage-") as scratch:
            conf = Path(scratch, "odoo.conf")
            conf.write_text(
                "\n".join(
                    [
                        "[options]",
                        f"addons_path = {config['addons_path']}",
                        "db_host = 127.0.0.1",
                        f"db_port = {_free_port()}",  # closed: PostgreSQL is "down"
                        "dbfilter = ^psa_outage$",
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

    def answers(self, url):
        """(status, Retry-After) of each webhook route, asked often enough to reach each worker."""
        answers = set()
        for _round in range(2 * WORKERS):
            for path in PATHS:
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
