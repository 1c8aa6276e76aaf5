"""Shared fixtures: fresh databases (SQLite and PostgreSQL), a runtime, and a real server.

PostgreSQL is the one at 127.0.0.1:5432 (``CALMESH_TEST_POSTGRES_URL`` to point elsewhere). Each
test gets its own database, cloned from a migrated template, so tests never see each other's
rows. Where no server answers, PostgreSQL tests are skipped with the reason — except under
``CI=true``, where that is a failure: CI must prove both databases.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn
from sqlalchemy import make_url

from calmesh.api.app import create_app
from calmesh.config import Settings
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.tenants import create_tenant
from calmesh.storage.database import create_engine
from calmesh.storage.migrate import upgrade

#: Real CalDAV servers (Radicale, Xandikos) as fixtures for every test that needs one.
pytest_plugins = ["tests.caldav_servers", "tests.google_sandbox", "tests.zoom_sandbox"]

POSTGRES_URL = os.environ.get("CALMESH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"

# --- PostgreSQL ----------------------------------------------------------------------------


def _pg_admin_dsn() -> str:
    return POSTGRES_URL


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a migrated template database, or a skip (a failure under CI=true)."""

    async def prepare() -> str:
        admin = await asyncpg.connect(_pg_admin_dsn(), timeout=5)
        name = f"calmesh_tpl_{uuid.uuid4().hex[:10]}"
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        engine = create_engine(_with_database(POSTGRES_URL, name).replace("postgresql://", "postgresql+asyncpg://", 1))
        await upgrade(engine)
        await engine.dispose()
        return name

    try:
        name = asyncio.run(prepare())
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as exc:
        message = f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}: {exc})"
        if IN_CI:
            pytest.fail(message + " — CI=true requires it")
        pytest.skip(message + "; set CALMESH_TEST_POSTGRES_URL or start it to run these tests")
    yield name
    asyncio.run(_drop_database(name))


async def _drop_database(name: str) -> None:
    admin = await asyncpg.connect(_pg_admin_dsn(), timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"calmesh_t_{uuid.uuid4().hex[:12]}"

    async def clone() -> None:
        admin = await asyncpg.connect(_pg_admin_dsn(), timeout=5)
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
        finally:
            await admin.close()

    asyncio.run(clone())
    yield _with_database(POSTGRES_URL, name)
    asyncio.run(_drop_database(name))


# --- databases and runtimes ----------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'calmesh.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'calmesh.db'}"


def make_settings(database_url: str, tmp_path: Path, **more: object) -> Settings:
    return Settings(
        database_url=database_url,
        key_file=tmp_path / "keys" / "master.key",
        _env_file=None,  # type: ignore[call-arg]
        **more,  # type: ignore[arg-type]
    )


@pytest.fixture
async def runtime(database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime on a fresh, migrated database (SQLite and PostgreSQL)."""
    rt = build_runtime(make_settings(database_url, tmp_path))
    await upgrade(rt.engine)
    yield rt
    await rt.close()


# --- a real server on loopback -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    settings: Settings
    server: uvicorn.Server

    def client(self, api_key: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)


def start_server(settings: Settings, app: object | None = None, port: int | None = None) -> tuple[RunningServer, threading.Thread]:
    """Run the real app under uvicorn in a thread (its own event loop) on ``port`` (default: a
    free one; pick it first when the settings must name the server's own address)."""
    port = port or free_port()
    config = uvicorn.Config(app or create_app(settings), host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError("the test server failed to start")
        threading.Event().wait(0.01)
    return RunningServer(f"http://127.0.0.1:{port}", settings, server), thread


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """calmesh's API served over HTTP on loopback, on a fresh SQLite database."""
    running, thread = start_server(make_settings(sqlite_url, tmp_path, max_request_bytes=4096))
    yield running
    running.server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
async def tenant_key(server: RunningServer) -> str:
    """The API key of a new tenant on the test server."""
    rt = build_runtime(server.settings)
    try:
        return (await create_tenant(rt, f"tenant-{uuid.uuid4().hex[:8]}")).api_key.key
    finally:
        await rt.close()
