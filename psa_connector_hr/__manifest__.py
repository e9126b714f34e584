{
    "name": "PSA Connector HR",
    "summary": "Employees, departments, managers, cost rates and leave from the HR system",
    "version": "18.0.0.1.0",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Pre-Alpha",
    "depends": ["psa_connector_base", "hr", "hr_holidays", "hr_hourly_cost"],
    "data": [],
    "installable": True,
}
