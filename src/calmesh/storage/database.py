"""The async engine and sessions, built on demand (never at import).

SQLite gets foreign keys on, WAL journaling (readers do not block the writer) and a busy timeout
(a second writer waits instead of failing), which is what lets one embedded process serve the API
and run the worker on one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collections.abc import Sequence

from sqlalchemy import Table, event, insert, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from calmesh.errors import StorageUnavailable

__all__ = ["create_engine", "create_session_factory", "insert_many", "ping"]

#: How long a SQLite writer waits for the lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url`` (an async driver URL, see :class:`calmesh.config.Settings`)."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise :class:`StorageUnavailable` unless the database answers a trivial query."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise StorageUnavailable(f"the database cannot be reached ({type(exc).__name__})") from exc


async def insert_many(session: AsyncSession, model: type[Any], records: Sequence[dict[str, Any]]) -> None:
    """Insert ``records`` into ``model``'s table with one executemany.

    The table, not the ORM class: the ORM's bulk path asks for generated keys back in batches of
    RETURNING statements, several times slower for the thousands of rows an import writes.
    """
    if not records:
        return
    table = model.__table__
    assert isinstance(table, Table)
    await session.execute(insert(table), list(records))
