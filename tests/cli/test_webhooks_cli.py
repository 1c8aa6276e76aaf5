"""``calmesh webhooks`` as an operator runs it: the real entry point in a subprocess over a
SQLite file that the test fills through the services (a tenant, an endpoint, an announcement)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from calmesh.config import Settings
from calmesh.services.announcements import announce
from calmesh.services.runtime import build_runtime
from calmesh.services.tenants import create_tenant
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.services.webhooks import WebhookCreate, create_webhook
from calmesh.storage.migrate import upgrade
from calmesh.webhooks.catalogue import EventType


def calmesh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calmesh", *args],
        check=False, env=env, cwd=env["HOME"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_list_shows_pending_deliveries_and_replay_queues_an_event_again(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALMESH_")} | {
        "HOME": str(tmp_path),
        "NO_COLOR": "1",
        "COLUMNS": "250",
        "CALMESH_DATABASE_URL": f"sqlite:///{tmp_path / 'calmesh.db'}",
        "CALMESH_KEY_FILE": str(tmp_path / "master.key"),
    }
    settings = Settings(
        database_url=env["CALMESH_DATABASE_URL"], key_file=tmp_path / "master.key", allow_private_network=True, _env_file=None  # type: ignore[call-arg]
    )

    async def prepare() -> tuple[str, str]:
        runtime = build_runtime(settings)
        try:
            await upgrade(runtime.engine)
            tenant_id = (await create_tenant(runtime, "acme")).tenant.id
            webhook = await create_webhook(runtime, tenant_id, WebhookCreate(url="http://127.0.0.1:9/hook"))
            async with UnitOfWork(runtime) as uow:
                event_id = await announce(uow, tenant_id, EventType.INTEGRATION_SYNCED, {"connectionId": "int_x"})
                await uow.commit()
            return webhook.id, event_id
        finally:
            await runtime.close()

    webhook_id, event_id = asyncio.run(prepare())

    listed = calmesh(env, "webhooks", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["id"], row["health"], row["pending"], row["failed"]) == (webhook_id, "HEALTHY", 1, 0)
    table = calmesh(env, "webhooks", "list")
    assert webhook_id in table.stdout and "HEALTHY" in table.stdout

    replayed = calmesh(env, "webhooks", "replay", event_id, "--json")
    assert replayed.returncode == 0, replayed.stderr
    [delivery] = json.loads(replayed.stdout)
    assert (delivery["eventId"], delivery["webhookId"], delivery["replay"]) == (event_id, webhook_id, True)
    assert json.loads(calmesh(env, "webhooks", "list", "--json").stdout)[0]["pending"] == 2

    missing = calmesh(env, "webhooks", "replay", "wev_00000000000000000000000000")
    assert missing.returncode == 1 and missing.stderr.strip() == "calmesh: error: no such webhook event"
