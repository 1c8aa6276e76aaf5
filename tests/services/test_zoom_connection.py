"""A Zoom connection over its life, against calmesh's Zoom emulator served on loopback: connected
through the real consent flow, never synced, its tokens refreshed once however many callers (and
processes) find them stale — Zoom rotates refresh tokens, so a lost race would log the user out —
its settings, re-authentication, and a disconnect that revokes and forgets its meetings.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from calmesh.auth.oauth import TokenSet
from calmesh.errors import InvalidInput, InvalidState, ProviderAuthFailed
from calmesh.providers.base import MeetingRequest
from calmesh.services import integrations, meetings, oauth
from calmesh.services.credentials import load_credentials
from calmesh.services.integrations import IntegrationCreate
from calmesh.services.oauth import AuthUrlRequest, DatabaseTokenKeeper
from calmesh.services.runtime import Runtime
from calmesh.services.sync import due_connections, sync_connection
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from tests import zoom_connect
from tests.mirror_helpers import make_calendar, make_tenant, make_user
from tests.zoom_connect import ZOOM_REDIRECT, RuntimeFactory, book_with_meeting, connect_zoom, zoom_consent
from tests.zoom_sandbox import ADA, ServedZoomSandbox

UTC = timezone.utc

#: Runtimes with Zoom pointed at the emulator, on one database (fixtures shared with the other
#: Zoom service tests: pytest finds them among this module's names).
make_runtime, runtime = zoom_connect.make_runtime, zoom_connect.runtime


async def new_user(runtime: Runtime, email: str = "ada@calmesh.example") -> tuple[str, str]:
    tenant_id = await make_tenant(runtime)
    return tenant_id, await make_user(runtime, tenant_id, email)


def soon(hours: int = 24) -> MeetingRequest:
    start = (datetime.now(UTC) + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
    return MeetingRequest(topic="Intro call", start=start, duration_minutes=30)


async def stored_tokens(runtime: Runtime, tenant_id: str, connection_id: str) -> TokenSet:
    async with UnitOfWork(runtime) as uow:
        return TokenSet.from_secrets(dict((await load_credentials(uow, tenant_id, connection_id)).items()))


async def connection_row(runtime: Runtime, connection_id: str) -> models.Connection:
    async with UnitOfWork(runtime) as uow:
        row = await uow.session.get(models.Connection, connection_id)
        assert row is not None
        uow.session.expunge(row)
        return row


async def announced(runtime: Runtime, event_type: str) -> list[dict[str, Any]]:
    async with UnitOfWork(runtime) as uow:
        rows = await uow.session.scalars(
            select(models.WebhookEvent).where(models.WebhookEvent.type == event_type).order_by(models.WebhookEvent.id)
        )
        return [dict(row.data) for row in rows.all()]


def token_requests(served: ServedZoomSandbox, grant: str) -> int:
    return sum(1 for r in served.sandbox.requests if r.path == "/oauth/token" and (r.form or {}).get("grant_type") == grant)


# --- connecting -----------------------------------------------------------------------------


async def test_a_zoom_connection_belongs_to_a_user_shows_its_account_and_is_never_synced(
    zoom_sandbox: ServedZoomSandbox, runtime: Runtime
) -> None:
    tenant_id, user_id = await new_user(runtime)
    connection_id = await connect_zoom(runtime, tenant_id, user_id)

    read = await integrations.get_integration(runtime, tenant_id, connection_id)
    assert (read.provider, read.status, read.user_id, read.account_email) == ("ZOOM", "ACTIVE", user_id, ADA)
    assert read.account == {"email": ADA, "zoomUserId": zoom_sandbox.user_id, "zoomAccountId": zoom_sandbox.sandbox.account_id}
    assert read.settings.default_meeting_settings is not None and read.settings.default_meeting_settings.auto_recording == "none"
    assert read.permissions == {"meetings": "write"}
    # Proven by asking who the tokens act as: no calendars, nothing to sync.
    assert any(r.path == "/v2/users/me" for r in zoom_sandbox.sandbox.requests)
    assert (await integrations.list_calendars(runtime, tenant_id, connection_id, limit=10, cursor=None)).data == []
    assert connection_id not in await due_connections(runtime)
    with pytest.raises(InvalidState, match="no calendars"):
        await sync_connection(runtime, connection_id)
    with pytest.raises(InvalidState, match="no calendars"):
        await integrations.request_resync(runtime, tenant_id, connection_id, integrations.ResyncRequest())
    assert (await connection_row(runtime, connection_id)).status == "ACTIVE"
    # The daily credential check proves it the same way.
    assert await integrations.check_credentials(runtime, connection_id, refresh_token=True) == "ACTIVE"
    async with UnitOfWork(runtime) as uow:
        assert await meetings.conferencing_connection(uow, tenant_id, user_id) == connection_id
        assert await meetings.conferencing_connection(uow, tenant_id, await make_user(runtime, tenant_id, "x@y.z")) is None


async def test_a_zoom_connection_needs_its_user_and_an_operator_set_up(zoom_sandbox: ServedZoomSandbox, make_runtime: RuntimeFactory) -> None:
    runtime = await make_runtime()
    tenant_id, _ = await new_user(runtime)
    # calmesh's own callback could not tell whose meetings they are.
    with pytest.raises(InvalidInput, match="userId"):
        await oauth.create_auth_url(runtime, tenant_id, AuthUrlRequest(provider="ZOOM"))
    # Through the application's redirect without a userId anywhere: refused before the code is exchanged.
    started = await oauth.create_auth_url(runtime, tenant_id, AuthUrlRequest(provider="ZOOM", redirect_uri=ZOOM_REDIRECT))
    back = await zoom_consent(started.url, ADA)
    with pytest.raises(InvalidInput, match="userId"):
        await integrations.connect(
            runtime, tenant_id,
            IntegrationCreate(provider="ZOOM", code=back.params["code"], state=back.params["state"], redirect_uri=ZOOM_REDIRECT),
        )
    assert token_requests(zoom_sandbox, "authorization_code") == 0
    # userId in the body does it.
    user_id = await make_user(runtime, tenant_id, "someone@calmesh.example")
    started = await oauth.create_auth_url(runtime, tenant_id, AuthUrlRequest(provider="ZOOM", redirect_uri=ZOOM_REDIRECT))
    back = await zoom_consent(started.url, ADA)
    read = await integrations.connect(
        runtime, tenant_id,
        IntegrationCreate(
            provider="ZOOM", code=back.params["code"], state=back.params["state"], redirect_uri=ZOOM_REDIRECT, user_id=user_id,
            settings={"defaultMeetingSettings": {"waitingRoom": True}},  # type: ignore[arg-type]
        ),
    )
    assert read.user_id == user_id and read.settings.default_meeting_settings is not None
    assert read.settings.default_meeting_settings.waiting_room is True

    unconfigured = await make_runtime(zoom_client_id=None, zoom_client_secret=None)
    with pytest.raises(InvalidState, match="CALMESH_ZOOM_CLIENT_ID"):
        await oauth.create_auth_url(unconfigured, tenant_id, AuthUrlRequest(provider="ZOOM", user_id=user_id))


async def test_default_meeting_settings_are_zoom_only_and_merge_field_by_field(runtime: Runtime) -> None:
    tenant_id, user_id = await new_user(runtime)
    connection_id = await connect_zoom(runtime, tenant_id, user_id)

    changed = await integrations.configure(runtime, tenant_id, connection_id, {"defaultMeetingSettings": {"joinBeforeHost": True}})
    changed = await integrations.configure(runtime, tenant_id, connection_id, {"defaultMeetingSettings": {"autoRecording": "cloud"}})
    chosen = changed.settings.default_meeting_settings
    assert chosen is not None and (chosen.join_before_host, chosen.auto_recording, chosen.waiting_room) == (True, "cloud", False)
    with pytest.raises(InvalidInput, match="autoRecording|auto_recording|literal"):
        await integrations.configure(runtime, tenant_id, connection_id, {"defaultMeetingSettings": {"autoRecording": "tape"}})
    with pytest.raises(InvalidInput, match="only defaultMeetingSettings"):
        await integrations.configure(runtime, tenant_id, connection_id, {"syncDirection": "INBOUND"})
    reset = await integrations.configure(runtime, tenant_id, connection_id, {"defaultMeetingSettings": None})
    assert reset.settings.default_meeting_settings is not None and reset.settings.default_meeting_settings.auto_recording == "none"

    calendar_id = await make_calendar(runtime, tenant_id, user_id)
    async with UnitOfWork(runtime) as uow:
        calendar = await uow.session.get(models.Calendar, calendar_id)
        assert calendar is not None
        caldav_id = calendar.connection_id
    with pytest.raises(InvalidInput, match="ZOOM"):
        await integrations.configure(runtime, tenant_id, caldav_id, {"defaultMeetingSettings": {"waitingRoom": True}})


# --- refreshing -----------------------------------------------------------------------------


async def test_many_meetings_at_once_with_an_expired_token_refresh_it_once(zoom_sandbox: ServedZoomSandbox, runtime: Runtime) -> None:
    tenant_id, user_id = await new_user(runtime)
    connection_id = await connect_zoom(runtime, tenant_id, user_id)
    before = await stored_tokens(runtime, tenant_id, connection_id)
    zoom_sandbox.sandbox.expire_access_tokens(ADA)
    zoom_sandbox.sandbox.delay(0.2, path="/oauth/token")  # the refresh takes a while: everyone finds the token stale

    made = await asyncio.gather(*(meetings.schedule_meeting(runtime, tenant_id, connection_id, soon(h)) for h in range(1, 13)))

    assert len({m.meeting_id for m in made}) == 12
    assert token_requests(zoom_sandbox, "refresh_token") == 1  # rotation: a second refresh would have logged Ada out
    after = await stored_tokens(runtime, tenant_id, connection_id)
    assert after.refresh_token and after.refresh_token != before.refresh_token
    assert (await connection_row(runtime, connection_id)).status == "ACTIVE"
    assert await integrations.check_credentials(runtime, connection_id, refresh_token=True) == "ACTIVE"


async def test_two_processes_refreshing_at_once_leave_the_connection_working(
    zoom_sandbox: ServedZoomSandbox, make_runtime: RuntimeFactory
) -> None:
    first = await make_runtime()
    second = await make_runtime()  # another engine on the same database: another process
    tenant_id, user_id = await new_user(first)
    connection_id = await connect_zoom(first, tenant_id, user_id)
    stale = await stored_tokens(first, tenant_id, connection_id)
    app = oauth.oauth_app(first.settings, "ZOOM")
    zoom_sandbox.sandbox.delay(0.3, path="/oauth/token")

    keepers = [DatabaseTokenKeeper(rt, tenant_id, connection_id, app, stale) for rt in (first, second, first, second)]
    fresh = await asyncio.gather(*(keeper.refresh(stale) for keeper in keepers))

    assert len({t.access_token for t in fresh}) == 1 and fresh[0].access_token != stale.access_token
    assert token_requests(zoom_sandbox, "refresh_token") == 1
    assert await stored_tokens(second, tenant_id, connection_id) == fresh[0]

    # And through the meetings themselves: both processes find the token dead at once.
    zoom_sandbox.sandbox.expire_access_tokens(ADA)
    made = await asyncio.gather(
        *(meetings.schedule_meeting(rt, tenant_id, connection_id, soon(h)) for h, rt in enumerate([first, second] * 3, start=1))
    )
    assert len(made) == 6 and token_requests(zoom_sandbox, "refresh_token") == 2
    assert (await connection_row(second, connection_id)).status == "ACTIVE"
    assert await integrations.check_credentials(second, connection_id, refresh_token=True) == "ACTIVE"


async def test_refused_tokens_expire_the_connection_until_zoom_is_reconnected(zoom_sandbox: ServedZoomSandbox, runtime: Runtime) -> None:
    tenant_id, user_id = await new_user(runtime)
    connection_id = await connect_zoom(runtime, tenant_id, user_id)
    zoom_sandbox.sandbox.revoke_grants(ADA)

    with pytest.raises(ProviderAuthFailed):
        await meetings.schedule_meeting(runtime, tenant_id, connection_id, soon())
    row = await connection_row(runtime, connection_id)
    assert row.status == "TOKEN_EXPIRED" and row.last_error
    expired = await announced(runtime, "integration.token_expired")
    assert [(e["connectionId"], e["provider"], e["userActionRequired"]) for e in expired] == [(connection_id, "ZOOM", True)]
    async with UnitOfWork(runtime) as uow:
        assert await meetings.conferencing_connection(uow, tenant_id, user_id) is None
    requests_before = len(zoom_sandbox.sandbox.requests)
    with pytest.raises(InvalidState, match="reconnect Zoom"):
        await meetings.schedule_meeting(runtime, tenant_id, connection_id, soon())
    assert len(zoom_sandbox.sandbox.requests) == requests_before
    assert len(await announced(runtime, "integration.token_expired")) == 1

    # Re-authentication keeps the integration; another Zoom user's sign-in is refused.
    zoom_sandbox.sandbox.add_user("grace@example.com")
    started = await oauth.create_auth_url(
        runtime, tenant_id, AuthUrlRequest(provider="ZOOM", redirect_uri=ZOOM_REDIRECT, connection_id=connection_id)
    )
    back = await zoom_consent(started.url, "grace@example.com")
    with pytest.raises(InvalidInput, match="new integration"):
        await integrations.connect(
            runtime, tenant_id,
            IntegrationCreate(provider="ZOOM", code=back.params["code"], state=back.params["state"], redirect_uri=ZOOM_REDIRECT),
        )
    started = await oauth.create_auth_url(
        runtime, tenant_id, AuthUrlRequest(provider="ZOOM", redirect_uri=ZOOM_REDIRECT, connection_id=connection_id)
    )
    back = await zoom_consent(started.url, ADA)
    again, reauthenticated = await integrations.connect_or_reauthenticate(
        runtime, tenant_id,
        IntegrationCreate(provider="ZOOM", code=back.params["code"], state=back.params["state"], redirect_uri=ZOOM_REDIRECT),
    )
    assert reauthenticated and again.id == connection_id and again.status == "ACTIVE" and again.user_id == user_id
    assert connection_id not in await due_connections(runtime)
    assert (await meetings.schedule_meeting(runtime, tenant_id, connection_id, soon())).join_url


# --- disconnecting --------------------------------------------------------------------------


async def test_disconnecting_revokes_at_zoom_and_forgets_the_meetings(zoom_sandbox: ServedZoomSandbox, runtime: Runtime) -> None:
    tenant_id, user_id = await new_user(runtime)
    connection_id = await connect_zoom(runtime, tenant_id, user_id)
    meeting = await meetings.schedule_meeting(runtime, tenant_id, connection_id, soon())
    booking_id = await book_with_meeting(runtime, tenant_id, user_id, meeting)

    await integrations.disconnect(runtime, tenant_id, connection_id)

    assert any(r.path == "/oauth/revoke" and r.status == 200 for r in zoom_sandbox.sandbox.requests)
    async with UnitOfWork(runtime) as uow:
        assert await uow.session.get(models.Connection, connection_id) is None
        assert await uow.session.get(models.Credential, connection_id) is None
        assert (await uow.session.scalars(select(models.Meeting))).all() == []
        booking = await uow.session.get(models.Booking, booking_id)
        assert booking is not None and (booking.meeting_id, booking.conference) == (None, None)
    gone = await announced(runtime, "integration.disconnected")
    assert [(e["connectionId"], e["provider"], e["reason"], e["revoked"]) for e in gone] == [(connection_id, "ZOOM", "user", True)]
    # Zoom no longer accepts what calmesh held.
    with zoom_sandbox.client() as client:
        assert client.get("/v2/users/me").status_code == 401
