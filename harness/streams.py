"""Randomised, reproducible event streams and their expected outcome (no Odoo import).

Used by the harness driver (``harness/run.py``) and by the fast tests under ``tests/``:
the same generator, the same oracle.
"""

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

BASE_MOMENT = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)


def stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Stream:
    """Envelopes in delivery order, and what Odoo must hold once they are all applied."""

    envelopes: list = field(default_factory=list)
    # external id -> hours of its timesheet line, or None when no line may exist
    expected: dict = field(default_factory=dict)
    redeliveries: int = 0  # the same event id sent again (answer 200, nothing applied)
    resent: int = 0  # the same version under a new event id (applied once, then skipped)
    stale: int = 0  # delivered after a newer version of the same entry
    # removals (un-approval or deletion) delivered before an approved older version
    overtaken: int = 0

    @property
    def lines_expected(self):
        return sum(1 for hours in self.expected.values() if hours is not None)

    def bodies(self):
        return [json.dumps(envelope, ensure_ascii=False).encode() for envelope in self.envelopes]


def time_entry_stream(
    count,
    seed,
    tag,
    projects,
    employees,
    redeliver=0.2,
    resend=0.1,
    unapprove=0.25,
    delete=0.15,
    date="2026-11-16",
):
    """``count`` time entries, each in 1 to 4 versions, shuffled, with duplicates.

    ``projects``: [(project id, [task ids])]; ``employees``: [(employee id or None, e-mail)].
    A version may un-approve the entry (state ``submitted``) or delete it (tombstone); the
    expected outcome is the newest version's: a line with its hours if approved, else none.
    """
    rng = random.Random(seed)
    stream = Stream()
    ordered = []
    for number in range(count):
        external_id = f"TE-{tag}-{number}"
        project_id, tasks = rng.choice(projects)
        employee_id, email = rng.choice(employees)
        versions = rng.choice((1, 1, 2, 2, 3, 4))
        moment = BASE_MOMENT + timedelta(seconds=number)
        record = {
            "id": external_id,
            "project_id": project_id,
            "task_id": rng.choice(tasks) if tasks else None,
            "employee_id": employee_id,
            "employee_email": email,
            "date": date,
            "billable": rng.random() < 0.8,
            "description": f"Work {number}",
        }
        final = None
        for version in range(1, versions + 1):
            moment += timedelta(minutes=rng.randint(1, 90))
            last = version == versions
            if last and versions > 1 and rng.random() < delete:
                data = {"id": external_id, "version": version, "updated_at": stamp(moment)}
                action = "deleted"
                final = None
            else:
                state = "approved"
                if version < versions or rng.random() < unapprove:
                    state = rng.choice(("approved", "approved", "submitted"))
                hours = rng.randint(1, 40) / 4
                data = {
                    **record,
                    "hours": hours,
                    "state": state,
                    "version": version,
                    "updated_at": stamp(moment),
                }
                action = "created" if version == 1 else "updated"
                final = hours if state == "approved" else None
            ordered.append(
                (
                    external_id,
                    version,
                    {
                        "id": f"evt-{tag}-{number}-{version}",
                        "type": f"time_entry.{action}",
                        "occurred_at": stamp(moment),
                        "data": data,
                    },
                )
            )
        stream.expected[external_id] = final
    deliveries = list(ordered)
    for item in ordered:
        if rng.random() < redeliver:
            deliveries.append(item)
            stream.redeliveries += 1
        if rng.random() < resend:
            external_id, version, envelope = item
            deliveries.append((external_id, version, {**envelope, "id": envelope["id"] + "-again"}))
            stream.resent += 1
    rng.shuffle(deliveries)
    last_version = {}
    for external_id, version, _envelope in ordered:
        last_version[external_id] = max(version, last_version.get(external_id, 0))
    newest, approved_seen, removed_first = {}, set(), set()
    for external_id, version, envelope in deliveries:
        approved = envelope["data"].get("state") == "approved"
        if version < newest.get(external_id, 0):
            stream.stale += 1
            if external_id in removed_first and approved:
                stream.overtaken += 1
                removed_first.discard(external_id)
        elif (
            version == last_version[external_id]
            and stream.expected[external_id] is None
            and external_id not in approved_seen
        ):
            removed_first.add(external_id)
        if approved:
            approved_seen.add(external_id)
        newest[external_id] = max(version, newest.get(external_id, 0))
        stream.envelopes.append(envelope)
    return stream


# Strings that must be stored as text and never interpreted.
HOSTILE_STRINGS = [
    "'; DROP TABLE account_analytic_line; --",
    '" OR 1=1 --',
    "1); DELETE FROM psa_event WHERE (1=1",
    "<script>alert(document.cookie)</script>",
    '<img src=x onerror="alert(1)">',
    "javascript:alert(1)",
    "{{ 7*7 }} ${7*7} <%= 7*7 %>",
    "%s %d %(name)s {0}",
    "Ünïcödé ✓ 日本語 עברית العربية",
    "emoji 👩🏽‍💻🧾 and ZWJ\u200d and RTL\u202eoverride",
    "combining e\u0301 and surrogates-safe \U0001f600",
    "line\nbreak\ttab\rreturn",
    "\ufeffBOM at start",
    "x" * 5000,
]


def billing_stream(seed, tag, change_orders=20, redeliver=0.3, resend=0.3):
    """Billing events on the demo PSA's seed contracts, shuffled, with duplicates.

    Milestones and instalments of K-6502/K-6503, change orders and retainer periods on
    K-6501. Re-sent copies carry a new event id but the same billing event id (the
    idempotency key); a few change orders are billed by two different billing events.
    Whatever arrives, each milestone, change order and period is one order line.
    """
    rng = random.Random(seed)
    events = [
        {"id": f"BE-{tag}-m1", "contract_id": "K-6502", "kind": "milestone.accepted",
         "milestone_id": "M-6002"},
        {"id": f"BE-{tag}-i1", "contract_id": "K-6502", "kind": "instalment.due",
         "milestone_id": "I-6502-2"},
        {"id": f"BE-{tag}-m2", "contract_id": "K-6503", "kind": "milestone.accepted",
         "milestone_id": "M-6001"},
        {"id": f"BE-{tag}-m3", "contract_id": "K-6503", "kind": "milestone.accepted",
         "milestone_id": "M-6003"},
    ]  # fmt: skip
    keys = {"milestone:M-6002", "milestone:I-6502-2", "milestone:M-6001", "milestone:M-6003"}
    for number in range(change_orders):
        amount = rng.randint(10, 200) * 50.0
        events.append(
            {
                "id": f"BE-{tag}-co{number}",
                "contract_id": "K-6501",
                "kind": "change_order.approved",
                "change_order_id": f"CO-{tag}-{number}",
                "amount": amount,
                "description": f"Change order {number} " + HOSTILE_STRINGS[number % 8],
            }
        )
        keys.add(f"change_order:CO-{tag}-{number}")
        if number % 4 == 0:
            # The same change order approved again by a second billing event.
            events.append({**events[-1], "id": f"BE-{tag}-co{number}-bis"})
    for month in range(1, 4):
        events.append(
            {
                "id": f"BE-{tag}-ret{month}",
                "contract_id": "K-6501",
                "kind": "retainer.period",
                "period": f"2026-{month + 9:02d}",
                "amount": 5000.0,
            }
        )
        keys.add(f"retainer:2026-{month + 9:02d}")
    envelopes = []
    for event in events:
        data = {**event, "version": 1, "updated_at": stamp(BASE_MOMENT)}
        envelope = {
            "id": f"evt-{event['id']}",
            "type": "billing_event.created",
            "occurred_at": stamp(BASE_MOMENT),
            "data": data,
        }
        envelopes.append(envelope)
        if rng.random() < redeliver:
            envelopes.append(envelope)
        if rng.random() < resend:
            envelopes.append({**envelope, "id": envelope["id"] + "-again"})
    rng.shuffle(envelopes)
    return envelopes, keys
