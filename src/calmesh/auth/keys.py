"""Key-encryption keys (KEKs) and the providers that hold them.

The vault never sees a KEK's bytes: it asks a :class:`KeyProvider` for the tenant's current
:class:`KeyEncryptionKey` to wrap a data key, and for a key by id to unwrap one. That seam is where
a per-tenant customer-managed key (BYOK, a cloud KMS) plugs in: :class:`PerTenantKeyProvider`
routes chosen tenants to their own provider, whose keys may live anywhere.

Providers shipped here:

* :class:`KeyFileProvider` (the default): a keyring file, created on first run with 0600
  permissions, holding the current key and any not yet retired. It notices when ``calmesh keys
  rotate`` rewrites the file, so a running server keeps serving through a rotation.
* :class:`StaticKeyProvider`: keys given by the operator, e.g. ``CALMESH_MASTER_KEY`` (current)
  and ``CALMESH_PREVIOUS_MASTER_KEYS`` (still readable).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from calmesh.errors import ConfigurationError, DecryptionFailed, UnknownKeyEncryptionKey

__all__ = [
    "KeyEncryptionKey",
    "KeyFileProvider",
    "KeyProvider",
    "LocalKey",
    "PerTenantKeyProvider",
    "StaticKeyProvider",
    "generate_key",
    "parse_key",
]

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce
_WRAP_LABEL = b"calmesh/kek-wrap/v1\x00"


class KeyEncryptionKey(Protocol):
    """A key that wraps and unwraps data keys. ``context`` is bound in as associated data."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, data_key: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...


class KeyProvider(Protocol):
    """Where the vault gets key-encryption keys. ``tenant_id`` lets a provider pick per tenant."""

    def current_key(self, tenant_id: str) -> KeyEncryptionKey: ...

    def key(self, key_id: str, tenant_id: str) -> KeyEncryptionKey:
        """The key with that id; raises :class:`UnknownKeyEncryptionKey` if not held."""
        ...


def generate_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def parse_key(text: str) -> bytes:
    """A key from its base64 text (standard or URL-safe alphabet)."""
    try:
        raw = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_") + "==")
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError("a master key must be base64 text") from exc
    if len(raw) != KEY_BYTES:
        raise ConfigurationError(f"a master key must be {KEY_BYTES} bytes of base64, got {len(raw)} bytes")
    return raw


def _encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


class LocalKey:
    """A 256-bit key held in this process; wraps with AES-256-GCM (nonce ‖ ciphertext ‖ tag)."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigurationError(f"a key-encryption key must be {KEY_BYTES} bytes")
        # The id is derived from the key so that the same key configured anywhere has the same
        # id; a hash of a random 256-bit key says nothing about the key.
        self.key_id = "local-" + hashlib.sha256(b"calmesh/kek-id\x00" + key).hexdigest()[:20]
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return f"LocalKey(key_id={self.key_id!r})"

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, _WRAP_LABEL + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_LABEL + context)
        except (InvalidTag, ValueError) as exc:
            raise DecryptionFailed() from exc


class StaticKeyProvider:
    """A fixed list of keys: the first is current, the rest can still unwrap."""

    def __init__(self, keys: Iterable[bytes]) -> None:
        self._keys = [LocalKey(k) for k in keys]
        if not self._keys:
            raise ConfigurationError("at least one key-encryption key is needed")
        self._by_id = {k.key_id: k for k in self._keys}

    @classmethod
    def from_text(cls, current: str, previous: str | None = None) -> StaticKeyProvider:
        """From ``CALMESH_MASTER_KEY`` and the comma-separated ``CALMESH_PREVIOUS_MASTER_KEYS``."""
        older = [p for p in (previous or "").split(",") if p.strip()]
        return cls([parse_key(current), *(parse_key(p) for p in older)])

    def current_key(self, tenant_id: str) -> KeyEncryptionKey:
        return self._keys[0]

    def key(self, key_id: str, tenant_id: str) -> KeyEncryptionKey:
        try:
            return self._by_id[key_id]
        except KeyError:
            raise UnknownKeyEncryptionKey() from None

    @property
    def retired_key_ids(self) -> frozenset[str]:
        return frozenset(k.key_id for k in self._keys[1:])


class KeyFileProvider:
    """A keyring file ``{"version": 1, "current": id, "keys": {id: base64}}``, mode 0600.

    The file is read again whenever its modification time changes, so a server picks up a key
    that ``calmesh keys rotate`` added (and stops using one it retired) without a restart.
    """

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self._mtime_ns: int | None = None
        self._current: LocalKey | None = None
        self._by_id: dict[str, LocalKey] = {}
        self._raw_keys: dict[str, bytes] = {}
        if not path.exists():
            if not create:
                raise ConfigurationError(f"key file {path} does not exist")
            key = generate_key()
            self._write({LocalKey(key).key_id: key}, LocalKey(key).key_id, exclusive=True)
        self._reload_if_changed()

    # --- reading ---------------------------------------------------------------------------

    def _reload_if_changed(self) -> None:
        try:
            info = self.path.stat()
        except FileNotFoundError as exc:
            raise ConfigurationError(f"key file {self.path} has disappeared") from exc
        if info.st_mtime_ns == self._mtime_ns:
            return
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"key file {self.path} is readable by others: run 'chmod 600 {self.path}'"
            )
        try:
            document = json.loads(self.path.read_text("utf-8"))
            keys = {key_id: parse_key(text) for key_id, text in document["keys"].items()}
            current_id = document["current"]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"key file {self.path} is not a calmesh keyring") from exc
        by_id = {kid: LocalKey(raw) for kid, raw in keys.items()}
        if current_id not in by_id or any(k.key_id != kid for kid, k in by_id.items()):
            raise ConfigurationError(f"key file {self.path} is inconsistent")
        self._by_id, self._raw_keys = by_id, keys
        self._current, self._mtime_ns = by_id[current_id], info.st_mtime_ns

    def current_key(self, tenant_id: str) -> KeyEncryptionKey:
        self._reload_if_changed()
        assert self._current is not None
        return self._current

    def key(self, key_id: str, tenant_id: str) -> KeyEncryptionKey:
        self._reload_if_changed()
        try:
            return self._by_id[key_id]
        except KeyError:
            raise UnknownKeyEncryptionKey() from None

    @property
    def key_ids(self) -> frozenset[str]:
        self._reload_if_changed()
        return frozenset(self._by_id)

    # --- rotation --------------------------------------------------------------------------

    def add_current_key(self) -> str:
        """Generate a key, make it current (older keys stay readable); return its id."""
        self._reload_if_changed()
        key = generate_key()
        new = LocalKey(key)
        keys = self._raw_keys | {new.key_id: key}
        self._write(keys, new.key_id)
        return new.key_id

    def retire_keys(self, key_ids: Iterable[str]) -> None:
        """Forget keys (never the current one): anything still wrapped by them is lost."""
        self._reload_if_changed()
        assert self._current is not None
        drop = set(key_ids) - {self._current.key_id}
        keys = {kid: raw for kid, raw in self._raw_keys.items() if kid not in drop}
        self._write(keys, self._current.key_id)

    def _write(self, keys: Mapping[str, bytes], current_id: str, *, exclusive: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"version": 1, "current": current_id, "keys": {k: _encode_key(v) for k, v in keys.items()}}
        # Written beside the target with 0600 from the first byte, then renamed over it, so a
        # reader sees the old keyring or the new one, never half of one.
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            try:
                os.link(temporary, self.path)  # fails if another process created it first
            except FileExistsError:
                pass
            finally:
                os.unlink(temporary)
        else:
            os.replace(temporary, self.path)


class PerTenantKeyProvider:
    """Routes chosen tenants to their own provider (customer-managed keys), others to a default."""

    def __init__(self, default: KeyProvider, per_tenant: Mapping[str, KeyProvider]) -> None:
        self._default = default
        self._per_tenant = dict(per_tenant)

    def _for(self, tenant_id: str) -> KeyProvider:
        return self._per_tenant.get(tenant_id, self._default)

    def current_key(self, tenant_id: str) -> KeyEncryptionKey:
        return self._for(tenant_id).current_key(tenant_id)

    def key(self, key_id: str, tenant_id: str) -> KeyEncryptionKey:
        return self._for(tenant_id).key(key_id, tenant_id)
