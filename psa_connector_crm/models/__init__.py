from . import psa_backend_crm_source, psa_importer_deal
