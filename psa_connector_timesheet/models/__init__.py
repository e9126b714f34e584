from . import (
    account_analytic_line,
    account_move,
    hr_employee,
    psa_adapter,
    psa_backend,
    psa_exception,
    psa_importer_project,
    psa_importer_time_entry,
    psa_timesheet_reconciliation,
    psa_timesheet_reconciliation_line,
)
