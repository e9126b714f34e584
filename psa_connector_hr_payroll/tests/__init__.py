from . import test_payroll, test_payroll_files_and_access
