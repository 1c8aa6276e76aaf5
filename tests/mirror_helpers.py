"""Filling the mirror the way a sync will: iCalendar text through the real parser and services.

There is no connection API before the sync issue, so connections and calendars are created
here as rows; everything after that goes through calmesh's own services.
"""

from __future__ import annotations

from typing import Any

from calmesh.ical import parse_calendar
from calmesh.ids import new_id
from calmesh.services.mirror import upsert_event
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models


async def make_user(runtime: Runtime, tenant_id: str, email: str, time_zone: str = "UTC") -> str:
    async with UnitOfWork(runtime) as uow:
        user = models.User(id=new_id("usr"), tenant_id=tenant_id, email=email, time_zone=time_zone)
        uow.session.add(user)
        await uow.commit()
        return user.id


async def make_tenant(runtime: Runtime) -> str:
    async with UnitOfWork(runtime) as uow:
        tenant = models.Tenant(id=new_id("tnt"), name=new_id("tenant"))
        uow.session.add(tenant)
        await uow.commit()
        return tenant.id


async def make_calendar(
    runtime: Runtime, tenant_id: str, user_id: str | None, *, name: str = "Work",
    settings: dict[str, Any] | None = None, account_email: str | None = None, time_zone: str | None = None,
) -> str:
    async with UnitOfWork(runtime) as uow:
        connection = models.Connection(
            id=new_id("con"), tenant_id=tenant_id, user_id=user_id, provider="CALDAV",
            settings=settings or {}, account_email=account_email,
        )
        uow.session.add(connection)
        await uow.session.flush()
        calendar = models.Calendar(
            id=new_id("cal"), tenant_id=tenant_id, connection_id=connection.id,
            provider_calendar_id=f"/cal/{name}/", name=name, time_zone=time_zone, is_primary=True,
        )
        uow.session.add(calendar)
        await uow.commit()
        return calendar.id


def vcalendar(*vevents: str) -> str:
    body = "\n".join(f"BEGIN:VEVENT\n{v.strip()}\nDTSTAMP:20260101T000000Z\nEND:VEVENT" for v in vevents)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//test//EN\n{body}\nEND:VCALENDAR\n"


async def put_events(runtime: Runtime, tenant_id: str, calendar_id: str, *vevents: str) -> dict[str, str]:
    """Upsert the events into the mirror; returns {uid or uid#recurrence-id: row id}."""
    parsed = parse_calendar(vcalendar(*vevents))
    assert not [p for p in parsed.problems if p.fatal], parsed.problems
    ids = {}
    async with UnitOfWork(runtime) as uow:
        for event in parsed.events:
            row = await upsert_event(uow, tenant_id, calendar_id, event)
            ids[event.uid + (f"#{row.recurrence_id}" if row.recurrence_id else "")] = row.id
        await uow.commit()
    return ids
