from . import test_billability, test_leaver_allocations
