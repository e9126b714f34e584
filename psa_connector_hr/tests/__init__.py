from . import test_employee_sync, test_leave_sync, test_payroll, test_sensitive_data
