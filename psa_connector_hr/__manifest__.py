{
    "name": "PSA Connector HR",
    "summary": "Employees, departments, managers, cost rates and leave from the HR system",
    "version": "18.0.1.4.1",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Alpha",
    # Only the HR side: payroll inputs (which need timesheets, expenses and accounting)
    # are psa_connector_hr_payroll, installed by itself next to them.
    "depends": [
        "psa_connector_base",
        "hr",
        # Approved leave becomes validated time off.
        "hr_holidays",
        # The employee's hourly cost the HR system sends.
        "hr_hourly_cost",
        # Skills the HR system sends (hr.employee.skill).
        "hr_skills",
    ],
    "external_dependencies": {"python": []},
    "data": [
        "security/psa_connector_hr_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "data/account_analytic_plan_data.xml",
        "views/psa_backend_views.xml",
        "views/psa_leaver_views.xml",
        "views/psa_employee_cost_history_views.xml",
        "views/hr_employee_views.xml",
        "views/psa_pending_link_views.xml",
        "views/psa_connector_hr_menus.xml",
    ],
    "uninstall_hook": "uninstall_hook",
    "installable": True,
}
