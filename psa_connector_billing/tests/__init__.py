from . import test_billing, test_project_financials
