from . import metrics, openapi, webhook
