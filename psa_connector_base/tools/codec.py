def decode_raw_body(raw_body):
    """Text as close to the bytes received as PostgreSQL can store.

    Invalid UTF-8 becomes U+FFFD and NUL (which a text column refuses) its JSON escape,
    so even a hostile body is kept for a person to look at.
    """
    return raw_body.decode("utf-8", errors="replace").replace("\x00", "\\u0000")
