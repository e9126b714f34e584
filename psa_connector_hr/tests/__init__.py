from . import (
    test_employee_suggestions,
    test_employee_sync,
    test_hr_attributes,
    test_leave_sync,
    test_sensitive_data,
)
