"""The process-wide things every use case needs, built once by the server, the CLI or a test."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from calmesh.auth.keys import KeyFileProvider, KeyProvider, StaticKeyProvider
from calmesh.auth.vault import Vault
from calmesh.config import Settings
from calmesh.storage.database import create_engine, create_session_factory

__all__ = ["Runtime", "Signals", "build_key_provider", "build_runtime", "run_rounds"]

log = logging.getLogger(__name__)


class Signals:
    """In-process nudges between the API and the embedded worker (a distributed runner polls)."""

    def __init__(self) -> None:
        #: Set when someone asked for a sync now (resync, a push notification).
        self.sync_requested = asyncio.Event()
        #: Set when a transaction that announced events committed: the dispatcher sends now.
        self.webhooks_pending = asyncio.Event()


async def run_rounds(signal: asyncio.Event, every: float, round_: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``round_`` forever: now, then whenever ``signal`` is set or ``every`` seconds passed.
    A round that fails is logged and the next one runs anyway (a background loop must outlive
    any one bad round)."""
    while True:
        signal.clear()
        try:
            await round_()
        except Exception:
            log.exception("%s failed", what)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(signal.wait(), timeout=every)


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    vault: Vault
    signals: Signals = field(default_factory=Signals)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def close(self) -> None:
        await self.engine.dispose()


def build_key_provider(settings: Settings) -> KeyProvider:
    """The master key from the environment when set, else the key file (created if missing)."""
    if settings.master_key is not None:
        previous = settings.previous_master_keys
        return StaticKeyProvider.from_text(
            settings.master_key.get_secret_value(),
            previous.get_secret_value() if previous else None,
        )
    return KeyFileProvider(settings.resolved_key_file)


def build_runtime(settings: Settings) -> Runtime:
    engine = create_engine(settings.resolved_database_url)
    return Runtime(settings, engine, create_session_factory(engine), Vault(build_key_provider(settings)))
