from . import codec, crypto, errors, schema, signature, versions
