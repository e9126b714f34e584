from . import psa_idempotency_record_mixin  # isort: skip (the records inherit it)
from . import psa_sql_report_mixin  # isort: skip (the reports inherit it)
from . import (
    account_cutoff,
    account_move,
    account_move_line,
    account_partial_reconcile,
    hr_expense,
    project_project,
    psa_adapter,
    psa_anomaly,
    psa_backend,
    psa_backend_dashboard,
    psa_billing_event_record,
    psa_binding,
    psa_exception,
    psa_importer,
    psa_importer_billing_event,
    psa_importer_contract,
    psa_importer_expense,
    psa_importer_project,
    psa_importer_purchase,
    psa_importer_time_entry,
    psa_importer_vendor_bill,
    psa_money_reconciliation,
    psa_money_reconciliation_line,
    psa_month_close,
    psa_service_mapping,
    psa_tax_mapping,
    psa_vendor_bill_record,
    purchase_order,
    res_company,
    res_config_settings,
    sale_order,
    sale_order_line,
)

# isort: split
# Last: its database view reads the columns the models above add.
from . import (
    psa_account_health,
    psa_project_financial,
    psa_project_financial_consolidated,
    psa_project_financial_snapshot,
    psa_service_revenue,
)
