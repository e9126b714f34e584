from . import (
    psa_backend_setup_wizard,
    psa_exception_ignore_wizard,
    psa_exception_map_suggestion,
    psa_exception_map_wizard,
)
