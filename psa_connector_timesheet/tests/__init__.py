from . import test_time_entries
