{
    "name": "PSA Connector Forecast",
    "summary": "Allocations in, actuals out, utilisation and forecast variance",
    "version": "18.0.1.1.0",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Alpha",
    "depends": [
        "psa_connector_base",
        # Actuals and utilisation are the imported timesheets.
        "psa_connector_timesheet",
        # Its time-off timesheets must be told apart from work (holiday_id, global_leave_id).
        "project_timesheet_holidays",
    ],
    "external_dependencies": {"python": []},
    "data": [
        "security/psa_connector_forecast_security.xml",
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "views/psa_allocation_views.xml",
        "views/psa_utilisation_report_views.xml",
        "views/psa_capacity_day_views.xml",
        "views/psa_forecast_push_views.xml",
        "views/psa_backend_views.xml",
        "wizards/psa_utilisation_compute_wizard_views.xml",
        "views/psa_connector_forecast_menus.xml",
    ],
    "installable": True,
}
