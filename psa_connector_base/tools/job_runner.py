"""How soon the queue_job runner notices a job whose worker died.

queue_job requeues a job that a killed worker left 'started' (its lock went with the
worker) on the runner's next loop; between queue_job notifications the runner sleeps
``SELECT_TIMEOUT``, 60 s. Nothing notifies it of a death, and a killed time-entry chunk
holds its channel (capacity 1) meanwhile: in ``make harness`` three kills of the same
chunk cost 60 s each. Waking every ``psa_connector_job_runner_poll`` seconds (10 by
default; 0 keeps queue_job's 60) costs the runner one requeue query per database then.

Installed by the module's ``post_load`` hook, in the process that forks the runner when
the connector is a server-wide module or its database is preloaded (``db_name``).
"""

import logging

from odoo.tools import config

_logger = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 10.0


def poll_seconds():
    raw = config.get("psa_connector_job_runner_poll", DEFAULT_POLL_SECONDS)
    try:
        return max(float(raw), 0.0)
    except (TypeError, ValueError):
        _logger.warning(
            "psa_connector_job_runner_poll = %r is not a number of seconds; using %s",
            raw,
            DEFAULT_POLL_SECONDS,
        )
        return DEFAULT_POLL_SECONDS


def install():
    """Shorten the runner's idle wait; never lengthen it."""
    from odoo.addons.queue_job.jobrunner import runner

    seconds = poll_seconds()
    if seconds and seconds < runner.SELECT_TIMEOUT:
        runner.SELECT_TIMEOUT = seconds
