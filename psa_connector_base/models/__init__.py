# The guard mixin first: the models below inherit it.
from . import psa_workflow_guard_mixin  # isort: skip

# The adapter base first: each vendor model inherits it.
from . import psa_adapter  # isort: skip
from . import (
    ir_model,
    psa_adapter_bamboohr,
    psa_adapter_canonical,
    psa_adapter_float,
    psa_adapter_harvest,
    psa_adapter_hubspot,
    psa_adapter_productive,
    psa_alert_rule,
    psa_audit_log,
    psa_backend,
    psa_backend_breaker,
    psa_backend_dashboard,
    psa_binding,
    psa_entity_mapping,
    psa_event,
    psa_exception,
    psa_exception_group,
    psa_four_eyes_rule,
    psa_importer,
    psa_importer_contact,
    psa_importer_customer,
    psa_importer_project,
    psa_importer_task,
    psa_metrics,
    psa_ownership_rule,
    psa_state_mapping,
    psa_sync_watermark,
    res_company,
)
