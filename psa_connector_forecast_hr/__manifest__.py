# Glue between the forecast and HR sync, as Odoo's own project_hr_expense: a leaver
# archived by the HR connector releases the planned work after their last day. Neither
# side needs the other for anything else.
{
    "name": "PSA Connector Forecast HR",
    "summary": "A leaver's allocations end with them; billability from the HR system",
    "version": "18.0.1.1.0",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Alpha",
    "depends": [
        # Allocations (psa.allocation).
        "psa_connector_forecast",
        # Leavers: hr.employee._psa_terminate and its _psa_end_future_allocations hook;
        # the billable flag (hr.employee.psa_billable).
        "psa_connector_hr",
    ],
    "external_dependencies": {"python": []},
    "data": [],
    "uninstall_hook": "uninstall_hook",
    "auto_install": True,
    "installable": True,
}
