from . import psa_anomaly, psa_project_financial
