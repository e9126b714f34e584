# Payroll inputs are glue between HR sync and the data payroll pays: approved time
# (timesheet lines of psa_connector_timesheet) and reimbursable expenses (hr_expense),
# approved by HR officers or accounting managers (account). Odoo's own pattern for such
# a bridge (project_hr_expense, project_purchase): a small addon that installs itself
# when its sides are there, so psa_connector_hr alone needs neither accounting,
# expenses nor timesheets.
{
    "name": "PSA Connector HR Payroll",
    "summary": "Payroll inputs: approved hours and reimbursable expenses per period, "
    "checked, approved and sent to payroll or exported as CSV/XLSX",
    "version": "18.0.1.0.1",
    "category": "Human Resources",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Alpha",
    "depends": [
        # Employees with their payroll ID, from the HR system.
        "psa_connector_hr",
        # Approved hours: the timesheet lines of approved PSA time entries.
        "psa_connector_timesheet",
        # Reimbursable expenses paid by the employee.
        "hr_expense",
        # Accounting managers approve payroll batches and read payroll rows.
        "account",
    ],
    # XLSX export of a batch (tools/spreadsheet.py).
    "external_dependencies": {"python": ["xlsxwriter"]},
    "data": [
        "security/ir.model.access.csv",
        "security/psa_connector_hr_payroll_security.xml",
        "data/ir_cron_data.xml",
        "views/psa_payroll_views.xml",
        "views/psa_connector_hr_payroll_menus.xml",
    ],
    "auto_install": True,
    "installable": True,
}
