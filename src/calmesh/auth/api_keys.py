"""Tenant API keys: generated once, shown once, stored only as a SHA-256 digest.

A key is ``cmk_`` followed by 256 random bits, so a fast hash is enough: there is nothing to
brute-force that a slow password hash would protect.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["API_KEY_PREFIX", "display_prefix", "generate_api_key", "hash_api_key"]

API_KEY_PREFIX = "cmk_"


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    """Enough of a key for a person to tell it from others, not enough to use it."""
    return key[:12]
