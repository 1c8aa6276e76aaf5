"""Credentials: the envelope-encryption vault, key-encryption-key providers and API-key hashing.

OAuth flows join this package with the first OAuth provider.
"""

__all__: list[str] = []
