"""The runner inside ``calmesh serve``: scheduled syncs with nothing else to start."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from calmesh.jobs.tasks import sync_connection_job
from calmesh.services.runtime import Runtime
from calmesh.services.sync import due_connections

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

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="calmesh-scheduler")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        signal = self.runtime.signals.sync_requested
        tick = self.runtime.settings.scheduler_tick_seconds
        while True:
            signal.clear()
            try:
                await self.run_due()
            except Exception:  # the scheduler must outlive any one bad tick
                log.exception("scheduler tick failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(signal.wait(), timeout=tick)

    async def run_due(self) -> None:
        """Start a sync for every due connection not already syncing here."""
        for connection_id in await due_connections(self.runtime):
            if connection_id in self._running:
                continue
            self._running.add(connection_id)
            task = asyncio.create_task(self._run(connection_id), name=f"sync-{connection_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, connection_id: str) -> None:
        try:
            async with self._slots:
                await sync_connection_job(self.runtime, connection_id)
        finally:
            self._running.discard(connection_id)
