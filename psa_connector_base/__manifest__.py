{
    "name": "PSA Connector Base",
    "summary": "Backends, bindings, signed webhooks, queued sync, exception queue and "
    "audit log for PSA, HR and forecasting integrations",
    "version": "18.0.1.5.1",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Alpha",
    "depends": ["mail", "project", "queue_job"],
    "external_dependencies": {
        "python": ["requests", "cryptography", "rapidfuzz", "prometheus_client"]
    },
    "data": [
        "security/psa_connector_security.xml",
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "data/psa_four_eyes_data.xml",
        "data/psa_alert_data.xml",
        "views/psa_exception_views.xml",
        "views/psa_exception_group_views.xml",
        "views/psa_event_views.xml",
        "views/psa_audit_log_views.xml",
        "views/psa_binding_views.xml",
        "views/psa_entity_mapping_views.xml",
        "views/psa_backend_views.xml",
        "views/psa_backend_setup_wizard_views.xml",
        "views/psa_dashboard_views.xml",
        "views/psa_menus.xml",
        "views/psa_four_eyes_rule_views.xml",
        "views/psa_alert_rule_views.xml",
        "views/psa_metrics_views.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "psa_connector_base/static/src/scss/psa_dashboard.scss",
        ],
        "web.assets_tests": [
            "psa_connector_base/static/tests/tours/*.js",
        ],
    },
    "post_load": "post_load",
    "post_init_hook": "post_init_hook",
    "installable": True,
    "application": True,
}
