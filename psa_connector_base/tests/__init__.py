from . import (
    test_audit_chain,
    test_backend_secrets,
    test_cockpit,
    test_exception_queue,
    test_four_eyes,
    test_importers,
    test_job_runner,
    test_openapi,
    test_ui_tours,
    test_webhook,
)
