from . import (
    hr_employee,
    hr_employee_public,
    hr_employee_skill,
    hr_leave_type,
    psa_backend,
    psa_binding,
    psa_employee_cost_history,
    psa_importer_department,
    psa_importer_employee,
    psa_importer_leave,
    psa_leaver,
    psa_pending_link,
)
