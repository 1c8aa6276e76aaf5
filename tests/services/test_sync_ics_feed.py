"""An ICS feed subscription end to end: connect, sync, availability — over HTTP on loopback."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from calmesh.domain.intervals import Interval
from calmesh.errors import InvalidInput, UnsafeUrl
from calmesh.services import availability, integrations
from calmesh.services.integrations import IntegrationCreate
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.sync import sync_connection
from calmesh.storage.migrate import upgrade
from tests.conftest import make_settings
from tests.mirror_helpers import make_tenant, make_user

UTC = timezone.utc
DAY = date.today() + timedelta(days=3)


class Feed:
    """One feed document, served with an ETag; 304 when the client already has it."""

    def __init__(self) -> None:
        self.body = b""
        self.requests: list[int] = []

    def set(self, *events: tuple[str, int]) -> None:
        lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//feed//EN", "X-WR-CALNAME:Team holidays"]
        for uid, hour in events:
            start = datetime(DAY.year, DAY.month, DAY.day, hour, tzinfo=UTC)
            lines += [
                "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
                f"DTSTART:{start:%Y%m%dT%H%M%SZ}", f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}",
                f"SUMMARY:{uid}", "END:VEVENT",
            ]
        self.body = ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()

    @property
    def etag(self) -> str:
        return f'"{hash(self.body) & 0xFFFFFFFF:x}"'


@pytest.fixture
def feed() -> Iterator[tuple[Feed, str]]:
    document = Feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("If-None-Match") == document.etag:
                document.requests.append(304)
                self.send_response(304)
                self.end_headers()
                return
            document.requests.append(200)
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("ETag", document.etag)
            self.send_header("Content-Length", str(len(document.body)))
            self.end_headers()
            self.wfile.write(document.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield document, f"http://127.0.0.1:{server.server_address[1]}/secret-token-123/basic.ics"
    server.shutdown()
    server.server_close()


@pytest.fixture
async def runtime(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = build_runtime(make_settings(sqlite_url, tmp_path, allow_private_network=True))
    await upgrade(rt.engine)
    yield rt
    await rt.close()


async def busy_hours(runtime: Runtime, tenant_id: str, user_id: str) -> list[int]:
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    answer = await availability.free_busy(
        runtime, tenant_id, user_ids=[user_id], calendar_ids=[],
        window=Interval(start, start + timedelta(days=1)), zone=ZoneInfo("UTC"),
    )
    return [span.start.hour for span in answer.busy]


async def test_a_feed_blocks_availability_and_follows_its_changes(runtime: Runtime, feed: tuple[Feed, str]) -> None:
    document, url = feed
    document.set(("standup", 9), ("offsite", 14))
    tenant_id = await make_tenant(runtime)
    user_id = await make_user(runtime, tenant_id, "ada@example.com")

    created = await integrations.connect(runtime, tenant_id, IntegrationCreate(provider="ICS", url=url, user_id=user_id))
    assert created.settings.sync_direction.value == "INBOUND"
    assert "secret-token-123" not in created.model_dump_json(), "a feed's address is a secret"
    calendars = await integrations.list_calendars(runtime, tenant_id, created.id, limit=10, cursor=None)
    assert [(c.name, c.read_only) for c in calendars.data] == [("Team holidays", True)]

    await sync_connection(runtime, created.id)
    assert await busy_hours(runtime, tenant_id, user_id) == [9, 14]

    unchanged = await sync_connection(runtime, created.id)
    assert document.requests[-1] == 304 and unchanged.total("pulled") == 0

    document.set(("standup", 10))
    changed = await sync_connection(runtime, created.id)
    assert (changed.total("pulled"), changed.total("deleted_locally")) == (1, 1)
    assert await busy_hours(runtime, tenant_id, user_id) == [10]


async def test_a_feed_refuses_writes_and_private_addresses(runtime: Runtime, feed: tuple[Feed, str], tmp_path: Path) -> None:
    document, url = feed
    document.set(("standup", 9))
    tenant_id = await make_tenant(runtime)
    created = await integrations.connect(runtime, tenant_id, IntegrationCreate(provider="ICS", url=url))
    with pytest.raises(InvalidInput, match="read-only"):
        await integrations.configure(runtime, tenant_id, created.id, {"syncDirection": "BOTH"})

    guarded = build_runtime(make_settings(f"sqlite:///{tmp_path / 'guarded.db'}", tmp_path))
    await upgrade(guarded.engine)
    try:
        other = await make_tenant(guarded)
        with pytest.raises(UnsafeUrl) as refused:
            await integrations.connect(guarded, other, IntegrationCreate(provider="ICS", url=url))
        assert "secret-token-123" not in str(refused.value)
    finally:
        await guarded.close()
