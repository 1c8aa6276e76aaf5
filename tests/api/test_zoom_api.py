"""Zoom through the API, end to end: connecting (``auth-url``, the emulator's consent page, calmesh's
callback or ``POST /v1/integrations`` with the code), the integration as the API shows it (no
secrets), ``defaultMeetingSettings``, the sync status with the day's meeting quota — and Zoom's
webhooks arriving at ``/v1/providers/zoom/notifications``: URL validation, signatures and
timestamps, ``app_deauthorized`` and ``meeting.deleted``.

calmesh runs under uvicorn on loopback with its settings pointing Zoom at the emulator
(:mod:`calmesh.sandbox.zoom`), whose webhook sender posts to calmesh for real.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from calmesh.providers.base import MeetingRequest
from calmesh.sandbox.zoom import ZoomSandbox, encrypted_token, webhook_signature
from calmesh.services import meetings
from calmesh.services.credentials import load_credentials
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.tenants import create_tenant
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from tests.conftest import RunningServer, free_port, make_settings, start_server
from tests.webhook_receiver import wait_until
from tests.zoom_connect import ZOOM_REDIRECT, book_with_meeting, zoom_consent, zoom_settings
from tests.zoom_sandbox import ADA, ServedZoomSandbox

UTC = timezone.utc
NOTIFICATIONS = "/v1/providers/zoom/notifications"


@dataclass
class Setup:
    calmesh: RunningServer
    served: ServedZoomSandbox

    @property
    def sandbox(self) -> ZoomSandbox:
        return self.served.sandbox


def _serve(sqlite_url: str, tmp_path: Path, **more: object) -> tuple[RunningServer, object]:
    port = free_port()
    settings = make_settings(sqlite_url, tmp_path, public_base_url=f"http://127.0.0.1:{port}", scheduler_tick_seconds=300, **more)
    return start_server(settings, port=port)


@pytest.fixture
def setup(zoom_sandbox: ServedZoomSandbox, sqlite_url: str, tmp_path: Path) -> Iterator[Setup]:
    running, thread = _serve(sqlite_url, tmp_path, **zoom_settings(zoom_sandbox))
    yield Setup(running, zoom_sandbox)
    running.server.should_exit = True
    thread.join(timeout=10)  # type: ignore[attr-defined]


@pytest.fixture
async def runtime(setup: Setup) -> AsyncIterator[Runtime]:
    """Another process on calmesh's database (to look at rows, and to make meetings)."""
    rt = build_runtime(setup.calmesh.settings)
    yield rt
    await rt.close()


async def new_tenant(runtime: Runtime) -> str:
    return (await create_tenant(runtime, f"tenant-{uuid.uuid4().hex[:8]}")).api_key.key


async def new_user(api: httpx.AsyncClient, email: str = "ada@calmesh.example") -> str:
    created = await api.post("/v1/users", json={"email": email, "name": "Ada"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def connect(api: httpx.AsyncClient, user_id: str, email: str = ADA) -> dict[str, object]:
    """Through the application's own redirect and ``POST /v1/integrations``."""
    started = (await api.post("/v1/integrations/auth-url", json={"provider": "ZOOM", "redirectUri": ZOOM_REDIRECT, "userId": user_id})).json()
    back = await zoom_consent(started["url"], email)
    created = await api.post(
        "/v1/integrations",
        json={"provider": "ZOOM", "code": back.params["code"], "state": back.params["state"], "redirectUri": ZOOM_REDIRECT},
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def soon(hours: int) -> MeetingRequest:
    start = (datetime.now(UTC) + timedelta(days=1, hours=hours)).replace(minute=0, second=0, microsecond=0)
    return MeetingRequest(topic="Intro call", start=start, duration_minutes=30)


async def tenant_of(runtime: Runtime, connection_id: str) -> str:
    async with UnitOfWork(runtime) as uow:
        row = await uow.session.get(models.Connection, connection_id)
        assert row is not None
        return row.tenant_id


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {"x-zm-request-timestamp": stamp, "x-zm-signature": webhook_signature(secret, stamp, body), "content-type": "application/json"}


# --- connecting -----------------------------------------------------------------------------


async def test_connecting_zoom_through_calmesh_callback_shows_the_account_without_secrets(setup: Setup, runtime: Runtime) -> None:
    key = await new_tenant(runtime)
    async with setup.calmesh.client(key) as api:
        user_id = await new_user(api)
        refused = await api.post("/v1/integrations/auth-url", json={"provider": "ZOOM"})
        assert refused.status_code == 422 and "userId" in refused.text

        started = (await api.post("/v1/integrations/auth-url", json={"provider": "ZOOM", "userId": user_id})).json()
        assert started["url"].startswith(setup.served.url + "/oauth/authorize?")
        assert "code_challenge=" in started["url"] and f"state={started['state']}" in started["url"]
        back = await zoom_consent(started["url"], ADA)
        assert str(back).startswith(setup.calmesh.url + "/v1/integrations/oauth/callback")
        async with httpx.AsyncClient(timeout=30) as browser:  # no API key: the state names the tenant
            page = await browser.get(str(back))
        assert page.status_code == 200 and ADA in page.text

        listed = (await api.get("/v1/integrations")).json()["data"]
        assert len(listed) == 1
        zoom = listed[0]
        assert (zoom["provider"], zoom["status"], zoom["userId"], zoom["accountEmail"]) == ("ZOOM", "ACTIVE", user_id, ADA)
        assert zoom["account"] == {"email": ADA, "zoomUserId": setup.served.user_id, "zoomAccountId": setup.sandbox.account_id}
        assert zoom["settings"]["defaultMeetingSettings"] == {
            "joinBeforeHost": False, "muteUponEntry": False, "waitingRoom": False, "autoRecording": "none",
        }
        async with UnitOfWork(runtime) as uow:
            secrets = dict((await load_credentials(uow, await tenant_of(runtime, zoom["id"]), zoom["id"])).items())
        everything = (await api.get(f"/v1/integrations/{zoom['id']}")).text + (await api.get("/v1/integrations")).text
        assert secrets["accessToken"] and secrets["refreshToken"]
        assert secrets["accessToken"] not in everything and secrets["refreshToken"] not in everything, "a token leaked into the API"
        assert setup.sandbox.client_secret not in everything
        assert (await api.get(f"/v1/integrations/{zoom['id']}/calendars")).json()["data"] == []


async def test_the_application_redeems_a_zoom_code_and_configures_its_meetings(setup: Setup, runtime: Runtime) -> None:
    key = await new_tenant(runtime)
    async with setup.calmesh.client(key) as api:
        user_id = await new_user(api)
        started = (await api.post("/v1/integrations/auth-url", json={"provider": "ZOOM", "redirectUri": ZOOM_REDIRECT, "userId": user_id})).json()
        back = await zoom_consent(started["url"], ADA)
        body = {
            "provider": "ZOOM", "code": back.params["code"], "state": back.params["state"], "redirectUri": ZOOM_REDIRECT,
            "settings": {"defaultMeetingSettings": {"muteUponEntry": True}},
        }
        created = await api.post("/v1/integrations", json=body)
        assert created.status_code == 201, created.text
        zoom = created.json()
        assert zoom["userId"] == user_id and zoom["settings"]["defaultMeetingSettings"]["muteUponEntry"] is True
        assert (await api.post("/v1/integrations", json=body)).status_code == 422  # the code served once

        path = f"/v1/integrations/{zoom['id']}"
        patched = await api.patch(path, json={"defaultMeetingSettings": {"autoRecording": "local", "waitingRoom": True}})
        assert patched.status_code == 200, patched.text
        assert patched.json()["settings"]["defaultMeetingSettings"] == {
            "joinBeforeHost": False, "muteUponEntry": True, "waitingRoom": True, "autoRecording": "local",
        }
        wrong = await api.patch(path, json={"syncDirection": "INBOUND"})
        assert wrong.status_code == 422 and "defaultMeetingSettings" in wrong.json()["detail"]
        assert (await api.patch(path, json={"defaultMeetingSettings": {"autoRecording": "vhs"}})).status_code == 422
        assert (await api.post(f"{path}/resync", json={})).status_code == 409

        status = (await api.get(f"{path}/sync-status")).json()
        assert status["state"] == "ACTIVE" and status["rateLimited"] is False and status["calendars"] == []
        assert status["meetingQuota"]["used"] == 0 and status["meetingQuota"]["limit"] == 100
        assert status["meetingQuota"]["resetsAt"].startswith((datetime.now(UTC).date() + timedelta(days=1)).isoformat())

        tenant_id = await tenant_of(runtime, zoom["id"])
        meeting = await meetings.schedule_meeting(runtime, tenant_id, zoom["id"], soon(1))
        at_zoom = setup.sandbox.get_meeting(meeting.meeting_id)
        assert at_zoom is not None and at_zoom["settings"]["auto_recording"] == "local" and at_zoom["settings"]["waiting_room"] is True
        assert (await api.get(f"{path}/sync-status")).json()["meetingQuota"]["used"] == 1

        assert (await api.delete(path)).status_code == 204
        assert (await api.get("/v1/integrations")).json()["data"] == []
        assert any(r.path == "/oauth/revoke" for r in setup.sandbox.requests)


# --- webhooks in ----------------------------------------------------------------------------


async def test_zoom_validates_the_endpoint_and_unsigned_or_stale_events_are_refused(setup: Setup) -> None:
    url = setup.calmesh.url + NOTIFICATIONS
    subscription = await asyncio.to_thread(setup.sandbox.subscribe_webhooks, url)
    assert subscription.url == url
    validation = [n for n in setup.sandbox.notifications if n.event == "endpoint.url_validation"]
    assert validation and validation[-1].status_code == 200

    secret = setup.sandbox.webhook_secret_token
    body = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}, "event_ts": 1}).encode()
    async with httpx.AsyncClient(base_url=setup.calmesh.url, timeout=10) as zoom:
        answered = await zoom.post(NOTIFICATIONS, content=body, headers=signed(secret, body))
        assert answered.status_code == 200
        assert answered.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": encrypted_token(secret, "qgg8vlvZRS6UYooatFL8Aw")}

        forged = await zoom.post(NOTIFICATIONS, content=body, headers=signed("not-the-secret", body))
        assert forged.status_code == 401 and forged.json()["type"] == "/problems/unauthenticated"
        tampered = await zoom.post(NOTIFICATIONS, content=body.replace(b"qgg8", b"xxxx"), headers=signed(secret, body))
        assert tampered.status_code == 401
        stale = await zoom.post(NOTIFICATIONS, content=body, headers=signed(secret, body, int(time.time()) - 600))
        assert stale.status_code == 401 and "five minutes" in stale.json()["detail"]
        future = await zoom.post(NOTIFICATIONS, content=body, headers=signed(secret, body, int(time.time()) + 600))
        assert future.status_code == 401
        unsigned = await zoom.post(NOTIFICATIONS, content=body, headers={"content-type": "application/json"})
        assert unsigned.status_code == 401

        other = json.dumps({"event": "meeting.started", "payload": {"account_id": "x", "object": {"id": 1}}, "event_ts": 1}).encode()
        ignored = await zoom.post(NOTIFICATIONS, content=other, headers=signed(secret, other))
        assert ignored.status_code == 200


async def test_without_the_secret_token_zoom_webhooks_are_not_served(zoom_sandbox: ServedZoomSandbox, sqlite_url: str, tmp_path: Path) -> None:
    settings = {**zoom_settings(zoom_sandbox), "zoom_webhook_secret_token": None}
    running, thread = _serve(sqlite_url, tmp_path, **settings)
    try:
        body = b'{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}'
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as zoom:
            answer = await zoom.post(NOTIFICATIONS, content=body, headers=signed("anything", body))
        assert answer.status_code == 404 and "CALMESH_ZOOM_WEBHOOK_SECRET_TOKEN" in answer.json()["detail"]
    finally:
        running.server.should_exit = True
        thread.join(timeout=10)  # type: ignore[attr-defined]


async def test_app_deauthorized_forgets_the_users_zoom_integrations(setup: Setup, runtime: Runtime) -> None:
    key = await new_tenant(runtime)
    setup.sandbox.add_user("stranger@example.com")
    await asyncio.to_thread(setup.sandbox.subscribe_webhooks, setup.calmesh.url + NOTIFICATIONS)
    async with setup.calmesh.client(key) as api:
        user_id = await new_user(api)
        zoom = await connect(api, user_id)
        connection_id = str(zoom["id"])
        tenant_id = await tenant_of(runtime, connection_id)
        meeting = await meetings.schedule_meeting(runtime, tenant_id, connection_id, soon(1))
        booking_id = await book_with_meeting(runtime, tenant_id, user_id, meeting)

        # Someone calmesh never connected removes the app: acknowledged, nothing changes.
        setup.sandbox.deauthorize("stranger@example.com")
        assert await wait_until(lambda: any(n.event == "app_deauthorized" for n in setup.sandbox.notifications), timeout=10)
        assert [n.status_code for n in setup.sandbox.notifications if n.event == "app_deauthorized"] == [200]
        assert (await api.get(f"/v1/integrations/{connection_id}")).json()["status"] == "ACTIVE"

        setup.sandbox.deauthorize(ADA)

        async def disconnected() -> bool:
            return (await api.get(f"/v1/integrations/{connection_id}")).json()["status"] == "DISCONNECTED"

        for _ in range(200):
            if await disconnected():
                break
            await asyncio.sleep(0.05)
        assert await disconnected()
        assert [n.status_code for n in setup.sandbox.notifications if n.event == "app_deauthorized"] == [200, 200]

        async with UnitOfWork(runtime) as uow:
            assert await uow.session.get(models.Credential, connection_id) is None
            assert (await uow.session.scalars(select(models.Meeting).where(models.Meeting.connection_id == connection_id))).all() == []
            booking = await uow.session.get(models.Booking, booking_id)
            assert booking is not None and (booking.meeting_id, booking.conference) == (None, None)
        events = (await api.get("/v1/webhook-events", params={"type": "integration.disconnected"})).json()["data"]
        gone = [e["data"] for e in events if e["type"] == "integration.disconnected"]
        assert [(d["connectionId"], d["provider"], d["status"], d["reason"]) for d in gone] == [
            (connection_id, "ZOOM", "DISCONNECTED", "provider"),
        ]
        status = (await api.get(f"/v1/integrations/{connection_id}/sync-status")).json()
        assert status["state"] == "DISCONNECTED"
        # A second delivery of the same event changes nothing and is not announced again.
        last = [n for n in setup.sandbox.notifications if n.event == "app_deauthorized"][-1]
        async with httpx.AsyncClient(base_url=setup.calmesh.url, timeout=10) as zoom_again:
            repeat = await zoom_again.post(NOTIFICATIONS, content=last.body, headers=signed(setup.sandbox.webhook_secret_token, last.body))
        assert repeat.status_code == 200
        events = (await api.get("/v1/webhook-events", params={"type": "integration.disconnected"})).json()["data"]
        assert len([e for e in events if e["type"] == "integration.disconnected"]) == 1


async def test_a_meeting_deleted_in_zoom_is_marked_deleted(setup: Setup, runtime: Runtime) -> None:
    key = await new_tenant(runtime)
    await asyncio.to_thread(setup.sandbox.subscribe_webhooks, setup.calmesh.url + NOTIFICATIONS)
    async with setup.calmesh.client(key) as api:
        zoom = await connect(api, await new_user(api))
    connection_id = str(zoom["id"])
    tenant_id = await tenant_of(runtime, connection_id)
    kept = await meetings.schedule_meeting(runtime, tenant_id, connection_id, soon(1))
    deleted = await meetings.schedule_meeting(runtime, tenant_id, connection_id, soon(2))

    setup.sandbox.delete_meeting_in_zoom(deleted.meeting_id)

    async def deleted_at(meeting_id: str) -> datetime | None:
        async with UnitOfWork(runtime) as uow:
            row = await uow.session.get(models.Meeting, meeting_id)
            assert row is not None
            return row.deleted_at

    for _ in range(200):
        if await deleted_at(deleted.id) is not None:
            break
        await asyncio.sleep(0.05)
    assert await deleted_at(deleted.id) is not None and await deleted_at(kept.id) is None
    assert [n.status_code for n in setup.sandbox.notifications if n.event == "meeting.deleted"] == [200]
    # Cancelling it now asks Zoom nothing.
    asked = len(setup.sandbox.requests)
    await meetings.cancel_meeting(runtime, tenant_id, deleted.id)
    assert len(setup.sandbox.requests) == asked
