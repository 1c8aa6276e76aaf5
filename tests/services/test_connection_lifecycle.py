"""The connection lifecycle and the events it announces, against a real Radicale server.

Refused credentials are made the way they happen in life: the password calmesh holds stops
working (here: the vault gets a wrong one), and the server answers 401. An outage is a server
address nobody listens on. Every announcement is read back from the outbox (``webhook_events``),
which is what the dispatcher sends.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from calmesh.errors import InvalidInput, InvalidState, ProviderAuthFailed, ProviderUnreachable
from calmesh.services import integrations
from calmesh.services.credentials import load_credentials, store_credentials
from calmesh.services.integrations import IntegrationCreate, ResyncRequest
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.sync import due_connections, sync_connection
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.migrate import upgrade
from tests.caldav_servers import CalDAVServer
from tests.conftest import free_port, make_settings
from tests.services.test_sync_caldav import NEXT_YEAR, calendar_id_of, connect, vcalendar, vevent

UTC = timezone.utc


@pytest.fixture
async def runtime(database_url: str, tmp_path: Path) -> Runtime:  # type: ignore[misc]
    rt = build_runtime(make_settings(database_url, tmp_path, allow_private_network=True))
    await upgrade(rt.engine)
    yield rt
    await rt.close()


async def announced(runtime: Runtime, event_type: str | None = None) -> list[dict[str, Any]]:
    """The outbox, oldest first: [{"type", **data}]."""
    async with UnitOfWork(runtime) as uow:
        statement = select(models.WebhookEvent).order_by(models.WebhookEvent.id)
        if event_type is not None:
            statement = statement.where(models.WebhookEvent.type == event_type)
        return [{"type": row.type, **row.data} for row in (await uow.session.scalars(statement)).all()]


async def connection_row(runtime: Runtime, connection_id: str) -> models.Connection:
    async with UnitOfWork(runtime) as uow:
        row = await uow.session.get(models.Connection, connection_id)
        assert row is not None
        uow.session.expunge(row)  # readable after the unit of work ends
        return row


async def break_password(runtime: Runtime, tenant_id: str, connection_id: str) -> None:
    async with UnitOfWork(runtime) as uow:
        await store_credentials(uow, tenant_id, connection_id, {"password": "no-longer-valid"})
        await uow.commit()


async def reauthenticate(runtime: Runtime, tenant_id: str, server: CalDAVServer, connection_id: str, password: str | None = None) -> integrations.IntegrationRead:
    return await integrations.connect(
        runtime,
        tenant_id,
        IntegrationCreate(
            provider="CALDAV", server_url=server.url, username=server.username,
            password=password or server.password, connection_id=connection_id,
        ),
    )


# --- TOKEN_EXPIRED and re-authentication ----------------------------------------------------


async def test_refused_credentials_expire_the_connection_once_and_stop_its_syncs(runtime: Runtime, radicale_server: CalDAVServer) -> None:
    url = await radicale_server.mkcalendar("expiring")
    tenant_id, connection_id = await connect(runtime, radicale_server, url)
    await sync_connection(runtime, connection_id)
    await break_password(runtime, tenant_id, connection_id)

    with pytest.raises(ProviderAuthFailed):
        await sync_connection(runtime, connection_id, full=True)
    with pytest.raises(ProviderAuthFailed):
        await sync_connection(runtime, connection_id, full=True)  # someone insists: still one announcement

    row = await connection_row(runtime, connection_id)
    assert row.status == "TOKEN_EXPIRED" and "refused the username or password" in (row.last_error or "")
    expired = await announced(runtime, "integration.token_expired")
    assert len(expired) == 1
    assert expired[0]["connectionId"] == connection_id and expired[0]["userActionRequired"] is True
    assert "no-longer-valid" not in str(expired[0])
    assert await announced(runtime, "integration.error") == []
    # Stopped: the scheduler leaves it alone, a resync is refused with the way out.
    async with UnitOfWork(runtime) as uow:
        await uow.session.execute(update(models.Connection).values(next_sync_at=datetime.now(UTC) - timedelta(hours=1)))
        await uow.commit()
    assert connection_id not in await due_connections(runtime)
    assert connection_id not in await integrations.due_credential_checks(runtime)
    with pytest.raises(InvalidState, match="re-authentication"):
        await integrations.request_resync(runtime, tenant_id, connection_id, ResyncRequest())


async def test_reauthentication_keeps_id_settings_and_cursor_and_syncs_incrementally(
    runtime: Runtime, radicale_server: CalDAVServer
) -> None:
    url = await radicale_server.mkcalendar("reauth")
    await radicale_server.put_object(url, "a.ics", vcalendar(vevent("a", "Standup", f"{NEXT_YEAR}0302T090000")))
    tenant_id, connection_id = await connect(runtime, radicale_server, url, syncFrequency=30)
    await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)
    async with UnitOfWork(runtime) as uow:
        cursor_before = (await uow.session.get(models.SyncState, calendar_id)).cursor  # type: ignore[union-attr]
    await break_password(runtime, tenant_id, connection_id)
    with pytest.raises(ProviderAuthFailed):
        await sync_connection(runtime, connection_id, full=True)

    with pytest.raises(ProviderAuthFailed):
        await reauthenticate(runtime, tenant_id, radicale_server, connection_id, password="still-wrong")
    assert (await connection_row(runtime, connection_id)).status == "TOKEN_EXPIRED"  # a failed attempt changes nothing

    read = await reauthenticate(runtime, tenant_id, radicale_server, connection_id)
    assert read.id == connection_id and read.status == "ACTIVE" and read.last_error is None
    assert read.settings.sync_frequency == 30 and read.settings.calendars_to_sync == [url]
    async with UnitOfWork(runtime) as uow:
        state = await uow.session.get(models.SyncState, calendar_id)
        assert state is not None and state.cursor == cursor_before
        assert dict(await load_credentials(uow, tenant_id, connection_id)) == {"password": radicale_server.password}
    assert connection_id in await due_connections(runtime)  # an incremental sync starts at once
    assert runtime.signals.sync_requested.is_set()

    await radicale_server.put_object(url, "b.ics", vcalendar(vevent("b", "Lunch", f"{NEXT_YEAR}0302T120000")))
    report = await sync_connection(runtime, connection_id)
    assert [c.full for c in report.calendars] == [False]
    assert report.total("created") == 1
    synced = await announced(runtime, "integration.synced")
    assert synced[-1]["created"] == 1 and synced[-1]["fullSync"] is False


async def test_reauthentication_cannot_move_the_connection_to_another_server(runtime: Runtime, radicale_server: CalDAVServer, xandikos_server: CalDAVServer) -> None:
    url = await radicale_server.mkcalendar("moving")
    tenant_id, connection_id = await connect(runtime, radicale_server, url)
    with pytest.raises(InvalidInput, match="keeps the server"):
        await integrations.connect(
            runtime, tenant_id, IntegrationCreate(provider="CALDAV", server_url=xandikos_server.url, connection_id=connection_id)
        )
    with pytest.raises(InvalidInput, match="ICS"):
        await integrations.connect(runtime, tenant_id, IntegrationCreate(provider="ICS", url=url, connection_id=connection_id))


# --- refresh and the daily health check ------------------------------------------------------


async def test_refresh_reports_refused_credentials_and_brings_working_ones_back(runtime: Runtime, radicale_server: CalDAVServer) -> None:
    url = await radicale_server.mkcalendar("refresh")
    tenant_id, connection_id = await connect(runtime, radicale_server, url)
    await break_password(runtime, tenant_id, connection_id)

    with pytest.raises(ProviderAuthFailed):
        await integrations.refresh(runtime, tenant_id, connection_id)
    with pytest.raises(ProviderAuthFailed):
        await integrations.refresh(runtime, tenant_id, connection_id)
    assert (await connection_row(runtime, connection_id)).status == "TOKEN_EXPIRED"
    assert len(await announced(runtime, "integration.token_expired")) == 1

    async with UnitOfWork(runtime) as uow:
        await store_credentials(uow, tenant_id, connection_id, {"password": radicale_server.password})
        await uow.commit()
    read = await integrations.refresh(runtime, tenant_id, connection_id)
    assert read.status == "ACTIVE" and read.credentials_checked_at is not None
    assert connection_id in await due_connections(runtime)


async def test_daily_health_check_asks_only_for_credentials_unproven_for_a_day(runtime: Runtime, radicale_server: CalDAVServer) -> None:
    url = await radicale_server.mkcalendar("health")
    tenant_id, connection_id = await connect(runtime, radicale_server, url)
    assert connection_id not in await integrations.due_credential_checks(runtime)  # just proven by connecting

    async with UnitOfWork(runtime) as uow:
        await uow.session.execute(
            update(models.Connection).values(credentials_checked_at=datetime.now(UTC) - timedelta(days=2))
        )
        await uow.commit()
    assert connection_id in await integrations.due_credential_checks(runtime)
    assert await integrations.check_credentials(runtime, connection_id) == "ACTIVE"
    assert connection_id not in await integrations.due_credential_checks(runtime)

    await break_password(runtime, tenant_id, connection_id)
    async with UnitOfWork(runtime) as uow:
        await uow.session.execute(update(models.Connection).values(credentials_checked_at=None))
        await uow.commit()
    assert await integrations.check_credentials(runtime, connection_id) == "TOKEN_EXPIRED"
    assert [e["connectionId"] for e in await announced(runtime, "integration.token_expired")] == [connection_id]


# --- ERROR with backoff, and recovery --------------------------------------------------------


async def test_transient_failures_give_error_with_backoff_announced_once_then_recovery(runtime: Runtime, radicale_server: CalDAVServer) -> None:
    url = await radicale_server.mkcalendar("outage")
    tenant_id, connection_id = await connect(runtime, radicale_server, url)
    await sync_connection(runtime, connection_id)
    real_server = radicale_server.url

    async def point_at(server_url: str) -> None:
        async with UnitOfWork(runtime) as uow:
            row = await uow.session.get(models.Connection, connection_id)
            assert row is not None
            row.account = {**row.account, "serverUrl": server_url}
            await uow.commit()

    await point_at(f"http://127.0.0.1:{free_port()}/")
    before = datetime.now(UTC)
    with pytest.raises(ProviderUnreachable):
        await sync_connection(runtime, connection_id, full=True)
    first = await connection_row(runtime, connection_id)
    async with UnitOfWork(runtime) as uow:  # the retry comes due
        await uow.session.execute(update(models.Connection).values(next_sync_at=datetime.now(UTC)))
        await uow.commit()
    with pytest.raises(ProviderUnreachable):
        await sync_connection(runtime, connection_id, full=True)
    second = await connection_row(runtime, connection_id)

    assert first.status == second.status == "ERROR" and (first.failure_count, second.failure_count) == (1, 2)
    assert first.next_sync_at is not None and second.next_sync_at is not None
    assert timedelta(seconds=50) < first.next_sync_at - before < timedelta(minutes=2)
    assert timedelta(seconds=110) < second.next_sync_at - before < timedelta(minutes=3)  # 1 min, then 2 min
    errors = await announced(runtime, "integration.error")
    assert len(errors) == 1
    assert errors[0]["userActionRequired"] is False and errors[0]["error"] and errors[0]["retryAt"]

    await point_at(real_server)
    await sync_connection(runtime, connection_id, full=True)
    assert (await connection_row(runtime, connection_id)).status == "ACTIVE"
    assert (await announced(runtime))[-1]["type"] == "integration.synced"


# --- integration.synced: when there is news --------------------------------------------------


async def test_synced_is_announced_for_news_and_requests_but_not_for_quiet_polls(runtime: Runtime, radicale_server: CalDAVServer) -> None:
    url = await radicale_server.mkcalendar("news")
    await radicale_server.put_object(url, "a.ics", vcalendar(vevent("a", "Standup", f"{NEXT_YEAR}0302T090000")))
    tenant_id, connection_id = await connect(runtime, radicale_server, url)
    calendar_id = await calendar_id_of(runtime, connection_id)

    await sync_connection(runtime, connection_id)  # the first sync: an initial import
    first = await announced(runtime, "integration.synced")
    assert len(first) == 1
    assert (first[0]["created"], first[0]["updated"], first[0]["deleted"]) == (1, 0, 0)
    assert first[0]["calendars"] == [
        {"id": calendar_id, "name": first[0]["calendars"][0]["name"], "fullSync": True,
         "created": 1, "updated": 0, "deleted": 0, "pushed": 0, "deletedAtProvider": 0, "conflicts": 0}
    ]
    assert await announced(runtime, "event.created") == []  # an import is one announcement, not one per event

    await sync_connection(runtime, connection_id)  # a poll that finds nothing stays quiet
    assert len(await announced(runtime, "integration.synced")) == 1

    await integrations.request_resync(runtime, tenant_id, connection_id, ResyncRequest())
    await sync_connection(runtime, connection_id)  # asked for: announced even with nothing new
    assert len(await announced(runtime, "integration.synced")) == 2

    await radicale_server.put_object(url, "a.ics", vcalendar(vevent("a", "Standup (moved)", f"{NEXT_YEAR}0302T100000")))
    await radicale_server.put_object(url, "b.ics", vcalendar(vevent("b", "Private", f"{NEXT_YEAR}0303T100000", "CLASS:PRIVATE")))
    await sync_connection(runtime, connection_id)
    latest = (await announced(runtime, "integration.synced"))[-1]
    assert (latest["created"], latest["updated"], latest["deleted"]) == (1, 1, 0)
    updated = await announced(runtime, "event.updated")
    assert [e["title"] for e in updated] == ["Standup (moved)"]
    assert updated[0]["calendarId"] == calendar_id and updated[0]["integrationId"] == connection_id
    created = await announced(runtime, "event.created")
    assert [(e["icalUid"], e["title"]) for e in created] == [("b", None)]  # a private event's title stays private

    await radicale_server.delete_object(url, "a.ics")
    await sync_connection(runtime, connection_id)
    deleted = await announced(runtime, "event.deleted")
    assert [(e["id"], e["icalUid"]) for e in deleted] == [(updated[0]["id"], "a")]


async def test_event_payloads_follow_the_connections_privacy_settings(runtime: Runtime, radicale_server: CalDAVServer) -> None:
    url = await radicale_server.mkcalendar("payload-privacy")
    tenant_id, connection_id = await connect(
        runtime, radicale_server, url, eventPrivacy={"showTitle": True, "showDescription": False, "showAttendees": False, "showLocation": True}
    )
    await sync_connection(runtime, connection_id)
    await radicale_server.put_object(
        url, "m.ics",
        vcalendar(vevent("m", "Board meeting", f"{NEXT_YEAR}0304T090000", "DESCRIPTION:salaries", "LOCATION:Room 1",
                         "ATTENDEE;CN=Ann:mailto:ann@example.com")),
    )
    await sync_connection(runtime, connection_id)
    [created] = await announced(runtime, "event.created")
    assert (created["title"], created["location"], created["description"], created["attendees"]) == ("Board meeting", "Room 1", None, [])


# --- disconnect ------------------------------------------------------------------------------


async def test_disconnect_deletes_credentials_and_announces_it(runtime: Runtime, radicale_server: CalDAVServer) -> None:
    url = await radicale_server.mkcalendar("leaving")
    tenant_id, connection_id = await connect(runtime, radicale_server, url)
    await integrations.disconnect(runtime, tenant_id, connection_id)

    [gone] = await announced(runtime, "integration.disconnected")
    assert (gone["connectionId"], gone["status"], gone["reason"], gone["revoked"]) == (connection_id, "DISCONNECTED", "user", False)
    async with UnitOfWork(runtime) as uow:
        assert await uow.session.get(models.Credential, connection_id) is None
        assert await uow.session.get(models.Connection, connection_id) is None
