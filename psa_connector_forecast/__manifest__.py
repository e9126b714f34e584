{
    "name": "PSA Connector Forecast",
    "summary": "Allocations in, actuals out, utilisation and forecast variance",
    "version": "18.0.0.1.0",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Pre-Alpha",
    "depends": ["psa_connector_base", "psa_connector_timesheet", "psa_connector_hr"],
    "data": [],
    "installable": True,
}
