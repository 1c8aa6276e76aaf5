"""``/v1/events`` over HTTP against real CalDAV servers: what an application sees, and what
lands on the server (read back with raw HTTP, never through calmesh)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httpx
import pytest

from calmesh.services import sync
from calmesh.services.runtime import build_runtime
from calmesh.services.tenants import create_tenant
from tests.api.test_problems_and_conventions import assert_problem
from tests.conftest import RunningServer, make_settings, start_server

if TYPE_CHECKING:
    from tests.caldav_servers import CalDAVServer

# Until tests/conftest.py registers it for every test; imported by pytest, not by this module,
# so that pytest can rewrite its asserts.
pytest_plugins = ["tests.caldav_servers"]

PLANNING = {
    "title": "Planning",
    "location": "Room 1",
    "start": {"dateTime": "2026-04-01T10:00:00", "timeZone": "Europe/Berlin"},
    "end": {"dateTime": "2026-04-01T11:00:00", "timeZone": "Europe/Berlin"},
}


@pytest.fixture
def live_server(sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """The API on loopback, allowed to reach CalDAV servers on loopback; no background syncs,
    so that a test decides when a sync runs."""
    settings = make_settings(
        sqlite_url, tmp_path, allow_private_network=True, embedded_worker=False, provider_timeout_seconds=5
    )
    running, thread = start_server(settings)
    yield running
    running.server.should_exit = True
    thread.join(timeout=10)


async def tenant_client(server: RunningServer) -> httpx.AsyncClient:
    runtime = build_runtime(server.settings)
    try:
        key = (await create_tenant(runtime, f"tenant-{uuid.uuid4().hex[:8]}")).api_key.key
    finally:
        await runtime.close()
    return server.client(key)


@pytest.fixture
async def api(live_server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with await tenant_client(live_server) as client:
        yield client


async def connect(
    api: httpx.AsyncClient, server: CalDAVServer, calendar_url: str, **settings: Any
) -> tuple[str, str]:
    """An integration syncing only ``calendar_url``: (integration id, our id of that calendar)."""
    response = await api.post("/v1/integrations", json={
        "provider": "CALDAV", "serverUrl": server.url, "username": server.username or "user",
        "password": server.password or "unused", "settings": {"calendarsToSync": [calendar_url], **settings},
    })
    assert response.status_code == 201, response.text
    integration = response.json()["id"]
    calendars = (await api.get(f"/v1/integrations/{integration}/calendars", params={"limit": 500})).json()["data"]
    return integration, next(c["id"] for c in calendars if c["providerCalendarId"] == calendar_url)


async def object_names(server: CalDAVServer, calendar_url: str) -> list[str]:
    """The calendar's object names, by a raw PROPFIND."""
    async with httpx.AsyncClient(auth=server.auth, timeout=10) as client:
        response = await client.request(
            "PROPFIND", calendar_url, headers={"Depth": "1", "Content-Type": "application/xml"},
            content=b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>',
        )
    assert response.status_code == 207, response.text
    return sorted(unquote(href.rsplit("/", 1)[-1]) for href in re.findall(r"href>([^<]+\.ics)</", response.text))


async def test_create_patch_and_delete_reach_the_caldav_server(
    api: httpx.AsyncClient, caldav_server: CalDAVServer
) -> None:
    url = await caldav_server.mkcalendar()
    integration, calendar = await connect(api, caldav_server, url)

    response = await api.post("/v1/events", json={**PLANNING, "calendarId": calendar, "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"]})
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["syncState"], created["syncError"], created["origin"]) == ("SYNCED", None, "calmesh")
    assert (created["calendarId"], created["integrationId"]) == (calendar, integration)
    assert created["start"] == {"dateTime": "2026-04-01T10:00:00+02:00", "timeZone": "Europe/Berlin"}
    name = f"{created['icalUid']}.ics"
    assert await object_names(caldav_server, url) == [name]
    stored = await caldav_server.get_object(url, name)
    assert stored is not None
    assert "SUMMARY:Planning" in stored[0] and f"X-CALMESH-ID:{created['id']}" in stored[0]

    read = (await api.get(f"/v1/events/{created['id']}")).json()
    assert read["title"] == "Planning" and read["syncState"] is None
    instances = (await api.get("/v1/events", params={
        "calendarId": calendar, "expand": "true", "start": "2026-04-01", "end": "2026-04-05", "timeZone": "Europe/Berlin",
    })).json()
    assert [i["id"] for i in instances["data"]] == [
        f"{created['id']}_2026040{day}T080000Z" for day in (1, 2, 3)
    ]

    response = await api.patch(f"/v1/events/{created['id']}", json={"title": "Planning (moved)", "location": None})
    assert response.status_code == 200, response.text
    assert response.json()["syncState"] == "SYNCED" and response.json()["location"] is None
    assert await object_names(caldav_server, url) == [name]
    changed = await caldav_server.get_object(url, name)
    assert changed is not None and changed[1] != stored[1]
    assert "SUMMARY:Planning (moved)" in changed[0] and "Room 1" not in changed[0]

    assert (await api.delete(f"/v1/events/{created['id']}")).status_code == 204
    assert await caldav_server.get_object(url, name) is None
    assert_problem(await api.get(f"/v1/events/{created['id']}"), 404, "/problems/not-found")


async def test_writes_where_calmesh_may_not_write_are_409_and_bad_input_422(
    api: httpx.AsyncClient, live_server: RunningServer, caldav_server: CalDAVServer
) -> None:
    url = await caldav_server.mkcalendar()
    _, inbound = await connect(api, caldav_server, url, syncDirection="INBOUND")
    body = assert_problem(await api.post("/v1/events", json={**PLANNING, "calendarId": inbound}), 409, "/problems/conflict")
    assert "INBOUND" in str(body["detail"])
    assert await object_names(caldav_server, url) == []

    _, calendar = await connect(api, caldav_server, url)
    bad_zone = {**PLANNING, "calendarId": calendar, "start": {"dateTime": "2026-04-01T10:00:00", "timeZone": "Mars/Olympus"}}
    body = assert_problem(await api.post("/v1/events", json=bad_zone), 422, "/problems/validation-error")
    assert body["errors"] == [{"field": "start.timeZone", "location": "body", "message": body["detail"]}]
    backwards = {**PLANNING, "calendarId": calendar, "end": {"dateTime": "2026-04-01T09:00:00+02:00"}}
    assert_problem(await api.post("/v1/events", json=backwards), 422, "/problems/validation-error")
    assert_problem(await api.post("/v1/events", json=PLANNING), 422, "/problems/validation-error")
    assert_problem(await api.get("/v1/events", params={"expand": "true", "start": "2026-04-01"}), 422, "/problems/validation-error")
    assert await object_names(caldav_server, url) == []

    created = (await api.post("/v1/events", json={**PLANNING, "calendarId": calendar})).json()
    async with await tenant_client(live_server) as stranger:
        assert_problem(await stranger.get(f"/v1/events/{created['id']}"), 404, "/problems/not-found")
        assert_problem(await stranger.patch(f"/v1/events/{created['id']}", json={"title": "x"}), 404, "/problems/not-found")
        assert_problem(await stranger.delete(f"/v1/events/{created['id']}"), 404, "/problems/not-found")
        assert (await stranger.get("/v1/events")).json() == {"data": [], "nextCursor": None}
    assert await object_names(caldav_server, url) == [f"{created['icalUid']}.ics"]


async def test_a_read_only_calendar_is_409(api: httpx.AsyncClient, radicale_server: CalDAVServer) -> None:
    radicale_server.ensure_running()
    url = radicale_server.create_read_only_calendar(f"events-{uuid.uuid4().hex[:8]}")
    _, calendar = await connect(api, radicale_server, url)
    body = assert_problem(await api.post("/v1/events", json={**PLANNING, "calendarId": calendar}), 409, "/problems/conflict")
    assert "read-only" in str(body["detail"])


async def test_a_server_that_is_down_leaves_the_event_pending_until_the_next_sync(
    api: httpx.AsyncClient, live_server: RunningServer, caldav_server: CalDAVServer
) -> None:
    url = await caldav_server.mkcalendar()
    integration, calendar = await connect(api, caldav_server, url)
    caldav_server.stop()
    try:
        response = await api.post("/v1/events", json={**PLANNING, "calendarId": calendar})
    finally:
        caldav_server.start()
    assert response.status_code == 201, response.text
    pending = response.json()
    assert pending["syncState"] == "PENDING" and pending["syncError"]
    assert await object_names(caldav_server, url) == []
    assert (await api.get(f"/v1/events/{pending['id']}")).json()["title"] == "Planning"

    runtime = build_runtime(live_server.settings)
    try:
        report = await sync.sync_connection(runtime, integration)
        assert report.total("pushed") == 1
        again = await sync.sync_connection(runtime, integration)
        assert (again.total("pushed"), again.total("pulled")) == (0, 0)
    finally:
        await runtime.close()
    name = f"{pending['icalUid']}.ics"
    assert await object_names(caldav_server, url) == [name]
    stored = await caldav_server.get_object(url, name)
    assert stored is not None and f"X-CALMESH-ID:{pending['id']}" in stored[0]
    listed = (await api.get("/v1/events", params={"calendarId": calendar})).json()["data"]
    assert [e["id"] for e in listed] == [pending["id"]]
