"""Stream credentials encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256, with the key from
settings ``ASSETS_HEALTH_CREDENTIALS_KEY``). Plain passwords exist only in memory, for the
moment a check connects; they are never returned, logged or stored.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from shared.errors import ServiceUnavailable


class CredentialsKeyMissing(ServiceUnavailable):
    """No (valid) key in settings: credentials cannot be stored or read (503)."""

    title, slug = "Credentials key not set", "credentials-key-missing"


def _fernet(key: str) -> Fernet:
    if not key:
        raise CredentialsKeyMissing(
            "Stream credentials cannot be stored: the service has no ASSETS_HEALTH_CREDENTIALS_KEY"
        )
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        raise CredentialsKeyMissing(
            "ASSETS_HEALTH_CREDENTIALS_KEY is not a Fernet key (32 url-safe base64 bytes)"
        ) from None


def encrypt_secret(key: str, plain: str) -> str:
    """A Fernet token (ASCII) of ``plain`` under ``key``."""
    return _fernet(key).encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt_secret(key: str, token: str) -> str:
    """The plain text of a token made by ``encrypt_secret`` with the same key."""
    try:
        return _fernet(key).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise CredentialsKeyMissing(
            "A stored stream password cannot be read with the current key (was it rotated?)"
        ) from None


def new_key() -> str:
    """A fresh Fernet key (for set-up and tests)."""
    return Fernet.generate_key().decode("ascii")
