"""The credential vault: envelope encryption of connection secrets (PRODUCT.md C3).

Each secret gets a fresh 256-bit data key. The secret is sealed with AES-256-GCM under that data
key; the data key is wrapped by the tenant's current key-encryption key (:mod:`calmesh.auth.keys`).
Both steps bind the :class:`SecretContext` — tenant id and connection id — as associated data, so
a sealed secret copied onto another connection, or another tenant, fails to open instead of
handing one customer's tokens to another.

Rotation re-wraps only the data key (:meth:`Vault.rewrap`): the ciphertext never changes, and no
secret is ever decrypted to rotate a key.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from calmesh.auth.keys import KEY_BYTES, NONCE_BYTES, KeyProvider
from calmesh.errors import DecryptionFailed

__all__ = ["Credentials", "SealedSecret", "SecretContext", "Vault"]

_DATA_LABEL = b"calmesh/secret/v1\x00"


@dataclass(frozen=True, slots=True)
class SecretContext:
    """What a secret belongs to; bound into its encryption."""

    tenant_id: str
    connection_id: str

    def associated_data(self) -> bytes:
        # Length-prefixed, so ("ab", "c") and ("a", "bc") can never collide.
        parts = (self.tenant_id.encode(), self.connection_id.encode())
        return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """A secret at rest: what the ``credentials`` table stores."""

    kek_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"SealedSecret(kek_id={self.kek_id!r}, ciphertext=<{len(self.ciphertext)} bytes>)"


class Credentials(Mapping[str, str]):
    """A connection's secrets (tokens, passwords) that never print themselves.

    ``repr``/``str`` name the fields but never the values, so a credential that slips into a log
    line, a traceback or an error message shows nothing worth stealing.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str] | None = None, /, **more: str) -> None:
        self._values: dict[str, str] = {**(values or {}), **more}

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Credentials({', '.join(f'{k}=<redacted>' for k in sorted(self._values))})"

    __str__ = __repr__

    def to_bytes(self) -> bytes:
        return json.dumps(self._values, sort_keys=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Credentials:
        return cls(json.loads(data))


class Vault:
    """Seals and opens secrets with keys from a :class:`KeyProvider`."""

    def __init__(self, keys: KeyProvider) -> None:
        self.keys = keys

    def seal(self, secret: bytes, context: SecretContext) -> SealedSecret:
        data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        nonce = secrets.token_bytes(NONCE_BYTES)
        aad = context.associated_data()
        ciphertext = AESGCM(data_key).encrypt(nonce, secret, _DATA_LABEL + aad)
        kek = self.keys.current_key(context.tenant_id)
        return SealedSecret(kek.key_id, kek.wrap(data_key, aad), nonce, ciphertext)

    def open(self, sealed: SealedSecret, context: SecretContext) -> bytes:
        """The secret; :class:`DecryptionFailed` if it was altered, moved or the key is wrong."""
        data_key = self._unwrap(sealed, context)
        try:
            return AESGCM(data_key).decrypt(
                sealed.nonce, sealed.ciphertext, _DATA_LABEL + context.associated_data()
            )
        except (InvalidTag, ValueError) as exc:
            raise DecryptionFailed() from exc

    def rewrap(self, sealed: SealedSecret, context: SecretContext) -> SealedSecret:
        """The same secret with its data key wrapped by the tenant's current key."""
        kek = self.keys.current_key(context.tenant_id)
        if sealed.kek_id == kek.key_id:
            return sealed
        data_key = self._unwrap(sealed, context)
        wrapped = kek.wrap(data_key, context.associated_data())
        return SealedSecret(kek.key_id, wrapped, sealed.nonce, sealed.ciphertext)

    def _unwrap(self, sealed: SealedSecret, context: SecretContext) -> bytes:
        kek = self.keys.key(sealed.kek_id, context.tenant_id)
        return kek.unwrap(sealed.wrapped_key, context.associated_data())
