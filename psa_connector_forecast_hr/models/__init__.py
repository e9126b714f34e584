from . import hr_employee, psa_capacity_day, psa_forecast_push, psa_utilisation_report
