from . import test_engagement
