from . import test_dashboard, test_time_entries
