from . import test_backend_secrets, test_exception_queue, test_importers, test_openapi, test_webhook
