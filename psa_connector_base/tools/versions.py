"""Ordering of external record versions, to skip updates older than what Odoo holds."""

from datetime import UTC, datetime


def parse_timestamp(value):
    """An ISO 8601 string (``Z`` or offset) as an aware UTC datetime, or None."""
    if not value:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def normalize_timestamp(value):
    """Full-precision, sortable text form (Odoo's Datetime keeps whole seconds only)."""
    moment = parse_timestamp(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else False


def to_odoo_datetime(value):
    moment = parse_timestamp(value)
    return moment.replace(tzinfo=None, microsecond=0) if moment else False


def compare_versions(incoming, stored):
    """-1, 0 or 1 comparing two ``(version, updated_at)`` pairs; None if unknown.

    An integer version wins when both sides have one; otherwise the normalized
    ``updated_at`` decides.
    """
    in_version, in_stamp = incoming
    st_version, st_stamp = stored
    if in_version and st_version:
        return (in_version > st_version) - (in_version < st_version)
    if in_stamp and st_stamp:
        return (in_stamp > st_stamp) - (in_stamp < st_stamp)
    return None
