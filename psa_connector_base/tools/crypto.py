"""Secrets at rest.

The key never lives in the database: it comes from ``psa_connector_key`` in the
Odoo configuration file or from the ``PSA_CONNECTOR_KEY`` environment variable, so a
database dump alone reveals no API token or signing secret. Several comma-separated
Fernet keys may be given to rotate keys: the first encrypts, all decrypt. To retire an
old key: put the new key first (``new,old``), run *Rotate encryption key* on the backends
(every stored secret is re-encrypted with the first key, see :func:`rotate`), then drop
the old key from the list.
"""

import functools
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from odoo import _
from odoo.exceptions import UserError
from odoo.tools import config

CIPHERTEXT_PREFIX = "fernet:"
# Secrets kept decrypted per process, by ciphertext and keys (see _decrypt).
DECRYPTED_CACHE_SIZE = 128


class SecretKeyMissing(UserError):
    pass


def _raw_keys():
    return config.get("psa_connector_key") or os.environ.get("PSA_CONNECTOR_KEY")


def _cipher(raw_keys=None):
    raw_keys = raw_keys or _raw_keys()
    if not raw_keys:
        raise SecretKeyMissing(
            "No encryption key for connector secrets. Set psa_connector_key in the Odoo "
            "configuration file (or the PSA_CONNECTOR_KEY environment variable) to a key "
            "made by cryptography.fernet.Fernet.generate_key()."
        )
    try:
        return MultiFernet([Fernet(k.strip()) for k in raw_keys.split(",") if k.strip()])
    except ValueError as err:
        raise SecretKeyMissing(f"psa_connector_key is not a valid Fernet key: {err}") from err


def encrypt(clear_text):
    if not clear_text:
        return False
    return CIPHERTEXT_PREFIX + _cipher().encrypt(clear_text.encode()).decode()


def decrypt(stored):
    if not stored:
        return ""
    if not stored.startswith(CIPHERTEXT_PREFIX):
        raise UserError(_("A connector secret is stored in an unknown format; enter it again."))
    return _decrypt(stored, _raw_keys())


@functools.lru_cache(maxsize=DECRYPTED_CACHE_SIZE)
def _decrypt(stored, raw_keys):
    """``stored`` decrypted with ``raw_keys``, kept for the next call with both the same.

    Every webhook needs its backend's signing secret, and a Fernet decryption costs about
    0.2 ms (its HMAC and AES contexts, ``make bench``), a tenth of what accepting a webhook
    may cost. Keyed by the ciphertext and the keys, so a secret changed, rotated or made
    unreadable by a key change is decrypted anew; a failure (raised) is not kept. The key
    that decrypts them is in this process's memory anyway.
    """
    try:
        return _cipher(raw_keys).decrypt(stored[len(CIPHERTEXT_PREFIX) :].encode()).decode()
    except InvalidToken as err:
        raise UserError(
            _(
                "A connector secret cannot be decrypted with the configured psa_connector_key "
                "(was the key changed without keeping the old one?). Enter the secret again."
            )
        ) from err


def rotate(stored):
    """``stored`` re-encrypted with the first configured key (MultiFernet.rotate).

    Raises UserError when no configured key decrypts it. An empty value stays empty.
    """
    if not stored:
        return stored
    if not stored.startswith(CIPHERTEXT_PREFIX):
        raise UserError(_("A connector secret is stored in an unknown format; enter it again."))
    try:
        token = _cipher().rotate(stored[len(CIPHERTEXT_PREFIX) :].encode())
    except InvalidToken as err:
        raise UserError(
            _("A connector secret cannot be decrypted with any configured psa_connector_key.")
        ) from err
    return CIPHERTEXT_PREFIX + token.decode()
