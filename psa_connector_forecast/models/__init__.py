from . import (
    account_analytic_line,
    hr_employee,
    psa_adapter,
    psa_allocation,
    psa_backend,
    psa_capacity_day,
    psa_exception,
    psa_forecast_push,
    psa_importer_allocation,
    psa_utilisation_report,
)
