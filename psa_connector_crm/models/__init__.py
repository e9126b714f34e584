from . import crm_lead, psa_adapter, psa_engagement_template, psa_engagement_template_rate
