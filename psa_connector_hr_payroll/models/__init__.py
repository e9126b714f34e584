from . import (
    account_analytic_line,
    psa_adapter,
    psa_backend,
    psa_importer_time_entry,
    psa_payroll_batch,
    psa_payroll_batch_line,
    psa_payroll_check,
    psa_payroll_entry,
    psa_payroll_period,
)
