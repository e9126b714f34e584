from . import psa_exception_ignore_wizard
