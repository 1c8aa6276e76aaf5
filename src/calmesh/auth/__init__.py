"""Credentials: the envelope-encryption vault, key-encryption-key providers and API-key hashing.

OAuth flows join this package with the first OAuth provider.
"""

from calmesh.auth.keys import (
    KeyEncryptionKey,
    KeyFileProvider,
    KeyProvider,
    LocalKey,
    PerTenantKeyProvider,
    StaticKeyProvider,
)
from calmesh.auth.vault import Credentials, SealedSecret, SecretContext, Vault

__all__ = [
    "Credentials",
    "KeyEncryptionKey",
    "KeyFileProvider",
    "KeyProvider",
    "LocalKey",
    "PerTenantKeyProvider",
    "SealedSecret",
    "SecretContext",
    "StaticKeyProvider",
    "Vault",
]
