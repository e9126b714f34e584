from . import test_backend_secrets, test_importers, test_webhook
