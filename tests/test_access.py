"""Who may read and write what: the access matrix, through the ORM, JSON-RPC and HTTP.

Each caller (public, portal, internal user, project manager, Connector User, Connector
Manager, a Connector Manager of another company) tries every operation on secrets,
bindings, events, exceptions, the audit log and another company's records. The expected
matrix is written out by hand below; any difference is a leak (or a lock-out).
"""

import json

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user
from odoo.tests.common import JsonRpcException

from odoo.addons.psa_connector_base.tests.common import API_TOKEN, WEBHOOK_SECRET

from .common import SuiteHttpCase

USERS = ("public", "portal", "internal", "project_manager", "finance", "manager", "other_co")
CONNECTOR = {"finance", "manager"}

# operation -> callers allowed (own company's records unless the name says otherwise)
MATRIX = {
    "read secrets (ciphertext)": set(),
    "read backend": CONNECTOR,
    "write backend": {"manager"},
    "read bindings": CONNECTOR,
    # What a binding points to is the sync's (workflow fields): nobody edits it by hand.
    "write binding": set(),
    "read events": CONNECTOR,
    "create event": set(),
    "read exceptions": CONNECTOR,
    "edit exception payload": {"manager"},
    "read audit log": CONNECTOR,
    "write audit log": set(),
    "delete audit log": set(),
    "read other company's exception": set(),
    "read other company's binding": set(),
}


class TestAccessMatrix(SuiteHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Other Consultancy Ltd"})
        cls.backend = cls._create_backend(code="acl-a")
        cls.backend_b = cls._create_backend(code="acl-b", company_id=cls.company_b.id)
        cls.records = {}
        for key, backend in (("a", cls.backend), ("b", cls.backend_b)):
            event = cls.receive(
                "customer.created", {"id": f"C-{key}", "name": "x"}, backend=backend
            )
            cls.records[key] = {
                "event": event,
                "exception": cls.env["psa.exception"].create(
                    {
                        "name": "Problem",
                        "category": "validation",
                        "backend_id": backend.id,
                        "payload": '{"secret-ish": true}',
                    }
                ),
                "binding": cls.env["psa.binding"].create(
                    {
                        "backend_id": backend.id,
                        "external_type": "customer",
                        "external_id": f"C-{key}",
                        "res_model": "res.partner",
                        "res_id": cls.env.user.partner_id.id,
                    }
                ),
                "audit": cls.env["psa.audit.log"]._log(backend, "in", "create", "customer", "C"),
            }

        def user(login, groups, **values):
            return new_test_user(cls.env, login, groups=groups, **values)

        cls.users = {
            "public": cls.env.ref("base.public_user"),
            "portal": user("acl_portal", "base.group_portal"),
            "internal": user("acl_internal", "base.group_user"),
            "project_manager": user("acl_pm", "project.group_project_manager"),
            "finance": user("acl_finance", "psa_connector_base.group_connector_user"),
            "manager": user("acl_manager", "psa_connector_base.group_connector_manager"),
            "other_co": user(
                "acl_other",
                "psa_connector_base.group_connector_manager",
                company_id=cls.company_b.id,
                company_ids=[(6, 0, [cls.company_b.id])],
            ),
        }

    # The operations, as (model, method, args, kwargs) on the caller's own company's records

    def operations(self, who):
        own = self.records["b" if who == "other_co" else "a"]
        other = self.records["a" if who == "other_co" else "b"]
        backend = self.backend_b if who == "other_co" else self.backend
        return {
            "read secrets (ciphertext)": (
                "psa.backend",
                "read",
                [[backend.id], ["api_token_encrypted", "webhook_secret_encrypted"]],
            ),
            "read backend": ("psa.backend", "read", [[backend.id], ["name", "code"]]),
            "write backend": ("psa.backend", "write", [[backend.id], {"page_size": 77}]),
            "read bindings": ("psa.binding", "read", [[own["binding"].id], ["external_id"]]),
            "write binding": (
                "psa.binding",
                "write",
                [[own["binding"].id], {"external_id": "hijacked"}],
            ),
            "read events": ("psa.event", "read", [[own["event"].id], ["payload"]]),
            "create event": (
                "psa.event",
                "create",
                [
                    {
                        "backend_id": backend.id,
                        "event_uid": f"forged-{who}",
                        "event_type": "customer.created",
                        "source": "webhook",
                    }
                ],
            ),
            "read exceptions": ("psa.exception", "read", [[own["exception"].id], ["payload"]]),
            "edit exception payload": (
                "psa.exception",
                "write",
                [[own["exception"].id], {"payload": "{}"}],
            ),
            "read audit log": ("psa.audit.log", "read", [[own["audit"].id], ["operation"]]),
            "write audit log": (
                "psa.audit.log",
                "write",
                [[own["audit"].id], {"message": "rewritten"}],
            ),
            "delete audit log": ("psa.audit.log", "unlink", [[own["audit"].id]]),
            "read other company's exception": (
                "psa.exception",
                "read",
                [[other["exception"].id], ["payload"]],
            ),
            "read other company's binding": (
                "psa.binding",
                "read",
                [[other["binding"].id], ["external_id"]],
            ),
        }

    def orm_allowed(self, who, model, method, args):
        env = self.env(user=self.users[who], context={})
        records_args = args
        try:
            with self.env.cr.savepoint():
                if method == "create":
                    env[model].create(*records_args)
                else:
                    getattr(env[model].browse(args[0]), method)(*args[1:])
                    env.flush_all()
        except (AccessError, UserError):
            return False
        return True

    def rpc_allowed(self, who, model, method, args):
        """Through /jsonrpc execute_kw (password login); the public user has no login."""
        user = self.users[who]
        response = self.execute_kw(user, model, method, args)
        self.assertEqual(response.status_code, 200)
        answer = response.json()
        if "error" in answer:
            self.assertNotIn("Traceback", answer["error"].get("message", ""))
            return False
        self.assertNotIn(WEBHOOK_SECRET, response.text)
        self.assertNotIn(API_TOKEN, response.text)
        return True

    def check_matrix(self, allowed_fn, who_list):
        differences = []
        for who in who_list:
            for operation, (model, method, args) in self.operations(who).items():
                allowed = allowed_fn(who, model, method, args)
                # The other company's manager is a manager on its own company's records.
                role = "manager" if who == "other_co" else who
                if allowed != (role in MATRIX[operation]):
                    differences.append(f"{who}: {operation}: {'allowed' if allowed else 'denied'}")
        self.assertEqual(differences, [])

    def test_matrix_through_the_orm(self):
        self.check_matrix(self.orm_allowed, USERS)

    def test_matrix_through_json_rpc(self):
        self.check_matrix(self.rpc_allowed, [u for u in USERS if u != "public"])

    def test_public_and_anonymous_callers_through_http(self):
        # No session: the web client's RPC route refuses everything.
        for operation, (model, method, args) in self.operations("public").items():
            response = self.url_open(
                "/web/dataset/call_kw",
                data=json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "method": "call",
                        "params": {"model": model, "method": method, "args": args, "kwargs": {}},
                    }
                ),
                headers={"Content-Type": "application/json"},
            )
            self.assertIn("error", response.json(), operation)
        # The webhook route is the only public one and only accepts signed POSTs.
        self.assertEqual(self.url_open("/psa/webhook/acl-a").status_code, 405)
        response = self.url_open("/psa/webhook/acl-a", data=b"{}")
        self.assertEqual(response.status_code, 401)

    def test_session_of_a_connector_user_through_call_kw(self):
        self.authenticate("acl_finance", "acl_finance")
        own = self.records["a"]

        def call(model, method, args):
            return self.make_jsonrpc_request(
                "/web/dataset/call_kw",
                {"model": model, "method": method, "args": args, "kwargs": {}},
            )

        rows = call("psa.exception", "search_read", [[], ["backend_id", "payload"]])
        self.assertEqual({r["backend_id"][0] for r in rows}, {self.backend.id})
        for model, method, args in (
            ("psa.audit.log", "write", [[own["audit"].id], {"message": "x"}]),
            ("psa.exception", "write", [[own["exception"].id], {"payload": "{}"}]),
            ("psa.backend", "read", [[self.backend.id], ["webhook_secret"]]),
            ("psa.binding", "read", [[self.records["b"]["binding"].id], ["external_id"]]),
        ):
            with (
                self.subTest(model=model, method=method),
                self.assertRaisesRegex(JsonRpcException, "AccessError"),
            ):
                call(model, method, args)
        self.assertEqual(own["audit"].message, False)
        self.assertEqual(own["exception"].payload, '{"secret-ish": true}')
