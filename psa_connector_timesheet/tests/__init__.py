from . import test_dashboard, test_job_retention, test_time_entries
