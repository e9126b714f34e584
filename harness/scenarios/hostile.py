"""Bad and hostile input at the webhook: malformed bodies, SQL/XSS/unicode text, refused
signatures, and the intake abuse of harness/intake_abuse.py."""

import json
import random
import time

from ..common import (
    BACKENDS,
    SEED,
    WEBHOOK_SECRET,
    check_time_entries,
    exceptions_of,
    pg,
    setting,
    signature,
    skipped_of,
)
from ..intake_abuse import intake_abuse
from ..streams import HOSTILE_STRINGS

FUZZ_BODIES = setting("HARNESS_FUZZ_BODIES", 400, 120)


def run(h):
    backend_id = h.backend_id("hostile")
    code = BACKENDS["hostile"]
    rng = random.Random(SEED + 5)
    valid = h.stream("hx", max(20, FUZZ_BODIES // 6), SEED + 6)
    # SQL/XSS/unicode in every text field of valid, approved entries.
    hostile_valid = []
    for n, envelope in enumerate(valid.envelopes):
        data = envelope["data"]
        if "description" in data:
            # The same hostile text in every version of an entry.
            number = int(data["id"].rsplit("-", 1)[1])
            hostile = HOSTILE_STRINGS[number % len(HOSTILE_STRINGS)]
            data["description"] = f"[hx] {data['id']} {hostile}"
        hostile_valid.append(json.dumps(envelope, ensure_ascii=bool(n % 2)).encode())
    bad_bodies = []
    for n in range(FUZZ_BODIES):
        kind = n % 8
        if kind == 0:
            body = b'{"id": "x", "type": "time_entry.created", "data": {'
        elif kind == 1:
            body = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
        elif kind == 2:
            body = json.dumps(
                {"id": n, "type": rng.choice(HOSTILE_STRINGS), "occurred_at": "x", "data": []}
            ).encode()
        elif kind == 3:
            body = json.dumps({"id": f"m{n}", "type": "time_entry.created"}).encode()
        elif kind == 4:
            depth = rng.randint(2000, 20000)
            body = b'{"id": "d", "data": ' + b"[" * depth + b"]" * depth + b"}"
        elif kind == 5:
            body = json.dumps(rng.choice([[], "", 0, None, True, 1e308])).encode()
        elif kind == 6:
            body = json.dumps(
                {
                    "id": f"wrong-{n}",
                    "type": "time_entry.created",
                    "occurred_at": "2026-11-20T10:00:00Z",
                    "data": {
                        "id": ["not", "a", "scalar"],
                        "hours": "eight",
                        "date": 20261116,
                        "project_id": {"$ne": None},
                        "state": rng.choice(HOSTILE_STRINGS),
                    },
                }
            ).encode()
        else:
            body = ("\ud800" * 3).encode("utf-8", "surrogatepass") + b'{"id": 1}'
        bad_bodies.append(body)
    since = time.monotonic()
    before = exceptions_of(backend_id)
    bad_statuses = h.sender.post_all(code, bad_bodies, retry_for=0)
    valid_statuses = h.sender.post_all(code, hostile_valid, retry_for=0)
    # Refused before storage: too big, unsigned, stale, replayed, unknown backend.
    refused = []
    big = json.dumps({"id": "big", "data": {"x": "a" * (300 * 1024)}}).encode()
    refused.append(("huge body", 413, h.sender.post_all(code, [big], retry_for=0)[0]))

    def headers_with(**changes):
        def sign_fn(body, headers):
            return {**headers, **changes}

        return sign_fn

    probe = hostile_valid[0]
    for name, status, fn, target in (
        ("no signature", 401, headers_with(**{"X-PSA-Signature": ""}), code),
        ("bad signature", 401, headers_with(**{"X-PSA-Signature": "sha256=00"}), code),
        ("non-ASCII signature", 401, headers_with(**{"X-PSA-Signature": "sha256=é"}), code),
        ("stale timestamp", 401, headers_with(**{"X-PSA-Timestamp": "1000000000"}), code),
        ("replayed signature (old timestamp)", 401, replayed(probe), code),
        ("unknown backend", 404, None, "no-such-backend"),
    ):
        got = h.sender.post_all(target, [probe], retry_for=0, sign_fn=fn)[0]
        refused.append((name, status, got))
    refused += intake_abuse(h, code)
    posted = time.monotonic()
    h.converge(backend_id, "hostile input processed")
    processed = time.monotonic() - posted
    rejected = sum(1 for s in bad_statuses if s == 400)
    kept = pg(
        "SELECT payload FROM psa_exception WHERE backend_id = %s AND category = 'invalid_payload'"
        " AND event_id IS NULL",
        (backend_id,),
    )
    kept_payloads = {row[0] for row in kept}
    missing = [
        b
        for b, s in zip(bad_bodies, bad_statuses, strict=True)
        if s == 400
        and b.decode("utf-8", errors="replace").replace("\x00", "\\u0000") not in kept_payloads
    ]
    check = check_time_entries(backend_id, valid.expected)
    # Hostile text stored as text: the descriptions came back unchanged.
    stored = dict(
        pg(
            """SELECT b.external_id, l.name FROM psa_binding b
                 JOIN account_analytic_line l ON l.id = b.res_id
                WHERE b.backend_id = %s AND b.external_type = 'time_entry'""",
            (backend_id,),
        )
    )
    expected_names = {}
    for envelope in valid.envelopes:
        data = envelope["data"]
        if "description" in data:
            expected_names[data["id"]] = data["description"]
    altered = [x for x, name in stored.items() if name != expected_names.get(x, name)]
    if altered:
        check["notes"].append(f"hostile text altered in {len(altered)} line(s)")
        check["lost"] += len(altered)
    # Wrong types inside a valid envelope are accepted (202) and fail in processing,
    # where the failed-event invariant (exception with the payload) applies.
    not_kept = [s for s in bad_statuses if s not in (400, 413, 202)]
    if not_kept:
        check["notes"].append(f"bad bodies answered {sorted(set(map(str, not_kept)))}")
    if missing:
        check["notes"].append(f"{len(missing)} 400 answer(s) without the raw payload kept")
        check["lost"] += len(missing)
    wrong_refusals = [(n, e, g) for n, e, g in refused if g != e]
    if wrong_refusals:
        check["notes"].append(f"refusals: {wrong_refusals}")
        check["lost"] += len(wrong_refusals)
    check["notes"].append(
        f"{rejected} bad bodies -> 400 and kept; {len(refused)} refused before storage "
        f"({', '.join(f'{n}: {g}' for n, _e, g in refused)})"
    )
    sent = len(bad_bodies) + len(hostile_valid) + len(refused)
    h.row(
        "bad + hostile input",
        sent,
        backend_id,
        check,
        valid_statuses.count(200) + skipped_of(backend_id),
        processed,
        since=since,
    )
    new_exceptions = exceptions_of(backend_id) - before
    h.notes.append(f"hostile: {new_exceptions} exception(s) raised for {sent} inputs")


def replayed(body):
    old = str(int(time.time()) - 3600)
    sig = signature.sign(WEBHOOK_SECRET, old, body)

    def sign_fn(_body, headers):
        return {**headers, "X-PSA-Timestamp": old, "X-PSA-Signature": sig}

    return sign_fn
