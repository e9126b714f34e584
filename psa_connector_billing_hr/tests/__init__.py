from . import test_dated_labour_cost
