"""The sync engine against Google: calmesh's Google provider talking to calmesh's Google emulator.

The two-way scenarios CalDAV passes (:mod:`tests.services.sync_scenarios`) run here unchanged,
then what only Google has: a sync token Google forgot (410), push notifications that reach the
mirror within two seconds through calmesh's real server, Meet links made at Google, rate
limits, expired access tokens and withdrawn grants.

Everything is real HTTP on loopback: the emulator (:mod:`calmesh.sandbox.google`) served by
uvicorn, calmesh connected to it through its sign-in flow (the consent page played by httpx),
and "another client" changing the emulator's store directly in Google's event JSON.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from calmesh.domain.events import ConferenceData
from calmesh.errors import ProviderAuthFailed, ProviderRateLimited
from calmesh.services import integrations
from calmesh.services.credentials import load_credentials
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.sync import sync_connection
from calmesh.services.tenants import create_tenant
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.migrate import upgrade
from tests.conftest import RunningServer, free_port, make_settings, start_server
from tests.google_sandbox import ADA, ServedGoogleSandbox
from tests.services.remote_sides import (
    APP_REDIRECT,
    GoogleSide,
    google_consent,
    google_settings,
    google_time,
    selected_calendar_id,
)
from tests.services.sync_scenarios import (
    TwoWaySyncScenarios,
    add_local,
    at,
    local_event,
    mirror_series,
    row_count,
)

UTC = timezone.utc
T = TypeVar("T")


@pytest.mark.parametrize("remote", ["google"], indirect=True)
class TestTwoWaySyncOnGoogle(TwoWaySyncScenarios):
    """Every two-way scenario, on Google."""


# --- Google only, through the services ------------------------------------------------------


@pytest.fixture
def google(google_sandbox: ServedGoogleSandbox) -> GoogleSide:
    return GoogleSide(google_sandbox)


@pytest.fixture
async def runtime(google: GoogleSide, sqlite_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = build_runtime(make_settings(sqlite_url, tmp_path, **google.settings()))
    await upgrade(rt.engine)
    yield rt
    await rt.close()


async def stored_cursor(runtime: Runtime, calendar_id: str) -> str | None:
    async with UnitOfWork(runtime) as uow:
        state = await uow.session.get(models.SyncState, calendar_id)
        return state.cursor if state else None


async def stored_tokens(runtime: Runtime, tenant_id: str, connection_id: str) -> dict[str, str]:
    async with UnitOfWork(runtime) as uow:
        return dict((await load_credentials(uow, tenant_id, connection_id)).items())


async def test_a_forgotten_sync_token_410_means_a_full_resync_with_every_change_and_no_duplicates(
    runtime: Runtime, google: GoogleSide
) -> None:
    cal = await google.new_calendar("reset")
    await google.add(cal, "a", "A", at(2, 9))
    await google.add(cal, "b", "B", at(2, 11))
    await google.add(cal, "weekly", "Weekly", at(2, 13), rrule="FREQ=WEEKLY;COUNT=4")
    _, connection_id = await google.connect(runtime, cal)
    await sync_connection(runtime, connection_id)
    calendar_id = await selected_calendar_id(runtime, connection_id)
    first_cursor = await stored_cursor(runtime, calendar_id)
    assert first_cursor

    google.sandbox.invalidate_sync_tokens()
    await google.change(cal, "a", summary="A (renamed)")
    await google.remove(cal, "b")
    await google.add(cal, "d", "D", at(3, 9))
    await google.cancel_instance(cal, "weekly", at(9, 13))

    report = await sync_connection(runtime, connection_id)
    refused = [r for r in google.sandbox.requests if dict(r.query).get("syncToken") == first_cursor]
    assert [r.status for r in refused] == [410], "the stored token was asked for and Google refused it"
    assert report.calendars[0].full
    series = await mirror_series(runtime, calendar_id)
    assert {uid: s[0].summary for uid, s in series.items()} == {"a": "A (renamed)", "d": "D", "weekly": "Weekly"}
    google.assert_cancelled(series["weekly"], [at(9, 13)])
    assert await row_count(runtime, models.Event, calendar_id=calendar_id) == 3
    assert await row_count(runtime, models.SyncItem, calendar_id=calendar_id) == 3
    assert await row_count(runtime, models.BusyBlock, calendar_id=calendar_id) == 2 + 3

    new_cursor = await stored_cursor(runtime, calendar_id)
    assert new_cursor and new_cursor != first_cursor
    await google.add(cal, "e", "E", at(4, 9))
    again = await sync_connection(runtime, connection_id)
    assert not again.calendars[0].full, "the new token is the one used next"
    assert (again.total("pulled"), again.total("pushed")) == (1, 0)
    assert sorted(await mirror_series(runtime, calendar_id)) == ["a", "d", "e", "weekly"]


async def test_a_meet_asked_for_in_calmesh_is_made_at_google_and_its_link_comes_back(runtime: Runtime, google: GoogleSide) -> None:
    cal = await google.new_calendar("meet")
    tenant_id, connection_id = await google.connect(runtime, cal)
    await sync_connection(runtime, connection_id)
    calendar_id = await selected_calendar_id(runtime, connection_id)
    google.sandbox.meet_pending_reads = 2  # Google makes the link asynchronously

    call = replace(local_event("call", "Design review", 9), conference=ConferenceData(service="google_meet"))
    await add_local(runtime, tenant_id, calendar_id, call)
    report = await sync_connection(runtime, connection_id)
    assert report.total("pushed") == 1 and report.calendars[0].failure is None

    [stored] = google.sandbox.events(cal)
    link = stored.get("hangoutLink")
    assert isinstance(link, str) and link.startswith("https://meet.google.com/")
    mirrored = (await mirror_series(runtime, calendar_id))["call"][0]
    assert mirrored.conference is not None and mirrored.conference.join_url == link
    assert mirrored.summary == "Design review"

    echo = await sync_connection(runtime, connection_id)
    assert echo.total("pulled") + echo.total("pushed") == 0, "the link calmesh stored came back as a change"
    assert [e.get("hangoutLink") for e in google.sandbox.events(cal)] == [link], "a second Meet was made"


@pytest.mark.parametrize("retry_after", [None, 120], ids=["backoff", "retry-after"])
async def test_rate_limiting_fails_the_sync_and_says_when_it_may_try_again(
    runtime: Runtime, google: GoogleSide, retry_after: int | None
) -> None:
    cal = await google.new_calendar("limited")
    await google.add(cal, "a", "A", at(2, 9))
    tenant_id, connection_id = await google.connect(runtime, cal)
    await sync_connection(runtime, connection_id)
    await google.add(cal, "b", "B", at(2, 10))

    google.sandbox.inject(403, reason="rateLimitExceeded", times=50, retry_after=retry_after)
    before = datetime.now(UTC)
    with pytest.raises(ProviderRateLimited):
        await sync_connection(runtime, connection_id)
    status = await integrations.sync_status(runtime, tenant_id, connection_id)
    assert status.rate_limited and status.rate_limit_resets_at is not None
    assert status.rate_limit_resets_at > before
    if retry_after is not None:
        assert abs((status.rate_limit_resets_at - before).total_seconds() - retry_after) < 10
    assert status.state == "ACTIVE", "rate limiting is not an error of the connection"
    calendar_id = await selected_calendar_id(runtime, connection_id)
    assert sorted(await mirror_series(runtime, calendar_id)) == ["a"]


async def test_an_expired_access_token_is_refreshed_and_stored_without_the_user_noticing(
    runtime: Runtime, google: GoogleSide
) -> None:
    cal = await google.new_calendar("refresh")
    tenant_id, connection_id = await google.connect(runtime, cal)
    await sync_connection(runtime, connection_id)
    before = await stored_tokens(runtime, tenant_id, connection_id)

    google.sandbox.expire_access_tokens()
    await google.add(cal, "a", "A", at(2, 9))
    report = await sync_connection(runtime, connection_id)

    after = await stored_tokens(runtime, tenant_id, connection_id)
    assert after["accessToken"] != before["accessToken"], "the new access token is kept"
    assert after["refreshToken"] == before["refreshToken"]
    assert report.total("pulled") == 1
    assert (await integrations.sync_status(runtime, tenant_id, connection_id)).state == "ACTIVE"
    # Refreshed once; the stored token is the one that works, so the next sync needs no refresh.
    await sync_connection(runtime, connection_id)
    grants = [((r.form or {}).get("grant_type"), r.status) for r in google.sandbox.requests if r.path == "/token"]
    assert grants == [("authorization_code", 200), ("refresh_token", 200)]


async def test_a_withdrawn_grant_ends_in_token_expired(runtime: Runtime, google: GoogleSide) -> None:
    cal = await google.new_calendar("revoked")
    tenant_id, connection_id = await google.connect(runtime, cal)
    await sync_connection(runtime, connection_id)

    google.sandbox.revoke_grants(ADA)
    with pytest.raises(ProviderAuthFailed):
        await sync_connection(runtime, connection_id)
    status = await integrations.sync_status(runtime, tenant_id, connection_id)
    assert status.state == "TOKEN_EXPIRED" and status.last_error


# --- push notifications, through calmesh's real server --------------------------------------


@pytest.fixture
def calmesh(google_sandbox: ServedGoogleSandbox, sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """calmesh served on loopback with its embedded worker, Google pointed at the emulator, and a
    scheduler that looks for due syncs only every 5 minutes: only a push explains a quick sync."""
    port = free_port()
    settings = make_settings(
        sqlite_url,
        tmp_path,
        public_base_url=f"http://127.0.0.1:{port}",
        scheduler_tick_seconds=300,
        **google_settings(google_sandbox.sandbox, google_sandbox.url),
    )
    running, thread = start_server(settings, port=port)
    yield running
    running.server.should_exit = True
    thread.join(timeout=10)


async def wait_for(condition: Callable[[], Awaitable[T]], what: str, timeout: float = 10.0) -> T:
    """``condition()``'s first true answer, asked every 50 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await condition()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def new_tenant_key(calmesh: RunningServer) -> str:
    runtime = build_runtime(calmesh.settings)
    try:
        return (await create_tenant(runtime, f"tenant-{uuid.uuid4().hex[:8]}")).api_key.key
    finally:
        await runtime.close()


async def connect_through_the_api(api: httpx.AsyncClient) -> str:
    """Ada's Google account connected as an application would: the integration's id."""
    started = await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "redirectUri": APP_REDIRECT, "loginHint": ADA})
    assert started.status_code == 200, started.text
    back = await google_consent(started.json()["url"], ADA)
    created = await api.post(
        "/v1/integrations",
        json={"provider": "GOOGLE", "code": back.params["code"], "state": back.params["state"], "redirectUri": APP_REDIRECT},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_a_change_at_google_reaches_the_mirror_by_push_within_two_seconds(
    calmesh: RunningServer, google_sandbox: ServedGoogleSandbox
) -> None:
    sandbox = google_sandbox.sandbox
    async with calmesh.client(await new_tenant_key(calmesh)) as api:
        integration_id = await connect_through_the_api(api)

        async def watched() -> dict[str, Any] | None:
            status = (await api.get(f"/v1/integrations/{integration_id}/sync-status")).json()
            ready = status["lastSyncAt"] and status["calendars"] and all(c["pushExpiresAt"] for c in status["calendars"])
            return status if ready and sandbox.channels else None

        status = await wait_for(watched, "the first sync and its push channel")
        assert status is not None
        assert [c.calendar_id for c in sandbox.channels] == [ADA]
        assert [c.address for c in sandbox.channels] == [calmesh.url + "/v1/providers/google/notifications"]
        synced_at = status["lastSyncAt"]

        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        changed_at = time.monotonic()
        sandbox.insert_event(ADA, {"iCalUID": "pushed", "summary": "Pushed", "start": google_time(start), "end": google_time(start + timedelta(hours=1))})

        async def mirrored() -> bool:
            listed = (await api.get("/v1/events")).json()["data"]
            return any(e["icalUid"] == "pushed" for e in listed)

        await wait_for(mirrored, "the event in the mirror", timeout=2.0)
        latency = time.monotonic() - changed_at
        print(f"\npush latency: a change at Google was in GET /v1/events after {latency * 1000:.0f} ms")
        assert latency < 2.0

        async def synced_again() -> bool:  # the mirror is written before the sync records its end
            return bool((await api.get(f"/v1/integrations/{integration_id}/sync-status")).json()["lastSyncAt"] != synced_at)

        await wait_for(synced_again, "the sync to finish")
        # What the emulator sent calmesh: the channel's "sync" message first, then the change.
        answered = [(n.resource_state, n.status_code) for n in sandbox.notifications]
        assert answered[0][0] == "sync" and ("exists", 204) in answered, answered


async def test_a_notification_with_a_wrong_token_is_refused_and_a_sync_message_starts_nothing(
    calmesh: RunningServer, google_sandbox: ServedGoogleSandbox
) -> None:
    sandbox = google_sandbox.sandbox
    async with calmesh.client(await new_tenant_key(calmesh)) as api:
        integration_id = await connect_through_the_api(api)

        async def watched() -> bool:
            status = (await api.get(f"/v1/integrations/{integration_id}/sync-status")).json()
            return bool(status["lastSyncAt"] and status["state"] == "ACTIVE" and sandbox.channels)

        await wait_for(watched, "the first sync and its push channel")
        [channel] = sandbox.channels
        synced_at = (await api.get(f"/v1/integrations/{integration_id}/sync-status")).json()["lastSyncAt"]
        address = calmesh.url + "/v1/providers/google/notifications"

        def headers(token: str, state: str) -> dict[str, str]:
            return {
                "X-Goog-Channel-ID": channel.id,
                "X-Goog-Channel-Token": token,
                "X-Goog-Resource-ID": channel.resource_id,
                "X-Goog-Resource-State": state,
                "X-Goog-Message-Number": "99",
            }

        async with httpx.AsyncClient(timeout=10) as google_like:
            forged = await google_like.post(address, headers=headers("not-the-token", "exists"))
            assert forged.status_code == 401, forged.text
            hello = await google_like.post(address, headers=headers(channel.token or "", "sync"))
            assert hello.status_code in (200, 204)
        await asyncio.sleep(1.0)
        after = (await api.get(f"/v1/integrations/{integration_id}/sync-status")).json()
        assert after["lastSyncAt"] == synced_at, "a refused notification or a sync message started a sync"
        assert after["state"] == "ACTIVE"
