"""A job that fails unexpectedly still leaves an exception record.

queue_job rolls a failing job's transaction back, so what the job wrote is gone; the
exception record is written through a cursor of its own, then the error goes on to
queue_job, which marks the job failed. Retryable and concurrency errors are queue_job's
to retry, and sync errors the caller's to record: they pass through untouched.
"""

import logging
import traceback
from contextlib import contextmanager

from psycopg2 import IntegrityError, OperationalError
from psycopg2.errorcodes import (
    DEADLOCK_DETECTED,
    LOCK_NOT_AVAILABLE,
    SERIALIZATION_FAILURE,
    UNIQUE_VIOLATION,
)

from odoo import api

from odoo.addons.queue_job.exception import RetryableJobError

from .errors import SyncError

_logger = logging.getLogger(__name__)

CONCURRENCY_CODES = {SERIALIZATION_FAILURE, DEADLOCK_DETECTED, LOCK_NOT_AVAILABLE}


def is_concurrency_error(error):
    return isinstance(error, OperationalError) and error.pgcode in CONCURRENCY_CODES


def execute_racing(cr, query, params=None):
    """Run a statement that may lose a race to another transaction, as expected.

    Odoo's transactions are REPEATABLE READ: an ``INSERT … ON CONFLICT`` or a row lock
    that meets a row committed after this transaction's snapshot fails to serialize.
    Every caller is run again when that happens (queue_job, Odoo's ``retrying``, the
    webhook fast intake's loop), so that failure is not an ERROR line in the log (the
    demo check refuses any); any other failure of the statement still is.
    """
    try:
        cr.execute(query, params, log_exceptions=False)
    except Exception as err:
        if not is_concurrency_error(err):
            _logger.error("Statement failed: %s", err)
        raise


def is_lost_race(error):
    """A unique key another transaction committed after this one's snapshot was taken.

    Odoo's transactions are REPEATABLE READ: a job that waited on the per-object advisory
    lock still reads the snapshot from before the lock, so it may not see the binding the
    job it waited for has just committed, and insert it again. Run again, it sees it.
    """
    return isinstance(error, IntegrityError) and error.pgcode == UNIQUE_VIOLATION


@contextmanager
def failure_recorded(backend, what, object_type=None, external_id=None, payload=None):
    try:
        yield
    except (RetryableJobError, SyncError):
        # Retries are queue_job's; sync errors (remote failures included) are handled by
        # the caller, which records them as exceptions of their own category.
        raise
    except Exception as err:
        if is_concurrency_error(err):
            raise
        _logger.exception("Connector job failed: %s", what)
        try:
            with backend.env.registry.cursor() as cr:
                # As the job's user (its integration user: create_uid says who failed),
                # with sudo: the failure must be recorded whoever the job runs as, in a
                # cursor of its own that the job's rollback does not undo; an append-only
                # row of fixed fields, none of which names a model or a record to write.
                env = api.Environment(cr, backend.env.uid, {}, su=True)
                env["psa.exception"].create(
                    {
                        "name": f"The {what} failed unexpectedly: {err}",
                        "category": "job_failure",
                        "backend_id": backend.id,
                        "object_type": object_type,
                        "external_id": external_id,
                        "payload": payload,
                        "technical_detail": traceback.format_exc(),
                    }
                )
        except Exception:
            _logger.exception("Could not record the failure of %s", what)
        raise
