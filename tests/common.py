"""Base classes for the cross-module tests, which live outside any addon.

Odoo's test metaclass gives tags and a module name only to tests under
``odoo.addons.*``; these carry them explicitly.
"""

from odoo.tests.common import HttpCase, TransactionCase


class SuiteTagsMixin:
    test_tags = {"standard", "post_install"}
    test_module = "psa_connector_suite"
    test_sequence = 0


class SuiteTransactionCase(SuiteTagsMixin, TransactionCase):
    pass


class SuiteHttpCase(SuiteTagsMixin, HttpCase):
    pass
