from . import (
    test_backend_secrets,
    test_cockpit,
    test_exception_queue,
    test_importers,
    test_integration_user,
    test_job_runner,
    test_openapi,
    test_ui_tours,
    test_webhook,
)
