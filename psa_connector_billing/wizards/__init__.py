from . import psa_anomaly_acknowledge_wizard
