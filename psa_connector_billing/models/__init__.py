from . import (
    account_move,
    account_move_line,
    hr_expense,
    psa_backend,
    psa_billing_event_record,
    psa_importer,
    psa_importer_billing_event,
    psa_importer_contract,
    psa_importer_expense,
    sale_order,
    sale_order_line,
)
