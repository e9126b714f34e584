from . import test_anomaly_leave, test_dated_labour_cost, test_hr_attributes
