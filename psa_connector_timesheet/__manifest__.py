{
    "name": "PSA Connector Timesheets",
    "summary": "Approved PSA time into Odoo timesheets, exactly once, and reconciled",
    "version": "18.0.0.1.0",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Pre-Alpha",
    "depends": ["psa_connector_base", "hr_timesheet"],
    "data": [],
    "installable": True,
}
