"""Credentials stored through the vault on both databases, and key rotation while serving."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from calmesh.auth.keys import KeyFileProvider
from calmesh.auth.vault import Vault
from calmesh.errors import DecryptionFailed
from calmesh.ids import new_id
from calmesh.services.credentials import delete_credentials, load_credentials, store_credentials
from calmesh.services.key_rotation import rotate_keys
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.services.webhook_delivery import open_secrets
from calmesh.services.webhooks import WebhookCreate, create_webhook
from calmesh.storage import models


async def _connections(runtime: Runtime, count: int) -> tuple[str, list[str]]:
    async with UnitOfWork(runtime) as uow:
        tenant = models.Tenant(id=new_id("tnt"), name=new_id("n"))
        uow.session.add(tenant)
        await uow.session.flush()
        ids = [new_id("con") for _ in range(count)]
        uow.session.add_all(models.Connection(id=i, tenant_id=tenant.id, provider="GOOGLE") for i in ids)
        await uow.commit()
        return tenant.id, ids


async def test_credentials_round_trip_and_are_stored_encrypted(runtime: Runtime) -> None:
    tenant_id, (connection_id,) = await _connections(runtime, 1)
    async with UnitOfWork(runtime) as uow:
        await store_credentials(uow, tenant_id, connection_id, {"refresh_token": "1//super-secret"})
        await uow.commit()
    async with UnitOfWork(runtime) as uow:
        row = await uow.session.get(models.Credential, connection_id)
        assert row is not None and b"super-secret" not in row.ciphertext
        assert (await load_credentials(uow, tenant_id, connection_id))["refresh_token"] == "1//super-secret"


async def test_a_credential_row_copied_to_another_connection_does_not_decrypt(runtime: Runtime) -> None:
    tenant_id, (victim, attacker) = await _connections(runtime, 2)
    async with UnitOfWork(runtime) as uow:
        await store_credentials(uow, tenant_id, victim, {"refresh_token": "victim-token"})
        await store_credentials(uow, tenant_id, attacker, {"refresh_token": "attacker-token"})
        await uow.commit()
    async with UnitOfWork(runtime) as uow:
        source = await uow.session.get(models.Credential, victim)
        target = await uow.session.get(models.Credential, attacker)
        assert source is not None and target is not None
        target.kek_id, target.wrapped_key = source.kek_id, source.wrapped_key
        target.nonce, target.ciphertext = source.nonce, source.ciphertext
        await uow.commit()
    async with UnitOfWork(runtime) as uow:
        with pytest.raises(DecryptionFailed):
            await load_credentials(uow, tenant_id, attacker)


async def test_deleted_credentials_are_gone(runtime: Runtime) -> None:
    tenant_id, (connection_id,) = await _connections(runtime, 1)
    async with UnitOfWork(runtime) as uow:
        await store_credentials(uow, tenant_id, connection_id, {"password": "p"})
        await uow.commit()
    async with UnitOfWork(runtime) as uow:
        await delete_credentials(uow, tenant_id, connection_id)
        await uow.commit()
    async with UnitOfWork(runtime) as uow:
        assert await uow.session.get(models.Credential, connection_id) is None


async def test_rotation_rewraps_everything_while_a_server_keeps_serving(runtime: Runtime, tmp_path: Path) -> None:
    tenant_id, connection_ids = await _connections(runtime, 450)  # more than two batches
    async with UnitOfWork(runtime) as uow:
        for connection_id in connection_ids:
            await store_credentials(uow, tenant_id, connection_id, {"token": f"secret-{connection_id}"})
        await uow.commit()
    key_file = runtime.settings.resolved_key_file
    old_key_ids = KeyFileProvider(key_file).key_ids

    # The "server": its own vault on the same key file, reading and re-sealing credentials the
    # whole time the rotation runs.
    serving = Runtime(runtime.settings, runtime.engine, runtime.sessions, Vault(KeyFileProvider(key_file)))
    rotation_done = asyncio.Event()
    served = 0

    async def keep_serving() -> None:
        nonlocal served
        while not rotation_done.is_set():
            connection_id = connection_ids[served % len(connection_ids)]
            async with UnitOfWork(serving) as uow:
                credentials = await load_credentials(uow, tenant_id, connection_id)
                assert credentials["token"] == f"secret-{connection_id}"
                await store_credentials(uow, tenant_id, connection_id, credentials)
                await uow.commit()
            served += 1
            await asyncio.sleep(0)

    rotating = Runtime(runtime.settings, runtime.engine, runtime.sessions, Vault(KeyFileProvider(key_file)))
    server_task = asyncio.create_task(keep_serving())
    progress: list[tuple[int, int]] = []
    report = await rotate_keys(rotating, on_progress=lambda d, t: progress.append((d, t)))
    rotation_done.set()
    await server_task

    assert served > 0 and progress and report.rewrapped >= 1
    assert set(report.retired_key_ids) == set(old_key_ids)
    assert KeyFileProvider(key_file).key_ids == {report.new_key_id}
    async with UnitOfWork(runtime) as uow:
        kek_ids = set((await uow.session.scalars(select(models.Credential.kek_id))).all())
        assert kek_ids == {report.new_key_id}
        for connection_id in connection_ids[::37]:
            assert (await load_credentials(uow, tenant_id, connection_id))["token"] == f"secret-{connection_id}"


async def test_rotation_rewraps_webhook_signing_secrets_too(runtime: Runtime) -> None:
    tenant_id, _ = await _connections(runtime, 0)
    # Private addresses allowed so the webhook URL needs no DNS (this machine has no internet).
    lenient = Runtime(runtime.settings.model_copy(update={"allow_private_network": True}), runtime.engine, runtime.sessions, runtime.vault)
    created = await create_webhook(lenient, tenant_id, WebhookCreate(url="http://127.0.0.1:9/hook"))
    key_file = runtime.settings.resolved_key_file
    rotating = Runtime(runtime.settings, runtime.engine, runtime.sessions, Vault(KeyFileProvider(key_file)))

    report = await rotate_keys(rotating)

    reader = Runtime(runtime.settings, runtime.engine, runtime.sessions, Vault(KeyFileProvider(key_file)))
    async with UnitOfWork(reader) as uow:
        rows = list((await uow.session.scalars(select(models.WebhookSecret))).all())
        assert {row.kek_id for row in rows} == {report.new_key_id}
        assert open_secrets(reader, rows, datetime.now(timezone.utc)) == [created.secret]
