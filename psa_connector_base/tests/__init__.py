from . import (
    test_backend_secrets,
    test_cockpit,
    test_exception_queue,
    test_importers,
    test_intake_guard,
    test_job_runner,
    test_openapi,
    test_outbound_safety,
    test_secret_handling,
    test_ui_tours,
    test_webhook,
)
