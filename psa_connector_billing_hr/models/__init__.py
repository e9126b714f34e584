from . import psa_project_financial
