"""HMAC signatures of inbound webhooks (the public contract of /psa/webhook)."""

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def sign(secret, timestamp, raw_body):
    digest = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256
    ).hexdigest()
    return SIGNATURE_PREFIX + digest


def is_valid_signature(secret, timestamp, raw_body, signature_header):
    if not (secret and timestamp and signature_header):
        return False
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a hostile header may
    # carry any character; that must be a 401, never an error.
    expected = sign(secret, timestamp, raw_body).encode()
    return hmac.compare_digest(expected, signature_header.strip().encode("utf-8", "replace"))


def is_fresh(timestamp, now, tolerance_seconds):
    try:
        return abs(now - int(timestamp)) <= tolerance_seconds
    except (TypeError, ValueError):
        return False
