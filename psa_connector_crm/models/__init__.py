from . import (
    crm_lead,
    psa_adapter,
    psa_backend_crm_source,
    psa_engagement_template,
    psa_engagement_template_rate,
    psa_importer_deal,
)
