from . import psa_utilisation_compute_wizard
