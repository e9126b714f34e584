"""Base classes for the cross-module tests, which live outside any addon.

Odoo's test metaclass gives tags and a module name only to tests under
``odoo.addons.*``; these carry them explicitly.
"""

import json

from odoo.tests.common import HttpCase, TransactionCase

from odoo.addons.psa_connector_base.tests.common import (
    API_TOKEN,
    PsaTestMixin,
    allow_local_targets,
)

from psa_simulator import PsaSimulator


class SuiteTagsMixin(PsaTestMixin):
    test_tags = {"standard", "post_install"}
    test_module = "psa_connector_suite"
    test_sequence = 0

    @classmethod
    def start_simulator(cls, **options):
        """The demo PSA on a free loopback port, stopped after the class."""
        allow_local_targets(cls.env)
        simulator = PsaSimulator(**{"token": API_TOKEN, **options}).start()
        cls.addClassCleanup(simulator.stop)
        return simulator


class SuiteTransactionCase(SuiteTagsMixin, TransactionCase):
    pass


class SuiteHttpCase(SuiteTagsMixin, HttpCase):
    def execute_kw(self, user, model, method, args, kwargs=None, password=None):
        """One ``/jsonrpc`` ``execute_kw`` call as ``user`` (password login, as an
        integration script would): the HTTP response, for the caller to read."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {
                "service": "object",
                "method": "execute_kw",
                "args": [
                    self.env.cr.dbname,
                    user.id,
                    password or user.login,
                    model,
                    method,
                    args,
                    kwargs or {},
                ],
            },
        }
        return self.url_open(
            "/jsonrpc",
            data=json.dumps(payload, default=str),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
