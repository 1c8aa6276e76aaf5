"""A connection's secrets in and out of the vault, inside the caller's unit of work.

These functions do not commit: storing a credential belongs to the same transaction as creating
or re-authenticating the connection it serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from calmesh.auth.vault import Credentials, SealedSecret, SecretContext
from calmesh.errors import NotFound
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models

__all__ = ["delete_credentials", "load_credentials", "store_credentials"]


def _sealed(row: models.Credential) -> SealedSecret:
    return SealedSecret(row.kek_id, row.wrapped_key, row.nonce, row.ciphertext)


async def store_credentials(
    uow: UnitOfWork, tenant_id: str, connection_id: str, secrets: Mapping[str, str]
) -> None:
    """Seal ``secrets`` for the connection, replacing what it had."""
    sealed = uow.runtime.vault.seal(
        Credentials(secrets).to_bytes(), SecretContext(tenant_id, connection_id)
    )
    row = await uow.session.get(models.Credential, connection_id)
    if row is None:
        row = models.Credential(connection_id=connection_id, tenant_id=tenant_id)
        uow.session.add(row)
    row.kek_id, row.wrapped_key = sealed.kek_id, sealed.wrapped_key
    row.nonce, row.ciphertext = sealed.nonce, sealed.ciphertext
    row.created_at = datetime.now(timezone.utc)
    row.rewrapped_at = None


async def load_credentials(uow: UnitOfWork, tenant_id: str, connection_id: str) -> Credentials:
    row = await uow.session.get(models.Credential, connection_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("this connection has no stored credentials")
    plaintext = uow.runtime.vault.open(_sealed(row), SecretContext(tenant_id, connection_id))
    return Credentials.from_bytes(plaintext)


async def delete_credentials(uow: UnitOfWork, tenant_id: str, connection_id: str) -> None:
    row = await uow.session.get(models.Credential, connection_id)
    if row is not None and row.tenant_id == tenant_id:
        await uow.session.delete(row)
