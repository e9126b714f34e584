"""How an inbound event becomes a ``psa_event`` row, shared by the ORM and the fast intake.

Both the model (:meth:`psa.event._insert_if_new`) and the webhook fast intake
(``tools/webhook_intake.py``, which runs before Odoo builds a request environment) insert
through :func:`insert_events`, so an event stored by either path is the same row.
"""

import json
import uuid

from .jobs import execute_racing
from .schema import load_schema, validate
from .signature import is_fresh, is_valid_signature
from .versions import to_odoo_datetime

EVENT_COLUMNS = (
    "backend_id",
    "company_id",
    "event_uid",
    "event_type",
    "object_type",
    "action",
    "external_id",
    "occurred_at",
    "source",
    "payload",
    "state",
    "correlation_id",
    "attempt_count",
    "create_uid",
    "create_date",
    "write_uid",
    "write_date",
)


def split_type(event_type):
    """``"time_entry.updated"`` -> ``("time_entry", "updated")``."""
    object_type, _sep, action = (event_type or "").rpartition(".")
    return object_type, action


def envelope_problems(envelope):
    """What makes a canonical envelope unusable (empty when it can be stored): the
    published schema, then the values the event is stored and found by (PostgreSQL text
    refuses NUL; the body itself is always kept, escaped)."""
    problems = validate(envelope, load_schema("event"))
    if problems:
        return problems
    data = envelope.get("data")
    keys = {"id": envelope.get("id"), "type": envelope.get("type")}
    if isinstance(data, dict):
        keys["data.id"] = data.get("id")
    return [
        f"{name} contains a NUL character" for name, value in keys.items() if "\x00" in str(value)
    ]


def webhook_row(envelope, payload):
    """The row of a verified, schema-valid canonical envelope received by webhook."""
    data = envelope["data"]
    return {
        "event_uid": str(envelope["id"]),
        "event_type": envelope["type"],
        "external_id": str(data["id"]) if isinstance(data, dict) and "id" in data else None,
        "occurred_at": to_odoo_datetime(envelope.get("occurred_at")),
        "source": "webhook",
        "payload": payload,
    }


def insert_events(cr, backend_id, company_id, uid, now, rows):
    """Insert events, skipping ids already received; return ``[(id, event_uid,
    correlation_id)]`` of the new ones, in id order.

    ``INSERT … ON CONFLICT DO NOTHING`` makes a duplicate delivery racing the first one
    a no-op instead of an error, whichever transaction commits first. A duplicate committed
    after this transaction's snapshot fails to serialize instead: run again, it is skipped.
    """
    statement = insert_statement(backend_id, company_id, uid, now, rows)
    if not statement:
        return []
    execute_racing(cr, *statement)
    return sorted(cr.fetchall())


def insert_statement(backend_id, company_id, uid, now, rows):
    """(query, parameters) of :func:`insert_events`, None without rows: also run alone,
    as a transaction of its own, by the fast intake's direct accept."""
    values = []
    for row in rows:
        object_type, action = split_type(row["event_type"])
        values.append(
            (
                backend_id,
                company_id,
                row["event_uid"],
                row["event_type"],
                object_type,
                action,
                row.get("external_id"),
                row.get("occurred_at") or now,
                row["source"],
                row["payload"],
                "pending",
                uuid.uuid4().hex,
                0,
                uid,
                now,
                uid,
                now,
            )
        )
    if not values:
        return None
    placeholders = ",".join(["%s"] * len(values))
    return (
        f"""INSERT INTO psa_event ({", ".join(EVENT_COLUMNS)}) VALUES {placeholders}
            ON CONFLICT (backend_id, event_uid) DO NOTHING
            RETURNING id, event_uid, correlation_id""",
        values,
    )


def read_canonical(headers, raw_body, secret, tolerance, now):
    """Verify and read a canonical webhook: ``(refusal, None)`` or ``(None, envelope)``.

    The refusal is ``(kind, detail)``: ``stale_timestamp``, ``bad_signature`` (answered
    401), ``malformed`` or ``invalid`` (a signed but unusable body: kept in the exception
    queue, answered 400). In this order, the one place of it: for the model's accept
    (``psa.event._accept_canonical_webhook``) and the fast intake's direct accept.
    """
    timestamp = headers.get("X-PSA-Timestamp", "")
    if not is_fresh(timestamp, now, tolerance):
        return ("stale_timestamp", None), None
    if not is_valid_signature(secret, timestamp, raw_body, headers.get("X-PSA-Signature", "")):
        return ("bad_signature", None), None
    try:
        envelope = json.loads(raw_body)
    except (UnicodeDecodeError, ValueError) as err:
        return ("malformed", f"malformed JSON: {err}"), None
    except RecursionError:
        return ("malformed", "malformed JSON: nested too deeply"), None
    problems = envelope_problems(envelope)
    if problems:
        return ("invalid", "; ".join(problems[:5])), None
    return None, envelope
