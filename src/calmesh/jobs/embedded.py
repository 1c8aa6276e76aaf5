"""The runner inside ``calmesh serve``: scheduled syncs, daily credential checks and webhook
deliveries, with nothing else to start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from calmesh.jobs.tasks import check_credentials_job, sync_connection_job
from calmesh.services.integrations import due_credential_checks
from calmesh.services.runtime import Runtime, run_rounds
from calmesh.services.sync import due_connections
from calmesh.services.webhook_delivery import WebhookDispatcher

__all__ = ["EmbeddedWorker"]

log = logging.getLogger(__name__)

#: Syncs running at once in one process; SQLite serialises writes anyway.
CONCURRENCY = 2


class EmbeddedWorker:
    def __init__(self, runtime: Runtime, *, concurrency: int = CONCURRENCY) -> None:
        self.runtime = runtime
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self.webhooks = WebhookDispatcher(runtime)

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="calmesh-scheduler")
        self.webhooks.start()

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.webhooks.stop()

    async def _loop(self) -> None:
        await run_rounds(self.runtime.signals.sync_requested, self.runtime.settings.scheduler_tick_seconds, self.run_due, "scheduler tick")

    async def run_due(self) -> None:
        """Start a sync for every due connection, and a check of every credential not proven for
        a day, unless that connection is already busy here."""
        for connection_id in await due_connections(self.runtime):
            self._start(connection_id, sync_connection_job)
        for connection_id in await due_credential_checks(self.runtime):
            self._start(connection_id, check_credentials_job)

    def _start(self, connection_id: str, job: Callable[[Runtime, str], Awaitable[None]]) -> None:
        if connection_id in self._running:
            return
        self._running.add(connection_id)
        task = asyncio.create_task(self._run(connection_id, job), name=f"{job.__name__}-{connection_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, connection_id: str, job: Callable[[Runtime, str], Awaitable[None]]) -> None:
        try:
            async with self._slots:
                await job(self.runtime, connection_id)
        finally:
            self._running.discard(connection_id)
