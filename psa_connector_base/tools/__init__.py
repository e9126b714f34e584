from . import codec, crypto, errors, jobs, schema, signature, versions
