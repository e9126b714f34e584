"""Odoo's JSON-RPC as the dev tools call it: /jsonrpc (execute_kw with a password) and the
web client's session routes (/web/session/authenticate, /web/dataset/call_kw)."""

import requests

from . import ToolError


class RpcError(ToolError):
    """Odoo answered a call with an error; the message is Odoo's."""


def error_message(error):
    return error.get("data", {}).get("message") or error


def jsonrpc_payload(service, method, *args):
    return {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"service": service, "method": method, "args": list(args)},
        "id": 1,
    }


class JsonRpc:
    """execute_kw over /jsonrpc as one user, on one kept-alive HTTP session."""

    def __init__(self, url, db, login="admin", password="admin"):
        self.url, self.db, self.login, self.password = f"{url}/jsonrpc", db, login, password
        self.session = requests.Session()
        self.uid = self.call("common", "login", db, login, password)
        if not self.uid:
            raise RpcError(f"JSON-RPC login as {login} failed")

    def call(self, service, method, *args, timeout=120):
        payload = jsonrpc_payload(service, method, *args)
        answer = self.session.post(self.url, json=payload, timeout=timeout).json()
        if answer.get("error"):
            raise RpcError(f"JSON-RPC {method}: {error_message(answer['error'])}")
        return answer["result"]

    def execute_kw(self, model, method, args, kwargs=None, timeout=120):
        return self.call(
            "object",
            "execute_kw",
            self.db,
            self.uid,
            self.password,
            model,
            method,
            args,
            kwargs or {},
            timeout=timeout,
        )


class WebSession:
    """A logged-in web client session: its cookie (for a browser) and call_kw."""

    def __init__(self, url, db, login="admin", password="admin", timeout=60):
        self.url = url
        self.session = requests.Session()
        response = self.session.post(
            f"{url}/web/session/authenticate",
            json={"params": {"db": db, "login": login, "password": password}},
            timeout=timeout,
        )
        response.raise_for_status()
        if response.json().get("error"):
            raise RpcError(f"login failed: {response.json()['error']}")

    @property
    def session_id(self):
        return self.session.cookies["session_id"]

    def call_kw(self, model, method, *args, timeout=60, **kwargs):
        response = self.session.post(
            f"{self.url}/web/dataset/call_kw",
            json={"params": {"model": model, "method": method, "args": args, "kwargs": kwargs}},
            timeout=timeout,
        )
        response.raise_for_status()
        body = response.json()
        if body.get("error"):
            raise RpcError(f"{model}.{method}: {error_message(body['error'])}")
        return body["result"]
