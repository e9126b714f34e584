from . import openapi, webhook
