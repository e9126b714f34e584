from . import test_billing
