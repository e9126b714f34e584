# Lead to cash, the lead end: an opportunity won in Odoo's CRM (or a deal won in a CRM
# backend such as HubSpot) becomes an engagement on the PSA, bound to the customer,
# project and contract that land in Odoo. A glue addon: it installs itself when both
# billing and Odoo's CRM are installed, so billing does not need the CRM app.
{
    "name": "PSA Connector CRM",
    "summary": "Won opportunities become PSA engagements; CRM deals come in as opportunities",
    "version": "18.0.1.1.0",
    "category": "Services/Project",
    "license": "AGPL-3",
    "author": "PSA Connector Contributors",
    "website": "https://github.com/psa-connector/psa-connector",
    "maintainers": [],
    "development_status": "Alpha",
    "depends": [
        # Contracts, rate cards and the customer/project/contract imports it binds to.
        "psa_connector_billing",
        # Odoo's own opportunities (crm.lead) and their won stage.
        "crm",
    ],
    "external_dependencies": {"python": []},
    "data": [
        "security/psa_connector_crm_security.xml",
        "security/ir.model.access.csv",
        "views/psa_engagement_template_views.xml",
        "views/crm_lead_views.xml",
        "views/psa_backend_crm_source_views.xml",
    ],
    "auto_install": True,
    "installable": True,
}
