# Glue between billing and HR sync, as Odoo's own project_hr_expense or project_purchase:
# billing prices labour at Odoo's timesheet cost and needs no HR connector; with the HR
# connector installed too, this prices it at the hourly cost in force on the day of the
# work (psa.employee.cost.history), so a later raise does not reprice past margins.
{
    "name": "PSA Connector Billing HR",
    "summary": "Project margins at the hourly cost in force on the day of the work",
    "version": "18.0.1.2.0",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Alpha",
    "depends": [
        # The project financials whose labour cost this refines.
        "psa_connector_billing",
        # The dated cost rates (psa.employee.cost.history).
        "psa_connector_hr",
    ],
    "external_dependencies": {"python": []},
    "data": [],
    "uninstall_hook": "uninstall_hook",
    "auto_install": True,
    "installable": True,
}
