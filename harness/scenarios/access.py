"""Each caller tries secrets, bindings, exceptions, audit log, other company, via RPC."""

import time

import requests

from devtools.rpc import jsonrpc_payload

from ..common import DB, ODOO_URL, WEBHOOK_SECRET, HarnessError, pg


def run(h):
    backend_id = h.backend_id("hostile")
    exception_id = pg("SELECT id FROM psa_exception WHERE backend_id = %s LIMIT 1", (backend_id,))
    binding_id = pg("SELECT id FROM psa_binding WHERE backend_id = %s LIMIT 1", (backend_id,))
    audit_id = pg("SELECT id FROM psa_audit_log WHERE backend_id = %s LIMIT 1", (backend_id,))
    other_exc = pg("SELECT id FROM psa_exception WHERE backend_id = %s LIMIT 1", (h.other_backend,))
    if not (exception_id and binding_id and audit_id and other_exc):
        raise HarnessError("access: the records to probe are missing")
    exception_id, binding_id = exception_id[0][0], binding_id[0][0]
    audit_id, other_exc = audit_id[0][0], other_exc[0][0]
    connector = {"finance", "manager"}
    operations = [
        ("read secrets", "psa.backend", "read", [[backend_id], ["webhook_secret_encrypted"]], set()),
        ("read backend", "psa.backend", "read", [[backend_id], ["name"]], connector),
        ("read bindings", "psa.binding", "read", [[binding_id], ["external_id"]], connector),
        ("write binding", "psa.binding", "write", [[binding_id], {"external_version": 1}], set()),
        ("read exceptions", "psa.exception", "read", [[exception_id], ["payload"]], connector),
        ("edit payload", "psa.exception", "write", [[exception_id], {"payload": "{}"}], {"manager"}),
        ("read audit", "psa.audit.log", "read", [[audit_id], ["operation"]], connector),
        ("write audit", "psa.audit.log", "write", [[audit_id], {"message": "x"}], set()),
        ("delete audit", "psa.audit.log", "unlink", [[audit_id]], set()),
        ("other company's exception", "psa.exception", "read", [[other_exc], ["payload"]], set()),
    ]  # fmt: skip
    granted, checks = [], 0
    for who, uid in h.users.items():
        login = f"h_{who}"
        for name, model, method, args, allowed in operations:
            if who == "other_co" and name == "other company's exception":
                continue
            expect = who in allowed and who != "other_co"
            # The raw answer, not JsonRpc: its HTTP status and text are checked too.
            payload = jsonrpc_payload(
                "object", "execute_kw", DB, uid, login, model, method, args, {}
            )
            response = requests.post(f"{ODOO_URL}/jsonrpc", json=payload, timeout=60)
            h.sender.answers.append((time.monotonic(), response.status_code))
            ok = "error" not in response.json()
            checks += 1
            if WEBHOOK_SECRET in response.text:
                granted.append(f"{who}: {name}: the webhook secret in the answer")
            if ok and not expect:
                granted.append(f"{who}: {name}")
            elif expect and not ok:
                h.notes.append(f"access: {who} was refused {name}")
    # No session at all: the web client's RPC route.
    for name, model, method, args, _allowed in operations:
        response = requests.post(
            f"{ODOO_URL}/web/dataset/call_kw",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"model": model, "method": method, "args": args, "kwargs": {}},
            },
            timeout=60,
        )
        checks += 1
        if "error" not in response.json():
            granted.append(f"anonymous: {name}")
    h.rows.append(
        {
            "scenario": f"access matrix ({checks} probes)",
            "sent": checks,
            "applied": "-",
            "duplicates": "-",
            "exceptions": "-",
            "lost": 0,
            "doubled": 0,
            "http500": sum(1 for _m, s in h.sender.answers[-checks:] if s == 500),
            "recover": None,
            "ok": not granted,
        }
    )
    for leak in granted:
        h.notes.append(f"access GRANTED that should not be: {leak}")
