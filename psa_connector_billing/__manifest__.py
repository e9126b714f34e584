{
    "name": "PSA Connector Billing",
    "summary": "PSA contracts, milestones, retainers, expenses and purchases into sales, invoices and bills; project margin, WIP and backlog",
    "version": "18.0.1.2.0",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Alpha",
    "depends": [
        "psa_connector_base",
        "psa_connector_timesheet",
        "sale_timesheet",
        "hr_expense",
        # Re-invoicing expenses to the client's order lives in sale_expense.
        "sale_expense",
        # Subcontractor engagements and project purchases become purchase orders.
        "purchase",
    ],
    "external_dependencies": {"python": []},
    "data": [
        "security/ir.model.access.csv",
        "security/psa_connector_billing_security.xml",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "views/psa_billing_event_record_views.xml",
        "views/sale_order_views.xml",
        "views/psa_backend_views.xml",
        "views/purchase_order_views.xml",
        "views/psa_project_financial_views.xml",
    ],
    "installable": True,
}
