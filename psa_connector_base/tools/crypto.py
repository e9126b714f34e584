"""Secrets at rest.

The key never lives in the database: it comes from ``psa_connector_key`` in the
Odoo configuration file or from the ``PSA_CONNECTOR_KEY`` environment variable, so a
database dump alone reveals no API token or signing secret. Several comma-separated
Fernet keys may be given to rotate keys: the first encrypts, all decrypt. To retire an
old key: put the new key first (``new,old``), run *Rotate encryption key* on the backends
(every stored secret is re-encrypted with the first key, see :func:`rotate`), then drop
the old key from the list.
"""

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from odoo import _
from odoo.exceptions import UserError
from odoo.tools import config

CIPHERTEXT_PREFIX = "fernet:"


class SecretKeyMissing(UserError):
    pass


def _cipher():
    raw_keys = config.get("psa_connector_key") or os.environ.get("PSA_CONNECTOR_KEY")
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
    try:
        return _cipher().decrypt(stored[len(CIPHERTEXT_PREFIX) :].encode()).decode()
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
