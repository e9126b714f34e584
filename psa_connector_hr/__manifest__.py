{
    "name": "PSA Connector HR",
    "summary": "Employees, departments, managers, cost rates and leave from the HR system; "
    "payroll inputs",
    "version": "18.0.1.1.0",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Alpha",
    "depends": [
        "psa_connector_base",
        "account",
        "hr",
        "hr_holidays",
        "hr_hourly_cost",
        # Payroll inputs: approved time (timesheet lines) and reimbursable expenses.
        "psa_connector_timesheet",
        "hr_expense",
    ],
    "external_dependencies": {"python": ["xlsxwriter"]},
    "data": [
        "security/psa_connector_hr_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/psa_employee_cost_history_views.xml",
        "views/hr_employee_views.xml",
        "views/psa_pending_link_views.xml",
        "views/psa_payroll_views.xml",
        "views/psa_connector_hr_menus.xml",
    ],
    "installable": True,
}
