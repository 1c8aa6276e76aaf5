"""The events service on SQLite and PostgreSQL: listing and expanding the mirror, and writes
that go through to a real CalDAV server (Radicale and Xandikos)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import select

from calmesh.errors import InvalidInput, InvalidState, InvalidTimeZone, NotFound
from calmesh.services import events, integrations, sync
from calmesh.services.events import EventCreate, EventRead, EventUpdate
from calmesh.services.integrations import IntegrationCreate
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.migrate import upgrade
from calmesh.sync.settings import SyncSettings
from tests.conftest import make_settings
from tests.mirror_helpers import make_calendar, make_tenant, put_events

if TYPE_CHECKING:
    from tests.caldav_servers import CalDAVServer

# Until tests/conftest.py registers it for every test; imported by pytest, not by this module,
# so that pytest can rewrite its asserts.
pytest_plugins = ["tests.caldav_servers"]

UTC = timezone.utc

# Weekly on Mondays 09:00 Berlin, across the DST change of 29 March 2026: the 23rd excluded,
# the 30th moved to 11:30 and renamed, the 6 April cancelled.
SERIES = (
    (
        "UID:weekly\nSUMMARY:Standup\nDTSTART;TZID=Europe/Berlin:20260316T090000\n"
        "DTEND;TZID=Europe/Berlin:20260316T093000\nRRULE:FREQ=WEEKLY;COUNT=5\n"
        "EXDATE;TZID=Europe/Berlin:20260323T090000"
    ),
    (
        "UID:weekly\nRECURRENCE-ID;TZID=Europe/Berlin:20260330T090000\nSUMMARY:Standup (moved)\n"
        "DTSTART;TZID=Europe/Berlin:20260330T113000\nDTEND;TZID=Europe/Berlin:20260330T120000"
    ),
    (
        "UID:weekly\nRECURRENCE-ID;TZID=Europe/Berlin:20260406T090000\nSTATUS:CANCELLED\n"
        "DTSTART;TZID=Europe/Berlin:20260406T090000\nDTEND;TZID=Europe/Berlin:20260406T093000"
    ),
)


def single(uid: str, day: int, title: str = "Meeting") -> str:
    return f"UID:{uid}\nSUMMARY:{title}\nDTSTART:202604{day:02d}T100000Z\nDTEND:202604{day:02d}T110000Z"


def wire(read: EventRead) -> dict[str, Any]:
    """What the API sends for ``read``."""
    return read.model_dump(mode="json", by_alias=True)


async def all_pages(runtime: Runtime, tenant: str, **query: Any) -> list[EventRead]:
    found: list[EventRead] = []
    cursor = None
    while True:
        page = await events.list_events(runtime, tenant, cursor=cursor, **query)
        found += page.data
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


# --- reading the mirror ---------------------------------------------------------------------


async def test_a_series_expands_across_dst_with_its_exdate_override_and_cancelled_instance(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    calendar = await make_calendar(runtime, tenant, None)
    ids = await put_events(runtime, tenant, calendar, *SERIES, single("lunch", 1, "Lunch"),
                           "UID:holiday\nSUMMARY:Easter\nDTSTART;VALUE=DATE:20260406\nDTEND;VALUE=DATE:20260407")
    master = ids["weekly"]

    page = await events.list_events(
        runtime, tenant, start="2026-03-15", end="2026-04-19", expand=True, time_zone="Europe/Berlin", limit=50, cursor=None
    )
    shown = [wire(e) for e in page.data]
    assert [(e["id"], e["title"], e["start"]) for e in shown] == [
        (f"{master}_20260316T080000Z", "Standup", {"dateTime": "2026-03-16T09:00:00+01:00", "timeZone": "Europe/Berlin"}),
        (f"{master}_20260330T070000Z", "Standup (moved)", {"dateTime": "2026-03-30T11:30:00+02:00", "timeZone": "Europe/Berlin"}),
        (ids["lunch"], "Lunch", {"dateTime": "2026-04-01T10:00:00Z", "timeZone": "UTC"}),
        (ids["holiday"], "Easter", {"date": "2026-04-06"}),
        (f"{master}_20260413T070000Z", "Standup", {"dateTime": "2026-04-13T09:00:00+02:00", "timeZone": "Europe/Berlin"}),
    ]
    moved = shown[1]
    assert moved["recurringEventId"] == master and moved["recurrence"] is None
    assert moved["originalStartTime"] == {"dateTime": "2026-03-30T09:00:00+02:00", "timeZone": "Europe/Berlin"}
    assert moved["end"] == {"dateTime": "2026-03-30T12:00:00+02:00", "timeZone": "Europe/Berlin"}
    assert shown[3]["end"] == {"date": "2026-04-07"} and shown[3]["allDay"] is True
    assert shown[2]["recurringEventId"] is None and shown[2]["originalStartTime"] is None

    rows = await all_pages(runtime, tenant, limit=50)
    master_row = next(wire(e) for e in rows if e.id == master)
    assert master_row["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE;TZID=Europe/Berlin:20260323T090000"]
    override_rows = [wire(e) for e in rows if e.recurring_event_id == master]
    assert len(override_rows) == 2 and {o["status"] for o in override_rows} == {"confirmed", "cancelled"}


async def test_the_window_takes_overlaps_and_recurring_masters_that_start_before_its_end(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    calendar = await make_calendar(runtime, tenant, None)
    ids = await put_events(runtime, tenant, calendar, *SERIES, single("early", 1), single("late", 20),
                           "UID:allday\nSUMMARY:Off\nDTSTART;VALUE=DATE:20260410\nDTEND;VALUE=DATE:20260411")
    found = await all_pages(runtime, tenant, start="2026-04-09T00:00:00Z", end="2026-04-12T00:00:00Z", limit=50)
    # The series started before the window and may reach into it; its overrides are elsewhere.
    assert {e.id for e in found} == {ids["weekly"], ids["allday"]}
    # A date window is read in timeZone: 10 April in Tokyo ends at 15:00 UTC on the 10th.
    tokyo = await all_pages(runtime, tenant, start="2026-04-10", end="2026-04-10", time_zone="Asia/Tokyo", limit=50)
    assert {e.id for e in tokyo} == {ids["weekly"], ids["allday"]}
    later = await all_pages(runtime, tenant, start="2026-04-15", limit=50)
    assert {e.id for e in later} == {ids["late"], ids["weekly"]}

    with pytest.raises(InvalidInput) as caught:
        await events.list_events(runtime, tenant, start="2026-04-10", expand=True, limit=10, cursor=None)
    assert caught.value.field == "end"
    with pytest.raises(InvalidInput):
        await events.list_events(runtime, tenant, start="2026-04-10", end="2026-04-01", limit=10, cursor=None)
    with pytest.raises(InvalidTimeZone):
        await events.list_events(runtime, tenant, time_zone="Mars/Olympus", limit=10, cursor=None)


async def test_updated_since_and_the_calendar_filter(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    work = await make_calendar(runtime, tenant, None, name="Work")
    home = await make_calendar(runtime, tenant, None, name="Home")
    first = await put_events(runtime, tenant, work, single("a", 1))
    since = datetime.now(UTC)
    second = await put_events(runtime, tenant, work, single("b", 2))
    at_home = await put_events(runtime, tenant, home, single("c", 3))

    changed = await all_pages(runtime, tenant, updated_since=since.isoformat(), limit=50)
    assert {e.id for e in changed} == {second["b"], at_home["c"]}
    in_work = await all_pages(runtime, tenant, calendar_id=work, limit=50)
    assert {e.id for e in in_work} == {first["a"], second["b"]}
    assert {e.calendar_id for e in in_work} == {work}
    assert len({e.integration_id for e in await all_pages(runtime, tenant, limit=50)}) == 2
    with pytest.raises(NotFound):
        await events.list_events(runtime, tenant, calendar_id="cal_nosuchcalendar", limit=10, cursor=None)


async def test_lists_longer_than_a_page_are_paged_without_gaps_or_repeats(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    calendar = await make_calendar(runtime, tenant, None)
    ids = await put_events(runtime, tenant, calendar, *(single(f"e{day}", day) for day in range(1, 8)),
                           "UID:daily\nSUMMARY:Daily\nDTSTART:20260401T070000Z\nDTEND:20260401T071500Z\nRRULE:FREQ=DAILY")
    rows = await all_pages(runtime, tenant, limit=3)
    assert sorted(e.id for e in rows) == sorted(ids.values())

    first = await events.list_events(runtime, tenant, start="2026-04-01", end="2026-04-10", expand=True, limit=4, cursor=None)
    assert len(first.data) == 4 and first.next_cursor
    occurrences = await all_pages(runtime, tenant, start="2026-04-01", end="2026-04-10", expand=True, limit=4)
    starts = [e.start["dateTime"] for e in occurrences]
    assert len(occurrences) == 10 + 7 and starts == sorted(starts)
    assert len({e.id for e in occurrences}) == len(occurrences)
    with pytest.raises(InvalidInput):
        await events.list_events(runtime, tenant, start="2026-04-01", end="2026-04-10", expand=True, limit=4, cursor="bm9wZQ")


async def test_another_tenants_events_are_not_there(runtime: Runtime) -> None:
    owner, stranger = await make_tenant(runtime), await make_tenant(runtime)
    calendar = await make_calendar(runtime, owner, None)
    ids = await put_events(runtime, owner, calendar, single("mine", 1), *SERIES)
    event_id, instance_id = ids["mine"], f"{ids['weekly']}_20260316T080000Z"

    assert (await events.get_event(runtime, owner, event_id)).title == "Meeting"
    assert (await events.get_event(runtime, owner, instance_id)).title == "Standup"
    for attempt in (
        events.get_event(runtime, stranger, event_id),
        events.get_event(runtime, stranger, instance_id),
        events.delete_event(runtime, stranger, instance_id),
        events.update_event(runtime, stranger, event_id, EventUpdate(title="hijacked")),
        events.delete_event(runtime, stranger, event_id),
        events.list_events(runtime, stranger, calendar_id=calendar, limit=10, cursor=None),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert (await events.list_events(runtime, stranger, limit=10, cursor=None)).data == []
    with pytest.raises(NotFound):
        await events.create_event(runtime, stranger, EventCreate.model_validate({
            "calendarId": calendar, "title": "x",
            "start": {"dateTime": "2026-04-01T10:00:00Z"}, "end": {"dateTime": "2026-04-01T11:00:00Z"},
        }))
    assert (await events.get_event(runtime, owner, event_id)).title == "Meeting"


async def test_a_moved_series_takes_its_exceptions_along_and_stays_pending_without_a_provider(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    calendar = await make_calendar(runtime, tenant, None)  # a connection with no credentials stored
    master = (await put_events(runtime, tenant, calendar, *SERIES))["weekly"]

    moved = await events.update_event(runtime, tenant, master, EventUpdate.model_validate(
        {"start": {"dateTime": "2026-03-16T10:00:00", "timeZone": "Europe/Berlin"}}
    ))
    # The mirror holds the change; the provider could not be written, so it is pending.
    assert moved.sync_state == "PENDING" and "credentials" in str(moved.sync_error)
    assert wire(moved)["end"] == {"dateTime": "2026-03-16T10:30:00+01:00", "timeZone": "Europe/Berlin"}
    assert moved.recurrence == ["RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE;TZID=Europe/Berlin:20260323T100000"]
    shown = [wire(e) for e in await all_pages(
        runtime, tenant, start="2026-03-15", end="2026-04-19", expand=True, time_zone="Europe/Berlin", limit=50
    )]
    assert [(e["id"], e["title"], e["start"]["dateTime"]) for e in shown] == [
        (f"{master}_20260316T090000Z", "Standup", "2026-03-16T10:00:00+01:00"),
        (f"{master}_20260330T080000Z", "Standup (moved)", "2026-03-30T12:30:00+02:00"),
        (f"{master}_20260413T080000Z", "Standup", "2026-04-13T10:00:00+02:00"),
    ]

    # No longer recurring: the overrides have no instance left to replace.
    single_now = await events.update_event(runtime, tenant, master, EventUpdate(recurrence=None))
    assert single_now.recurrence is None
    assert [e.id for e in await all_pages(runtime, tenant, limit=50)] == [master]


# --- refusing writes ------------------------------------------------------------------------


def new_event(calendar: str, **more: Any) -> EventCreate:
    body = {
        "calendarId": calendar, "title": "Planning",
        "start": {"dateTime": "2026-04-01T10:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-04-01T11:00:00", "timeZone": "Europe/Berlin"},
    }
    return EventCreate.model_validate({**body, **more})


async def test_bad_input_is_refused_before_anything_is_stored(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    calendar = await make_calendar(runtime, tenant, None)
    cases = {
        "end": [
            {"end": {"dateTime": "2026-04-01T09:00:00", "timeZone": "Europe/Berlin"}},
            {"end": {"date": "2026-04-02"}},
            {"start": {"date": "2026-04-02"}, "end": {"date": "2026-04-02"}},
        ],
        "start.timeZone": [{"start": {"dateTime": "2026-04-01T10:00:00", "timeZone": "Europe/Atlantis"}}],
        "start.dateTime": [{"start": {"dateTime": "2026-04-01T10:00:00"}, "end": {"dateTime": "2026-04-01T11:00:00Z"}}],
        "timeZone": [{"timeZone": "Nowhere/Town", "start": {"dateTime": "2026-04-01T10:00:00"}}],
        "recurrence": [
            {"recurrence": ["RRULE:FREQ=SOMETIMES"]},
            {"recurrence": ["EXRULE:FREQ=DAILY"]},
            {"recurrence": ["RRULE:FREQ=DAILY\nEND:VEVENT"]},
            {"recurrence": ["EXDATE;TZID=Europe/Berlin:notadate"]},
        ],
    }
    for field, bodies in cases.items():
        for body in bodies:
            with pytest.raises(InvalidInput) as caught:
                await events.create_event(runtime, tenant, new_event(calendar, **body))
            assert caught.value.field == field, (body, caught.value)
    assert (await events.list_events(runtime, tenant, limit=10, cursor=None)).data == []


async def test_writes_are_refused_where_calmesh_may_not_write(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    inbound = await make_calendar(runtime, tenant, None, name="In", settings={"syncDirection": "INBOUND"})
    outbound = await make_calendar(runtime, tenant, None, name="Out", settings={"syncDirection": "OUTBOUND"})
    read_only = await make_calendar(runtime, tenant, None, name="RO")
    feed = await make_calendar(runtime, tenant, None, name="Feed")
    async with UnitOfWork(runtime) as uow:
        (await uow.session.get(models.Calendar, read_only)).read_only = True  # type: ignore[union-attr]
        feed_row = await uow.session.get(models.Calendar, feed)
        assert feed_row is not None
        (await uow.session.get(models.Connection, feed_row.connection_id)).provider = "ICS"  # type: ignore[union-attr]
        await uow.commit()
    for calendar, words in ((inbound, "INBOUND"), (read_only, "read-only"), (feed, "ICS")):
        with pytest.raises(InvalidState, match=words):
            await events.create_event(runtime, tenant, new_event(calendar))
    # OUTBOUND writes calmesh's own events only: the provider's stay untouched.
    theirs = (await put_events(runtime, tenant, outbound, single("theirs", 1)))["theirs"]
    with pytest.raises(InvalidState, match="OUTBOUND"):
        await events.update_event(runtime, tenant, theirs, EventUpdate(title="mine now"))
    with pytest.raises(InvalidState, match="OUTBOUND"):
        await events.delete_event(runtime, tenant, theirs)
    assert (await events.get_event(runtime, tenant, theirs)).title == "Meeting"


# --- writing through to a real CalDAV server ------------------------------------------------


@pytest.fixture
async def live_runtime(database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime that may reach CalDAV servers on loopback (SQLite and PostgreSQL)."""
    rt = build_runtime(make_settings(database_url, tmp_path, allow_private_network=True, provider_timeout_seconds=5))
    await upgrade(rt.engine)
    yield rt
    await rt.close()


async def connect(runtime: Runtime, tenant: str, server: CalDAVServer, calendar_url: str) -> tuple[str, str]:
    """An integration syncing only ``calendar_url``; (integration id, our calendar id)."""
    created = await integrations.connect(runtime, tenant, IntegrationCreate(
        provider="CALDAV", server_url=server.url, username=server.username or "user",
        password=server.password or "unused", settings=SyncSettings(calendars_to_sync=[calendar_url]),
    ))
    calendars = await integrations.list_calendars(runtime, tenant, created.id, limit=500, cursor=None)
    return created.id, next(c.id for c in calendars.data if c.provider_calendar_id == calendar_url)


async def object_names(server: CalDAVServer, calendar_url: str) -> list[str]:
    """The calendar's object names, by a raw PROPFIND."""
    async with httpx.AsyncClient(auth=server.auth, timeout=10) as client:
        response = await client.request(
            "PROPFIND", calendar_url, headers={"Depth": "1", "Content-Type": "application/xml"},
            content=b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>',
        )
    assert response.status_code == 207, response.text
    return sorted(unquote(href.rsplit("/", 1)[-1]) for href in re.findall(r"href>([^<]+\.ics)</", response.text))


async def test_a_series_written_through_and_its_instance_cancelled_as_an_exdate(
    live_runtime: Runtime, caldav_server: CalDAVServer
) -> None:
    runtime, server = live_runtime, caldav_server
    tenant = await make_tenant(runtime)
    url = await server.mkcalendar()
    _, calendar = await connect(runtime, tenant, server, url)

    created = await events.create_event(runtime, tenant, new_event(
        calendar, recurrence=["RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=Europe/Berlin:20260408T100000"],
        attendees=[{"email": "bob@example.com", "name": "Bob"}], reminders=[{"minutes": 10}],
    ))
    assert created.sync_state == "SYNCED" and created.sync_error is None and created.origin == "calmesh"
    assert created.recurrence == ["RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=Europe/Berlin:20260408T100000"]
    assert [(a.email, a.response_status) for a in created.attendees] == [("bob@example.com", "needsAction")]
    name = f"{created.ical_uid}.ics"
    assert await object_names(server, url) == [name]
    stored = await server.get_object(url, name)
    assert stored is not None
    assert "SUMMARY:Planning" in stored[0] and f"X-CALMESH-ID:{created.id}" in stored[0]
    assert "RRULE:FREQ=WEEKLY;COUNT=4" in stored[0] and "20260408T100000" in stored[0]

    # Move the series an hour later: it goes to the same object, EXDATE moved along.
    moved = await events.update_event(runtime, tenant, created.id, EventUpdate.model_validate(
        {"title": "Planning v2", "start": {"dateTime": "2026-04-01T11:00:00", "timeZone": "Europe/Berlin"}}
    ))
    assert moved.sync_state == "SYNCED" and moved.id == created.id
    assert moved.end == {"dateTime": datetime.fromisoformat("2026-04-01T12:00:00+02:00"), "timeZone": "Europe/Berlin"}
    assert moved.recurrence == ["RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=Europe/Berlin:20260408T110000"]
    assert await object_names(server, url) == [name]
    stored = await server.get_object(url, name)
    assert stored is not None and "SUMMARY:Planning v2" in stored[0] and "20260408T110000" in stored[0]

    # An instance edited at the provider comes back as an override; deleting it cancels the
    # instance with an EXDATE and no override is left.
    async with UnitOfWork(runtime) as uow:
        sequence = (await uow.session.get(models.Event, created.id)).sequence  # type: ignore[union-attr]
    override_ics = stored[0].replace("END:VCALENDAR", (
        f"BEGIN:VEVENT\r\nUID:{created.ical_uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20260415T110000\r\nDTSTART;TZID=Europe/Berlin:20260415T140000\r\n"
        f"DTEND;TZID=Europe/Berlin:20260415T150000\r\nSUMMARY:Planning (late)\r\nSEQUENCE:{sequence}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR"
    ))
    await server.put_object(url, name, override_ics, etag=stored[1])
    integration = (await events.get_event(runtime, tenant, created.id)).integration_id
    await sync.sync_connection(runtime, integration)
    series = await events.list_events(runtime, tenant, calendar_id=calendar, limit=10, cursor=None)
    override = next(e for e in series.data if e.recurring_event_id == created.id)
    assert override.title == "Planning (late)"

    await events.delete_event(runtime, tenant, override.id)
    stored = await server.get_object(url, name)
    assert stored is not None and "Planning (late)" not in stored[0] and "RECURRENCE-ID" not in stored[0]
    assert re.search(r"EXDATE;TZID=Europe/Berlin:20260408T110000,20260415T110000|EXDATE;TZID=Europe/Berlin:20260415T110000", stored[0])
    instances = await all_pages(runtime, tenant, start="2026-04-01", end="2026-04-30", expand=True, limit=10)
    assert [e.id.rsplit("_", 1)[1] for e in instances] == ["20260401T090000Z", "20260422T090000Z"]

    # An instance by its instance id: editing it makes an override, deleting it an EXDATE.
    last = instances[1].id
    edited = await events.update_event(runtime, tenant, last, EventUpdate(title="Last planning"))
    assert (edited.id, edited.title, edited.recurring_event_id, edited.sync_state) == (last, "Last planning", created.id, "SYNCED")
    assert (await events.get_event(runtime, tenant, last)).title == "Last planning"
    stored = await server.get_object(url, name)
    assert stored is not None and "RECURRENCE-ID;TZID=Europe/Berlin:20260422T110000" in stored[0]
    assert "SUMMARY:Last planning" in stored[0]
    await events.delete_event(runtime, tenant, last)
    stored = await server.get_object(url, name)
    assert stored is not None and "RECURRENCE-ID" not in stored[0] and "20260422T110000" in stored[0]
    instances = await all_pages(runtime, tenant, start="2026-04-01", end="2026-04-30", expand=True, limit=10)
    assert [e.id for e in instances] == [f"{created.id}_20260401T090000Z"]
    for gone in (last, f"{created.id}_20260408T090000Z", f"{created.id}_20260429T090000Z", f"{created.id}_20261399"):
        with pytest.raises(NotFound):
            await events.get_event(runtime, tenant, gone)

    await events.delete_event(runtime, tenant, created.id)
    assert await object_names(server, url) == []
    with pytest.raises(NotFound):
        await events.get_event(runtime, tenant, created.id)


async def test_create_by_integration_goes_to_its_create_events_in_calendar(
    live_runtime: Runtime, caldav_server: CalDAVServer
) -> None:
    runtime, server = live_runtime, caldav_server
    tenant = await make_tenant(runtime)
    url = await server.mkcalendar()
    integration, calendar = await connect(runtime, tenant, server, url)
    await integrations.configure(runtime, tenant, integration, {"createEventsIn": url})
    body = new_event(calendar).model_dump(by_alias=True, exclude={"calendar_id"}, exclude_none=True)
    created = await events.create_event(runtime, tenant, EventCreate.model_validate({**body, "integrationId": integration}))
    assert (created.calendar_id, created.integration_id, created.sync_state) == (calendar, integration, "SYNCED")
    assert await object_names(server, url) == [f"{created.ical_uid}.ics"]

    await integrations.configure(runtime, tenant, integration, {"createEventsIn": "not-a-calendar"})
    with pytest.raises(InvalidInput):
        await events.create_event(runtime, tenant, EventCreate.model_validate({**body, "integrationId": integration}))
    async with UnitOfWork(runtime) as uow:
        count = len((await uow.session.scalars(select(models.Event.id))).all())
    assert count == 1
    # The event keeps a series' start/end kinds: moving it to a whole day needs both ends.
    with pytest.raises(InvalidInput):
        await events.update_event(runtime, tenant, created.id, EventUpdate.model_validate({"start": {"date": "2026-04-02"}}))
    all_day = await events.update_event(runtime, tenant, created.id, EventUpdate.model_validate(
        {"start": {"date": "2026-04-02"}, "end": {"date": "2026-04-03"}, "description": "all day"}
    ))
    assert wire(all_day)["start"] == {"date": "2026-04-02"} and all_day.all_day and all_day.sync_state == "SYNCED"
    stored = await server.get_object(url, f"{created.ical_uid}.ics")
    assert stored is not None and "DTSTART;VALUE=DATE:20260402" in stored[0]


async def test_a_change_made_at_the_provider_meanwhile_is_settled_by_the_conflict_policy(
    live_runtime: Runtime, caldav_server: CalDAVServer
) -> None:
    runtime, server = live_runtime, caldav_server
    tenant = await make_tenant(runtime)
    url = await server.mkcalendar()
    _, calendar = await connect(runtime, tenant, server, url)
    created = await events.create_event(runtime, tenant, new_event(calendar))
    name = f"{created.ical_uid}.ics"
    stored = await server.get_object(url, name)
    assert stored is not None
    await server.put_object(url, name, stored[0].replace("SUMMARY:Planning", "SUMMARY:Renamed by someone"), etag=stored[1])

    # REMOTE_WINS (the default): the If-Match fails, the provider's version is taken.
    answer = await events.update_event(runtime, tenant, created.id, EventUpdate(title="Renamed by us"))
    assert (answer.sync_state, answer.title) == ("SYNCED", "Renamed by someone")
    assert answer.sync_error is not None and "conflictPolicy" in answer.sync_error
    assert await object_names(server, url) == [name]
