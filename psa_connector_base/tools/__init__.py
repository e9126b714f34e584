from . import codec, crypto, errors, event_store, jobs, schema, signature, versions, webhook_intake
