"""The same migrations on SQLite and PostgreSQL, matching the models, with UTC kept UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from calmesh.ids import new_id
from calmesh.services.runtime import Runtime
from calmesh.storage import models
from calmesh.storage.migrate import current_revision, head_revision


async def test_migrated_database_is_at_head_and_matches_the_models(runtime: Runtime) -> None:
    assert await current_revision(runtime.engine) == head_revision()
    async with runtime.engine.connect() as connection:
        drift = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), models.Base.metadata)
        )
    assert drift == [], f"models and migrations disagree: {drift}"


async def _tenant_calendar(runtime: Runtime) -> tuple[str, str]:
    async with runtime.sessions() as session:
        tenant = models.Tenant(id=new_id("tnt"), name=new_id("name"))
        session.add(tenant)
        await session.flush()
        connection = models.Connection(id=new_id("con"), tenant_id=tenant.id, provider="CALDAV")
        session.add(connection)
        await session.flush()
        calendar = models.Calendar(
            id=new_id("cal"), tenant_id=tenant.id, connection_id=connection.id,
            provider_calendar_id="/dav/cal/", name="Work",
        )
        session.add(calendar)
        await session.commit()
        return tenant.id, calendar.id


async def test_an_event_row_keeps_everything_the_mirror_needs(runtime: Runtime) -> None:
    tenant_id, calendar_id = await _tenant_calendar(runtime)
    start = datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)
    event = models.Event(
        id=new_id("evt"), tenant_id=tenant_id, calendar_id=calendar_id,
        provider_event_id="abc.ics", ical_uid="uid-1@example.com",
        recurrence_id="20260405T093000", recurrence_range="THISANDFUTURE",
        start_at=start, end_at=start + timedelta(hours=1),
        time_zone="Europe/Berlin", end_time_zone="Europe/Berlin",
        rrule="FREQ=WEEKLY;BYDAY=SU", rdates=["20260410T093000"], exdates=["20260412T093000"],
        summary="Planning ✓", status="tentative", transparency="transparent", visibility="private",
        organizer={"email": "boss@example.com", "name": "Boss"},
        attendees=[{"email": "me@example.com", "status": "declined"}],
        conference={"service": "zoom", "joinUrl": "https://zoom.us/j/1"},
        sequence=3, etag='"e1"', content_hash="h", raw="BEGIN:VEVENT…",
    )
    async with runtime.sessions() as session:
        session.add(event)
        await session.commit()
    async with runtime.sessions() as session:
        loaded = await session.scalar(select(models.Event).where(models.Event.id == event.id))
    assert loaded is not None
    assert loaded.start_at == start and loaded.start_at.tzinfo is not None
    assert loaded.attendees == [{"email": "me@example.com", "status": "declined"}]
    assert (loaded.rrule, loaded.exdates, loaded.recurrence_range) == (
        "FREQ=WEEKLY;BYDAY=SU", ["20260412T093000"], "THISANDFUTURE",
    )
    assert loaded.summary == "Planning ✓" and loaded.conference == {"service": "zoom", "joinUrl": "https://zoom.us/j/1"}


async def test_utc_columns_normalise_offsets_and_refuse_naive_datetimes(runtime: Runtime) -> None:
    tenant_id, calendar_id = await _tenant_calendar(runtime)
    berlin_time = datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    async with runtime.sessions() as session:
        session.add(models.Event(
            id=new_id("evt"), tenant_id=tenant_id, calendar_id=calendar_id, ical_uid="u",
            start_at=berlin_time, end_at=berlin_time,
        ))
        await session.commit()
        stored = await session.scalar(select(models.Event.start_at))
    assert stored == datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc)
    assert stored is not None and stored.utcoffset() == timedelta(0)

    async with runtime.sessions() as session:
        session.add(models.Event(
            id=new_id("evt"), tenant_id=tenant_id, calendar_id=calendar_id, ical_uid="u2",
            start_at=datetime(2026, 7, 1, 12, 0), end_at=datetime(2026, 7, 1, 13, 0),
        ))
        with pytest.raises(Exception, match="naive datetime"):
            await session.commit()


async def test_deleting_a_connection_removes_its_calendars_events_and_credentials(runtime: Runtime) -> None:
    tenant_id, calendar_id = await _tenant_calendar(runtime)
    async with runtime.sessions() as session:
        calendar = await session.get(models.Calendar, calendar_id)
        assert calendar is not None
        now = datetime.now(timezone.utc)
        session.add(models.Event(id=new_id("evt"), tenant_id=tenant_id, calendar_id=calendar_id,
                                 ical_uid="u", start_at=now, end_at=now))
        session.add(models.SyncState(calendar_id=calendar_id, tenant_id=tenant_id, cursor="tok"))
        await session.commit()
        await session.delete(await session.get(models.Connection, calendar.connection_id))
        await session.commit()
        assert (await session.scalars(select(models.Event))).all() == []
        assert (await session.scalars(select(models.SyncState))).all() == []
