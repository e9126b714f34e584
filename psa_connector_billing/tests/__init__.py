from . import (
    test_anomaly,
    test_billing,
    test_catalogue_tax,
    test_month_close,
    test_project_financials,
    test_readiness,
)
