{
    "name": "PSA Connector Billing",
    "summary": "PSA contracts, milestones, retainers and expenses into sales and invoices",
    "version": "18.0.0.1.0",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Pre-Alpha",
    "depends": ["psa_connector_base", "psa_connector_timesheet", "sale_timesheet", "hr_expense"],
    "data": [],
    "installable": True,
}
