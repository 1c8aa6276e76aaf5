"""Key rotation: re-wrap every stored data key (connection credentials, webhook signing secrets)
under the current key-encryption key.

Safe while servers keep serving: each batch is its own short transaction, a row is re-wrapped
only if nobody changed it meanwhile (its kek_id and wrapped key are part of the UPDATE's WHERE),
and a key file provider only forgets the old keys after a pass finds nothing left under them.
The ciphertexts never change and no secret is decrypted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select, update

from calmesh.auth.keys import KeyFileProvider, StaticKeyProvider
from calmesh.auth.vault import SealedSecret, SecretContext
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models

__all__ = ["RotationReport", "rotate_keys"]

BATCH_SIZE = 200
#: How long to wait before the final check, so a server that sealed a secret with the old key
#: just before it noticed the new one has committed it by then.
SETTLE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class RotationReport:
    new_key_id: str
    rewrapped: int
    retired_key_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _SealedTable:
    """A table of vault-sealed secrets: its rows' key column and what each secret is bound to."""

    model: type[models.Credential] | type[models.WebhookSecret]
    key: Any
    context: Callable[[Any], SecretContext]


#: Every table holding sealed secrets: connection credentials and webhook signing secrets.
SEALED_TABLES = (
    _SealedTable(models.Credential, models.Credential.connection_id, lambda row: SecretContext(row.tenant_id, row.connection_id)),
    _SealedTable(models.WebhookSecret, models.WebhookSecret.id, lambda row: SecretContext(row.tenant_id, row.endpoint_id)),
)


async def _count_not_current(runtime: Runtime, current_id: str) -> int:
    async with UnitOfWork(runtime) as uow:
        total = 0
        for table in SEALED_TABLES:
            total += int(
                await uow.session.scalar(select(func.count()).select_from(table.model).where(table.model.kek_id != current_id)) or 0
            )
        return total


async def _rewrap_batch(runtime: Runtime, table: _SealedTable, current_id: str) -> int:
    model = table.model
    async with UnitOfWork(runtime) as uow:
        rows: Sequence[Any] = (await uow.session.scalars(select(model).where(model.kek_id != current_id).limit(BATCH_SIZE))).all()
        done = 0
        for row in rows:
            old = SealedSecret(row.kek_id, row.wrapped_key, row.nonce, row.ciphertext)
            new = runtime.vault.rewrap(old, table.context(row))
            values: dict[str, Any] = {"kek_id": new.kek_id, "wrapped_key": new.wrapped_key}
            if model is models.Credential:
                values["rewrapped_at"] = datetime.now(timezone.utc)
            result = await uow.session.execute(
                update(model)
                .where(table.key == getattr(row, table.key.key), model.kek_id == old.kek_id, model.wrapped_key == old.wrapped_key)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            done += result.rowcount  # type: ignore[attr-defined]
        await uow.commit()
        return done


async def rotate_keys(
    runtime: Runtime, *, on_progress: Callable[[int, int], None] | None = None
) -> RotationReport:
    """Make a new key current (key file) or use the configured one, and re-wrap everything.

    ``on_progress(done, total)`` is called after every batch.
    """
    keys = runtime.vault.keys
    if isinstance(keys, KeyFileProvider):
        current_id = keys.add_current_key()
    elif isinstance(keys, StaticKeyProvider):
        # With keys from the environment the operator has already made the new key current
        # (CALMESH_MASTER_KEY) and listed the old ones in CALMESH_PREVIOUS_MASTER_KEYS.
        current_id = keys.current_key("").key_id
    else:  # a per-tenant provider rotates each tenant's key at its own source
        raise NotImplementedError("rotate customer-managed keys at their key provider")

    total = await _count_not_current(runtime, current_id)
    done = 0
    while True:
        batch = 0
        for table in SEALED_TABLES:
            batch += await _rewrap_batch(runtime, table, current_id)
        done += batch
        if on_progress:
            on_progress(done, max(total, done))
        if batch == 0:
            await asyncio.sleep(SETTLE_SECONDS)
            if await _count_not_current(runtime, current_id) == 0:
                break

    retired: tuple[str, ...] = ()
    if isinstance(keys, KeyFileProvider):
        retired = tuple(sorted(keys.key_ids - {current_id}))
        keys.retire_keys(retired)
    elif isinstance(keys, StaticKeyProvider):
        retired = tuple(sorted(keys.retired_key_ids))
    return RotationReport(current_id, done, retired)
