"""What can go wrong while applying an external record, as the exception queue sees it.

Each error carries the exception-queue category and a message written for a finance
user; the technical detail is added by whoever records it.
"""


class SyncError(Exception):
    category = "validation"

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details
        # Extra psa.exception values an addon wants recorded (e.g. a waiting e-mail).
        self.exception_values = {}


class PayloadInvalid(SyncError):
    category = "invalid_payload"


class MissingReference(SyncError):
    """The record points to an external object Odoo does not hold yet.

    The event waits; it is retried automatically when a binding for
    (``missing_type``, ``missing_external_id``) appears on the same backend.
    """

    category = "missing_reference"

    def __init__(self, missing_type, missing_external_id, message=None):
        super().__init__(
            message
            or f"Waiting for {missing_type.replace('_', ' ')} {missing_external_id}, "
            "which has not reached Odoo yet. This is retried automatically when it arrives.",
        )
        self.missing_type = missing_type
        self.missing_external_id = missing_external_id


class SyncConflict(SyncError):
    """An inbound change collides with data Odoo owns or has changed locally."""

    category = "conflict"

    def __init__(self, message, incoming=None, current=None):
        super().__init__(message)
        self.incoming = incoming or {}
        self.current = current or {}


class AmbiguousMatch(SyncError):
    category = "ambiguous_match"


class RemoteServiceError(SyncError):
    """The remote system failed (after the adapter's own retries)."""

    category = "remote_error"

    def __init__(self, message, status=None, retryable=True, retry_after=None):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class BreakerOpen(RemoteServiceError):
    """No call made: the backend's circuit breaker is open (the remote system failed
    moments ago, or another job is probing it). ``retry_after``: seconds until a call
    may be tried again. Retried without counting as an attempt (psa.backend._run_remote).
    """

    def __init__(self, message, retry_after):
        super().__init__(message, retryable=True, retry_after=retry_after)


class UnmappedEntity(PayloadInvalid):
    """The payload names a legal entity (business unit) no mapping of the backend routes
    to an Odoo company: nothing is created; map it and retry."""
