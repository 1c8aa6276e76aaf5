"""``/v1/integrations`` over HTTP: the real app under uvicorn, real CalDAV servers (Radicale and
Xandikos) on loopback, and the embedded worker doing the syncs a resync asks for."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from calmesh.services.runtime import build_runtime
from calmesh.services.tenants import create_tenant
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from tests.api.test_problems_and_conventions import assert_problem
from tests.caldav_servers import CalDAVServer
from tests.conftest import RunningServer, make_settings, start_server

#: How long the embedded worker gets to finish a sync a resync asked for.
SYNC_WAIT_SECONDS = 10.0
SEED_001 = {"syncDirection": "INBOUND", "syncFrequency": 5, "calendarsToSync": ["primary"], "eventPrivacy": {"showTitle": False}}


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture
def live_server(sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """The API on loopback, allowed to reach CalDAV servers on loopback, with the embedded
    worker looking for due syncs five times a second."""
    settings = make_settings(
        sqlite_url, tmp_path, allow_private_network=True, scheduler_tick_seconds=0.2, provider_timeout_seconds=5
    )
    running, thread = start_server(settings)
    yield running
    running.server.should_exit = True
    thread.join(timeout=10)


async def new_key(server: RunningServer) -> str:
    runtime = build_runtime(server.settings)
    try:
        return (await create_tenant(runtime, f"tenant-{uuid.uuid4().hex[:8]}")).api_key.key
    finally:
        await runtime.close()


@pytest.fixture
async def api(live_server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with live_server.client(await new_key(live_server)) as client:
        yield client


def caldav_body(server: CalDAVServer, calendar_url: str | None = None, **more: Any) -> dict[str, Any]:
    """A connect request for ``server``; syncing only ``calendar_url`` (the servers are shared by
    the whole session, so syncing every calendar on them would be slow and pointless)."""
    body: dict[str, Any] = {"provider": "CALDAV", "serverUrl": server.url}
    if server.username is not None:
        body |= {"username": server.username, "password": server.password}
    if calendar_url is not None:
        body["settings"] = {"calendarsToSync": [calendar_url]}
    return body | more


async def connect(api: httpx.AsyncClient, server: CalDAVServer, calendar_url: str) -> dict[str, Any]:
    response = await api.post("/v1/integrations", json=caldav_body(server, calendar_url))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def event_ics(uid: str, summary: str) -> str:
    return "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//other client//EN",
        "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
        "DTSTART:20260401T100000Z", "DTEND:20260401T110000Z", f"SUMMARY:{summary}",
        "END:VEVENT", "END:VCALENDAR", "",
    ])  # fmt: skip


async def put_events(server: CalDAVServer, calendar_url: str, *uids: str) -> None:
    for uid in uids:
        await server.put_object(calendar_url, f"{uid}.ics", event_ics(uid, f"Event {uid}"))


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def wait_for_status(
    api: httpx.AsyncClient, integration_id: str, done: Any, *, timeout: float = SYNC_WAIT_SECONDS
) -> dict[str, Any]:
    """Poll sync-status until ``done(status)``; the last status seen otherwise fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        response = await api.get(f"/v1/integrations/{integration_id}/sync-status")
        assert response.status_code == 200, response.text
        status: dict[str, Any] = response.json()
        if done(status):
            return status
        assert time.monotonic() < deadline, f"the sync did not finish in {timeout} s: {status}"
        await asyncio.sleep(0.1)


def synced_after(moment: str | None) -> Any:
    """A ``done`` for :func:`wait_for_status`: a finished sync newer than ``moment``."""
    return lambda s: s["state"] != "SYNCING" and s["lastSyncAt"] is not None and (
        moment is None or parse_time(s["lastSyncAt"]) > parse_time(moment)
    )


async def resync(api: httpx.AsyncClient, integration_id: str, *, full: bool = True) -> dict[str, Any]:
    response = await api.post(f"/v1/integrations/{integration_id}/resync", json={"fullSync": full})
    assert response.status_code == 202, response.text
    status: dict[str, Any] = response.json()
    return status


# --- connecting --------------------------------------------------------------------------------


async def test_connect_lists_and_gets_without_the_password(api: httpx.AsyncClient, caldav_server: CalDAVServer) -> None:
    name = f"Team {uuid.uuid4().hex[:6]}"
    calendar_url = await caldav_server.mkcalendar(display_name=name, color="#FF0000")
    body = caldav_body(caldav_server, calendar_url)
    if caldav_server.password is None:  # Xandikos ignores credentials; they must still not come back
        body |= {"username": "someone", "password": "xandikos-s3cret-pw"}
    password = body["password"]

    response = await api.post("/v1/integrations", json=body)
    assert response.status_code == 201, response.text
    assert password not in response.text
    created = response.json()
    assert created["provider"] == "CALDAV" and created["status"] == "ACTIVE"
    assert created["id"].startswith("int")
    assert created["account"] == {"username": body["username"], "serverUrl": caldav_server.url}
    assert created["settings"]["calendarsToSync"] == [calendar_url]
    assert created["permissions"] == {"calendar": "write"}

    listed = await api.get("/v1/integrations")
    assert listed.status_code == 200 and password not in listed.text
    assert [i["id"] for i in listed.json()["data"]] == [created["id"]]
    got = await api.get(f"/v1/integrations/{created['id']}")
    assert got.status_code == 200 and password not in got.text
    # The embedded worker may already be syncing it: only what a sync changes may differ.
    moving = {"status", "lastSyncAt", "lastError"}
    assert {k: v for k, v in got.json().items() if k not in moving} == {k: v for k, v in created.items() if k not in moving}

    calendars = await api.get(f"/v1/integrations/{created['id']}/calendars", params={"limit": 500})
    assert calendars.status_code == 200, calendars.text
    rows = calendars.json()["data"]
    [ours] = [c for c in rows if c["providerCalendarId"] == calendar_url]
    assert ours["name"] == name
    assert ours["color"].upper().startswith("#FF0000")
    assert ours["readOnly"] is False and ours["selected"] is True
    assert isinstance(ours["isPrimary"], bool) and ours["id"].startswith("cal")
    assert sum(c["isPrimary"] for c in rows) <= 1
    assert all(not c["selected"] for c in rows if c is not ours)  # calendarsToSync names just ours


async def test_wrong_password_is_422_and_nothing_is_stored(
    api: httpx.AsyncClient, radicale_server: CalDAVServer
) -> None:
    radicale_server.ensure_running()
    wrong = "not-the-password-" + uuid.uuid4().hex[:8]
    response = await api.post("/v1/integrations", json={
        "provider": "CALDAV", "serverUrl": radicale_server.url, "username": "alice", "password": wrong,
    })
    body = assert_problem(response, 422, "/problems/provider-auth-failed")
    assert wrong not in response.text
    assert "401" in str(body["detail"]) or "credentials" in str(body["detail"])
    listed = await api.get("/v1/integrations")
    assert listed.status_code == 200 and listed.json()["data"] == []


async def test_the_calmesh_server_itself_is_not_a_caldav_server(api: httpx.AsyncClient, live_server: RunningServer) -> None:
    response = await api.post("/v1/integrations", json={
        "provider": "CALDAV", "serverUrl": f"{live_server.url}/healthz", "username": "u", "password": "pw-not-shown",
    })
    body = assert_problem(response, 502, "/problems/provider-protocol-error")
    assert "not a CalDAV server" in str(body["detail"]) and "pw-not-shown" not in response.text
    assert (await api.get("/v1/integrations")).json()["data"] == []


class _HtmlHandler(BaseHTTPRequestHandler):
    """A web site, not a CalDAV server: every method gets the same HTML page."""

    def _page(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        page = b"<!doctype html><html><body><h1>Welcome</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    do_GET = do_POST = do_PROPFIND = do_REPORT = do_OPTIONS = _page

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def html_site() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


async def test_a_web_site_answering_html_is_a_protocol_error(api: httpx.AsyncClient, html_site: str) -> None:
    response = await api.post("/v1/integrations", json={"provider": "CALDAV", "serverUrl": html_site})
    body = assert_problem(response, 502, "/problems/provider-protocol-error")
    assert html_site.rstrip("/") in str(body["detail"])
    assert (await api.get("/v1/integrations")).json()["data"] == []


async def test_loopback_is_an_unsafe_url_unless_private_networks_are_allowed(
    server: RunningServer, tenant_key: str, xandikos_server: CalDAVServer
) -> None:
    assert server.settings.allow_private_network is False
    xandikos_server.ensure_running()
    async with server.client(tenant_key) as client:
        response = await client.post("/v1/integrations", json={"provider": "CALDAV", "serverUrl": xandikos_server.url})
        body = assert_problem(response, 422, "/problems/unsafe-url")
        assert body["detail"]
        assert (await client.get("/v1/integrations")).json()["data"] == []


async def test_connect_input_is_validated(api: httpx.AsyncClient) -> None:
    no_url = await api.post("/v1/integrations", json={"provider": "CALDAV", "username": "u", "password": "p"})
    assert "serverUrl" in str(assert_problem(no_url, 422, "/problems/validation-error")["detail"])
    no_user = await api.post("/v1/integrations", json={"provider": "CALDAV", "serverUrl": "https://example.com/", "password": "hunter2"})
    body = assert_problem(no_user, 422, "/problems/validation-error")
    assert "hunter2" not in no_user.text and "username" in str(body["detail"])
    unknown = await api.post("/v1/integrations", json={"provider": "EXCHANGE", "serverUrl": "https://example.com/"})
    assert_problem(unknown, 422, "/problems/validation-error")


# --- configuring -------------------------------------------------------------------------------


async def test_patch_with_seed_001_settings(api: httpx.AsyncClient, xandikos_server: CalDAVServer) -> None:
    xandikos_server.ensure_running()
    calendar_url = await xandikos_server.mkcalendar()
    created = await connect(api, xandikos_server, calendar_url)
    path = f"/v1/integrations/{created['id']}"

    response = await api.patch(path, json=SEED_001)
    assert response.status_code == 200, response.text
    settings = response.json()["settings"]
    assert settings["syncDirection"] == "INBOUND" and settings["syncFrequency"] == 5
    assert settings["calendarsToSync"] == ["primary"]
    assert settings["eventPrivacy"] == {"showTitle": False, "showDescription": True, "showAttendees": True, "showLocation": True}
    assert settings["conflictPolicy"] == "REMOTE_WINS" and settings["createEventsIn"] == "primary"
    assert not any("_" in key for key in settings)  # camelCase throughout
    assert (await api.get(path)).json()["settings"] == settings

    # Selection follows calendarsToSync: only the primary calendar (if the server names one).
    calendars = (await api.get(f"{path}/calendars", params={"limit": 500})).json()["data"]
    assert all(c["selected"] == c["isPrimary"] for c in calendars)

    # A partial change keeps the rest; a CalDAV account may write (the ICS-only rule is not applied).
    response = await api.patch(path, json={"syncDirection": "BOTH", "calendarsToSync": [calendar_url]})
    assert response.status_code == 200, response.text
    settings = response.json()["settings"]
    assert (settings["syncDirection"], settings["syncFrequency"]) == ("BOTH", 5)
    assert settings["eventPrivacy"]["showTitle"] is False
    assert (await api.patch(path, json={"syncDirection": "OUTBOUND"})).status_code == 200

    for bad in (
        {"syncFrequncy": 5},
        {"syncFrequency": 0},
        {"syncFrequency": "often"},
        {"syncDirection": "SIDEWAYS"},
        {"eventPrivacy": {"showTitle": False, "showColour": True}},
        {"conflictPolicy": "ASK_ME"},
    ):
        problem = assert_problem(await api.patch(path, json=bad), 422, "/problems/validation-error")
        assert problem["detail"], bad
    # None of the refused changes was kept.
    final = (await api.get(path)).json()["settings"]
    assert (final["syncDirection"], final["syncFrequency"], final["conflictPolicy"]) == ("OUTBOUND", 5, "REMOTE_WINS")


# --- syncing -------------------------------------------------------------------------------------


async def test_resync_is_run_by_the_embedded_worker(api: httpx.AsyncClient, caldav_server: CalDAVServer) -> None:
    calendar_url = await caldav_server.mkcalendar(display_name="Synced")
    await put_events(caldav_server, calendar_url, "a", "b")
    created = await connect(api, caldav_server, calendar_url)
    # A new integration is due at once: the worker syncs it on its next tick.
    first = await wait_for_status(api, created["id"], synced_after(None))
    assert first["state"] == "ACTIVE" and [c["itemCount"] for c in first["calendars"]] == [2]

    await put_events(caldav_server, calendar_url, "c")
    accepted = await resync(api, created["id"])
    assert accepted["fullSyncRequested"] is True
    assert accepted["state"] in ("ACTIVE", "SYNCING")
    assert parse_time(accepted["nextSyncAt"]) <= datetime.now(timezone.utc)

    status = await wait_for_status(api, created["id"], synced_after(first["lastSyncAt"]))
    assert status["state"] == "ACTIVE" and status["lastError"] is None
    assert status["rateLimited"] is False and status["rateLimitResetsAt"] is None
    assert parse_time(status["nextSyncAt"]) > datetime.now(timezone.utc)
    assert status["fullSyncRequested"] is False and status["conflicts"] == 0
    [calendar] = status["calendars"]
    assert calendar["name"] == "Synced" and calendar["itemCount"] == 3
    assert calendar["lastFullSyncAt"] is not None and calendar["lastError"] is None
    got = (await api.get(f"/v1/integrations/{created['id']}")).json()
    assert got["lastSyncAt"] == status["lastSyncAt"] and got["status"] == "ACTIVE"
    conflicts = await api.get(f"/v1/integrations/{created['id']}/conflicts")
    assert conflicts.status_code == 200 and conflicts.json()["data"] == []


async def test_sync_status_reports_a_stopped_server_and_recovers(
    api: httpx.AsyncClient, caldav_server: CalDAVServer
) -> None:
    calendar_url = await caldav_server.mkcalendar()
    await put_events(caldav_server, calendar_url, "one")
    created = await connect(api, caldav_server, calendar_url)
    first = await wait_for_status(api, created["id"], synced_after(None))
    assert first["state"] == "ACTIVE"

    caldav_server.stop()
    try:
        await resync(api, created["id"])
        failed = await wait_for_status(api, created["id"], lambda s: s["state"] == "ERROR")
        error = failed["lastError"]
        assert isinstance(error, str) and error and "Traceback" not in error
        assert f"127.0.0.1:{caldav_server.port}" in error, error  # names the server it could not reach
        if caldav_server.password is not None:
            assert caldav_server.password not in error
        assert failed["lastSyncAt"] == first["lastSyncAt"]  # the last good sync is still the first one
        assert parse_time(failed["nextSyncAt"]) > datetime.now(timezone.utc)  # retried later, not in a loop
        got = (await api.get(f"/v1/integrations/{created['id']}")).json()
        assert (got["status"], got["lastError"]) == ("ERROR", error)
    finally:
        caldav_server.start()

    await put_events(caldav_server, calendar_url, "two")
    await resync(api, created["id"], full=False)
    recovered = await wait_for_status(api, created["id"], synced_after(first["lastSyncAt"]))
    assert recovered["state"] == "ACTIVE" and recovered["lastError"] is None
    assert [c["itemCount"] for c in recovered["calendars"]] == [2]


# --- disconnecting and tenants ---------------------------------------------------------------------


async def credential_rows(server: RunningServer, connection_id: str) -> int:
    runtime = build_runtime(server.settings)
    try:
        async with UnitOfWork(runtime) as uow:
            return int(
                await uow.session.scalar(
                    select(func.count()).select_from(models.Credential).where(models.Credential.connection_id == connection_id)
                )
                or 0
            )
    finally:
        await runtime.close()


async def test_delete_forgets_the_integration_and_its_credentials(
    api: httpx.AsyncClient, live_server: RunningServer, radicale_server: CalDAVServer
) -> None:
    radicale_server.ensure_running()
    calendar_url = await radicale_server.mkcalendar()
    created = await connect(api, radicale_server, calendar_url)
    await wait_for_status(api, created["id"], synced_after(None))  # not deleted in the middle of its first sync
    assert await credential_rows(live_server, created["id"]) == 1

    response = await api.delete(f"/v1/integrations/{created['id']}")
    assert response.status_code == 204 and response.content == b""
    assert_problem(await api.get(f"/v1/integrations/{created['id']}"), 404, "/problems/not-found")
    assert_problem(await api.get(f"/v1/integrations/{created['id']}/calendars"), 404, "/problems/not-found")
    assert_problem(await api.delete(f"/v1/integrations/{created['id']}"), 404, "/problems/not-found")
    assert (await api.get("/v1/integrations")).json()["data"] == []
    assert await credential_rows(live_server, created["id"]) == 0


async def test_another_tenant_cannot_see_or_touch_the_integration(
    api: httpx.AsyncClient, live_server: RunningServer, xandikos_server: CalDAVServer
) -> None:
    xandikos_server.ensure_running()
    calendar_url = await xandikos_server.mkcalendar()
    created = await connect(api, xandikos_server, calendar_url)
    path = f"/v1/integrations/{created['id']}"

    async with live_server.client(await new_key(live_server)) as other:
        assert (await other.get("/v1/integrations")).json()["data"] == []
        for response in (
            await other.get(path),
            await other.patch(path, json={"syncFrequency": 60}),
            await other.delete(path),
            await other.get(f"{path}/calendars"),
            await other.get(f"{path}/sync-status"),
            await other.post(f"{path}/resync", json={"fullSync": True}),
            await other.get(f"{path}/conflicts"),
        ):
            assert_problem(response, 404, "/problems/not-found")

    still = await api.get(path)
    assert still.status_code == 200 and still.json()["settings"]["syncFrequency"] == 15
