from . import (
    codec,
    crypto,
    errors,
    event_store,
    job_runner,
    jobs,
    schema,
    signature,
    versions,
    webhook_intake,
)
