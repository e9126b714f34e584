from . import test_actuals_push, test_allocations, test_utilisation
