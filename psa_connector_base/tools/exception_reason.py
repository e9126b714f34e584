"""The cause of an exception, with the details that differ between occurrences removed.

A sender that keeps failing the same way produces messages that differ only in ids,
numbers, dates or quoted values ("... TE-5001 ...", "... TE-5002 ..."). ``reason_pattern``
replaces those by placeholders, so that the occurrences share one pattern, and
``group_key`` hashes the pattern with the backend, category and object type: the
exceptions with one key form one group in the queue (``psa.exception.group``).

Pure functions (no Odoo import): the table of cases in the tests is the specification.
"""

import hashlib
import re

# Longer patterns are kept whole.
MAX_PATTERN_LENGTH = 500

_CURRENCY = r"(?:EUR|USD|GBP|CHF|JPY|CAD|AUD|NZD|SEK|NOK|DKK|PLN|CZK|HUF|INR|CNY|ZAR|BRL|MXN)"

# Order matters: a pattern runs on what the ones before it left. Quoted strings first
# (their content is data, whatever it looks like), then the shapes that contain digits
# and separators (e-mail, uuid, date, amount, id, hex) before the bare numbers.
_RULES = [
    # 'value', "value", “value”, «value» (one line, up to 200 characters)
    (re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\"|“[^”\n]{0,200}”|«[^»\n]{0,200}»"), "<text>"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b"
        ),
        "<uuid>",
    ),
    # 2026-11-20, 2026-11-20T10:00:00Z, 2026-11-20 10:00:00.123+01:00, 20.11.2026, 20/11/2026
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
            r"|\b\d{1,2}[./]\d{1,2}[./]\d{4}\b"
        ),
        "<date>",
    ),
    (re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b"), "<time>"),
    # EUR 1,234.50 / 1.234,50 € / $12 / 12.5 USD / -3.75
    (
        re.compile(
            rf"(?:(?:\b{_CURRENCY}|[€$£¥])\s?)-?\d[\d,.']*\d(?:\s?(?:{_CURRENCY}\b|[€$£¥]))?"
            rf"|-?\d[\d,.']*\d\s?(?:{_CURRENCY}\b|[€$£¥])"
            r"|(?:[€$£¥])\s?\d"
            r"|-?\b\d+[.,]\d+\b"
        ),
        "<amount>",
    ),
    # P-2001, E-4002, TE-5001, evt_3f9a12, INV/2026/0042
    (re.compile(r"\b[A-Za-z]{1,10}(?:[-_/][A-Za-z0-9]*\d[A-Za-z0-9]*)+\b"), "<id>"),
    (
        re.compile(
            r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"
        ),
        "<hex>",
    ),
    (re.compile(r"\d+"), "<n>"),
    (re.compile(r"\s+"), " "),
]


# An unmapped legal entity (tools/errors.UnmappedEntity, psa.entity.mapping._company_for):
# one cause per entity, whatever the backend's name or the record, so that mapping the
# entity and retrying its group retries exactly the records it held back.
_UNMAPPED_ENTITY = re.compile(r"^Legal entity '([^'\n]{1,64})' is not mapped to an Odoo company")


def reason_pattern(text):
    """``text`` with numbers, ids, uuids, hex, quoted strings, e-mail addresses, dates,
    times and amounts replaced by placeholders (``<n>``, ``<id>``, ``<uuid>``, ``<hex>``,
    ``<text>``, ``<email>``, ``<date>``, ``<time>``, ``<amount>``).

    An unmapped legal entity keeps its code: ``Legal entity 'UK01' is not mapped to an
    Odoo company``, one group per entity."""
    match = _UNMAPPED_ENTITY.match(text or "")
    if match:
        return match.group(0)
    pattern = text or ""
    for regex, placeholder in _RULES:
        pattern = regex.sub(placeholder, pattern)
    pattern = pattern.strip()
    if len(pattern) > MAX_PATTERN_LENGTH:
        pattern = pattern[: MAX_PATTERN_LENGTH - 1] + "…"
    return pattern


def group_key(backend_id, category, object_type, pattern):
    """A short hash of one cause: the same backend, category, object type and pattern."""
    parts = [str(backend_id or ""), category or "", object_type or "", pattern or ""]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
