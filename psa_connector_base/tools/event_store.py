"""How an inbound event becomes a ``psa_event`` row, shared by the ORM and the fast intake.

Both the model (:meth:`psa.event._insert_if_new`) and the webhook fast intake
(``tools/webhook_intake.py``, which runs before Odoo builds a request environment) insert
through :func:`insert_events`, so an event stored by either path is the same row.
"""

import uuid

from .jobs import execute_racing
from .schema import load_schema, validate
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
        return []
    placeholders = ",".join(["%s"] * len(values))
    execute_racing(
        cr,
        f"""INSERT INTO psa_event ({", ".join(EVENT_COLUMNS)}) VALUES {placeholders}
            ON CONFLICT (backend_id, event_uid) DO NOTHING
            RETURNING id, event_uid, correlation_id""",
        values,
    )
    return sorted(cr.fetchall())
