from . import test_leaver_allocations
