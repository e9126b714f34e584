from . import (
    account_analytic_line,
    hr_employee,
    project_project,
    psa_anomaly,
    psa_importer_contract,
    psa_importer_time_entry,
    psa_project_financial,
)
