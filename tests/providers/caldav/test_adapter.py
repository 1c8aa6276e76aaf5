"""The CalDAV adapter against real Radicale and Xandikos servers: every scenario on both.

Each test works in a calendar of its own (``mkcalendar``) on servers shared by the session.
"Another client" changes the server with raw HTTP (``put_object``/``delete_object``), never
through calmesh.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest

from calmesh.domain.events import (
    Event,
    EventStatus,
    EventTime,
    Recurrence,
    RecurrenceId,
)
from calmesh.errors import PreconditionFailed, ProviderUnreachable, SyncCursorExpired
from calmesh.providers.base import CalendarProvider, ChangeSet, RemoteItem
from calmesh.providers.caldav import CalDAVProvider, open_caldav

if TYPE_CHECKING:
    from tests.caldav_servers import CalDAVServer

# Until tests/conftest.py registers it for every test. Imported by pytest, not by this module,
# so that pytest can rewrite its asserts.
pytest_plugins = ["tests.caldav_servers"]


# --- building objects ----------------------------------------------------------------------


def ics(*components: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calmesh tests//EN", *components, "END:VCALENDAR", ""]
    return "\r\n".join(lines)


def vevent(uid: str, *props: str, start: str = "20270104T090000Z", summary: str | None = None) -> str:
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", f"DTSTART:{start}", "DURATION:PT1H"]
    if summary is not None:
        lines.append(f"SUMMARY:{summary}")
    return "\r\n".join([*lines, *props, "END:VEVENT"])


def series_with_overrides(uid: str) -> str:
    """A weekly series of 6, its 2nd instance moved an hour later and its 3rd cancelled."""
    return ics(
        vevent(uid, "RRULE:FREQ=WEEKLY;COUNT=6", summary="Standup"),
        # Listed out of order on purpose: the item must still come back sorted.
        vevent(uid, "RECURRENCE-ID:20270118T090000Z", "STATUS:CANCELLED", start="20270118T090000Z"),
        vevent(uid, "RECURRENCE-ID:20270111T090000Z", start="20270111T100000Z", summary="Standup (moved)"),
    )


def event(uid: str, summary: str = "Lunch", day: int = 5) -> Event:
    return Event(
        uid=uid,
        start=EventTime(datetime(2027, 1, day, 12, 0, tzinfo=UTC)),
        end=EventTime(datetime(2027, 1, day, 13, 0, tzinfo=UTC)),
        summary=summary,
    )


def by_uid(changes: ChangeSet) -> dict[str, RemoteItem]:
    return {item.uid: item for item in changes.items}


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
async def provider(caldav_server: CalDAVServer) -> AsyncIterator[CalDAVProvider]:
    async with open_caldav(caldav_server.provider_config()) as opened:
        yield opened


@pytest.fixture
async def calendar(caldav_server: CalDAVServer) -> str:
    return await caldav_server.mkcalendar()


# --- discovery and calendars ---------------------------------------------------------------


async def test_it_is_a_calendar_provider(provider: CalDAVProvider) -> None:
    as_protocol: CalendarProvider = provider  # mypy checks the signatures here
    assert isinstance(as_protocol, CalendarProvider)
    assert provider.capabilities.incremental and provider.capabilities.write
    assert not provider.capabilities.push and not provider.capabilities.free_busy


async def test_discovery_finds_the_home_set_and_lists_calendars(
    caldav_server: CalDAVServer, provider: CalDAVProvider
) -> None:
    work = await caldav_server.mkcalendar(display_name="Work & Play", color="#FF8800CC", time_zone="Europe/Berlin")
    bare = await caldav_server.mkcalendar(name="plain-one")

    assert str(await provider.calendar_home()) == caldav_server.home_url
    calendars = {c.id: c for c in await provider.list_calendars()}

    assert calendars[work].name == "Work & Play"
    assert calendars[work].color == "#FF8800"  # Apple's #RRGGBBAA loses its alpha
    assert calendars[bare].name == bare.rstrip("/").rpartition("/")[2]  # no displayname: the last segment
    assert calendars[bare].name.startswith("plain-one")
    assert calendars[bare].color is None
    assert calendars[work].time_zone == "Europe/Berlin" and calendars[bare].time_zone is None
    assert not calendars[work].read_only and not calendars[bare].read_only
    assert sum(c.is_primary for c in calendars.values()) == 1
    if caldav_server.name == "xandikos":
        # Xandikos's --defaults calendar is the account's default.
        assert calendars[caldav_server.calendar_url_for("calendar")].is_primary


async def test_a_calendar_without_write_privileges_is_read_only(radicale_server: CalDAVServer) -> None:
    radicale_server.ensure_running()
    read_only = radicale_server.create_read_only_calendar("shared", display_name="Holidays")
    async with open_caldav(radicale_server.provider_config()) as provider:
        calendars = {c.id: c for c in await provider.list_calendars()}
    assert calendars[read_only].read_only
    assert calendars[read_only].name == "Holidays"


# --- full listing ----------------------------------------------------------------------------


async def test_a_full_listing_returns_every_event_with_master_first(
    caldav_server: CalDAVServer, provider: CalDAVProvider
) -> None:
    calendar = await caldav_server.mkcalendar(components=("VEVENT", "VTODO"))
    single_etag = await caldav_server.put_object(calendar, "single.ics", ics(vevent("single", summary="One-off")))
    await caldav_server.put_object(calendar, "series.ics", series_with_overrides("series"))
    await caldav_server.put_object(
        calendar, "exdate.ics", ics(vevent("exdate", "RRULE:FREQ=DAILY;COUNT=5", "EXDATE:20270106T090000Z"))
    )
    task = "BEGIN:VTODO\r\nUID:task\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Buy milk\r\nEND:VTODO"
    await caldav_server.put_object(calendar, "task.ics", ics(task))

    changes = await provider.changes(calendar, None)

    assert changes.full and not changes.problems and not changes.deleted
    assert changes.cursor is not None and changes.cursor.startswith("sync:")
    items = by_uid(changes)
    assert set(items) == {"single", "series", "exdate"}  # the task is not an event
    assert items["single"].etag == single_etag
    assert items["single"].id == calendar.removeprefix(f"http://127.0.0.1:{caldav_server.port}") + "single.ics"
    master, moved, cancelled = items["series"].events
    assert master.recurrence_id is None and master.recurrence is not None
    assert master.recurrence.rrules == ("FREQ=WEEKLY;COUNT=6",)
    assert moved.recurrence_id is not None and moved.summary == "Standup (moved)"
    assert moved.recurrence_id.value == EventTime(datetime(2027, 1, 11, 9, tzinfo=UTC))
    assert cancelled.status is EventStatus.CANCELLED
    (exdated,) = items["exdate"].events
    assert exdated.recurrence is not None and len(exdated.recurrence.exdates) == 1


async def test_an_empty_calendar_lists_nothing(provider: CalDAVProvider, calendar: str) -> None:
    changes = await provider.changes(calendar, None)
    assert changes.full and changes.items == () and changes.cursor


# --- incremental -----------------------------------------------------------------------------


async def test_changes_made_by_another_client_are_reported_since_the_cursor(
    caldav_server: CalDAVServer, provider: CalDAVProvider, calendar: str
) -> None:
    await caldav_server.put_object(calendar, "keep.ics", ics(vevent("keep")))
    await caldav_server.put_object(calendar, "edit.ics", ics(vevent("edit", summary="Before")))
    await caldav_server.put_object(calendar, "gone.ics", ics(vevent("gone")))
    first = await provider.changes(calendar, None)
    ids = {item.uid: item.id for item in first.items}

    await caldav_server.put_object(calendar, "new one@x.ics", ics(vevent("new", summary="Created")))
    edited_etag = await caldav_server.put_object(calendar, "edit.ics", ics(vevent("edit", summary="After")))
    await caldav_server.delete_object(calendar, "gone.ics")

    second = await provider.changes(calendar, first.cursor)

    assert not second.full and not second.problems
    assert second.cursor is not None and second.cursor != first.cursor
    items = by_uid(second)
    assert set(items) == {"new", "edit"}
    assert items["edit"].events[0].summary == "After" and items["edit"].etag == edited_etag
    assert items["edit"].id == ids["edit"]
    assert second.deleted == (ids["gone"],)

    # The same object has the same id whichever way it was read (Radicale writes %40, Xandikos @).
    again = await provider.changes(calendar, None)
    assert {i.uid: i.id for i in again.items}["new"] == items["new"].id
    assert items["new"].id.endswith("/new%20one@x.ics")
    fetched = await provider.get(calendar, items["new"].id)
    assert fetched is not None and fetched.events[0].summary == "Created"

    third = await provider.changes(calendar, second.cursor)
    assert third.items == () and third.deleted == ()


@pytest.mark.parametrize("cursor", ["sync:not-a-token", "sync:http://radicale.org/ns/sync/0000", "wat:1"])
async def test_an_unknown_sync_token_asks_for_a_full_resync(
    provider: CalDAVProvider, calendar: str, cursor: str
) -> None:
    # Radicale answers 403, Xandikos 412; a cursor calmesh never wrote expires too.
    with pytest.raises(SyncCursorExpired):
        await provider.changes(calendar, cursor)


async def test_without_sync_collection_the_ctag_and_known_etags_find_changes(
    caldav_server: CalDAVServer, calendar: str
) -> None:
    await caldav_server.put_object(calendar, "keep.ics", ics(vevent("keep")))
    await caldav_server.put_object(calendar, "edit.ics", ics(vevent("edit", summary="Before")))
    await caldav_server.put_object(calendar, "gone.ics", ics(vevent("gone")))
    async with open_caldav(caldav_server.provider_config(), use_sync_collection=False) as provider:
        first = await provider.changes(calendar, None)
        assert first.cursor is not None and first.cursor.startswith("ctag:")
        known = {item.id: item.etag for item in first.items}
        ids = {item.uid: item.id for item in first.items}

        unchanged = await provider.changes(calendar, first.cursor, known)
        assert unchanged.items == () and unchanged.deleted == () and unchanged.cursor == first.cursor

        await caldav_server.put_object(calendar, "new.ics", ics(vevent("new")))
        await caldav_server.put_object(calendar, "edit.ics", ics(vevent("edit", summary="After")))
        await caldav_server.delete_object(calendar, "gone.ics")

        second = await provider.changes(calendar, first.cursor, known)
    assert not second.full
    assert set(by_uid(second)) == {"new", "edit"}
    assert by_uid(second)["edit"].events[0].summary == "After"
    assert second.deleted == (ids["gone"],)
    assert second.cursor != first.cursor and second.cursor is not None and second.cursor.startswith("ctag:")


async def test_a_ctag_cursor_works_on_a_server_with_sync_collection(
    caldav_server: CalDAVServer, provider: CalDAVProvider, calendar: str
) -> None:
    await caldav_server.put_object(calendar, "a.ics", ics(vevent("a")))
    changes = await provider.changes(calendar, "ctag:", {})
    assert set(by_uid(changes)) == {"a"} and not changes.full
    assert changes.cursor is not None and changes.cursor.startswith("ctag:")


async def test_objects_that_are_not_events_become_problems_and_the_rest_syncs(
    caldav_server: CalDAVServer, provider: CalDAVProvider, calendar: str
) -> None:
    # Both servers store vCalendar 1.0, which calmesh does not read.
    vcal_1 = "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VEVENT\r\nUID:old\r\nDTSTART:20270101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    await caldav_server.put_object(calendar, "old.ics", vcal_1)
    await caldav_server.put_object(calendar, "fine.ics", ics(vevent("fine")))

    full = await provider.changes(calendar, None)
    assert set(by_uid(full)) == {"fine"}
    (problem,) = full.problems
    assert problem.id.endswith("/old.ics") and "iCalendar" in problem.message

    await caldav_server.put_object(calendar, "old2.ics", vcal_1.replace("UID:old", "UID:old2"))
    await caldav_server.put_object(calendar, "fine2.ics", ics(vevent("fine2")))
    since = await provider.changes(calendar, full.cursor)
    assert set(by_uid(since)) == {"fine2"}
    assert [p.id.rpartition("/")[2] for p in since.problems] == ["old2.ics"]


async def test_xandikos_objects_calmesh_cannot_read(xandikos_server: CalDAVServer) -> None:
    """Xandikos stores what Radicale refuses: several UIDs, no DTSTART, and (via git) garbage."""
    xandikos_server.ensure_running()
    calendar = await xandikos_server.mkcalendar()
    two_uids = ics(vevent("a1"), vevent("a2"))
    no_start = ics("BEGIN:VEVENT\r\nUID:nostart\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:x\r\nEND:VEVENT")
    await xandikos_server.put_object(calendar, "two.ics", two_uids)
    await xandikos_server.put_object(calendar, "nostart.ics", no_start)
    await xandikos_server.put_object(calendar, "fine.ics", ics(vevent("fine")))
    async with open_caldav(xandikos_server.provider_config()) as provider:
        first = await provider.changes(calendar, None)
        xandikos_server.write_raw_object(calendar, "garbage.ics", b"this is not iCalendar\r\n")
        since = await provider.changes(calendar, first.cursor)
        # With garbage stored, Xandikos fails calendar-query with 500; the listing still works.
        full = await provider.changes(calendar, None)

    assert set(by_uid(first)) == {"fine"}
    assert {p.id.rpartition("/")[2] for p in first.problems} == {"two.ics", "nostart.ics"}
    assert [p.id.rpartition("/")[2] for p in since.problems] == ["garbage.ics"]
    assert set(by_uid(full)) == {"fine"}
    assert {p.id.rpartition("/")[2] for p in full.problems} == {"two.ics", "nostart.ics", "garbage.ics"}


# --- writing ---------------------------------------------------------------------------------


async def test_create_writes_the_series_and_refuses_a_second_create(
    caldav_server: CalDAVServer, provider: CalDAVProvider, calendar: str
) -> None:
    master = Event(
        uid="weekly@calmesh.test",
        start=EventTime(datetime(2027, 2, 1, 9, tzinfo=UTC)),
        end=EventTime(datetime(2027, 2, 1, 10, tzinfo=UTC)),
        summary="Weekly",
        recurrence=Recurrence(rrules=("FREQ=WEEKLY;COUNT=3",)),
    )
    override = replace(
        event("weekly@calmesh.test", "Weekly (moved)", day=9),
        recurrence_id=RecurrenceId(EventTime(datetime(2027, 2, 8, 9, tzinfo=UTC))),
    )

    written = await provider.create(calendar, [master, override])

    assert written.id.endswith("/weekly@calmesh.test.ics") and written.etag
    listed = by_uid(await provider.changes(calendar, None))["weekly@calmesh.test"]
    assert listed.id == written.id and listed.etag == written.etag
    assert [e.summary for e in listed.events] == ["Weekly", "Weekly (moved)"]
    with pytest.raises(PreconditionFailed):
        await provider.create(calendar, [event("weekly@calmesh.test", "Again")])


async def test_create_names_an_awkward_uid_by_its_hash(provider: CalDAVProvider, calendar: str) -> None:
    written = await provider.create(calendar, [event("a uid/with spaces?")])
    name = written.id.rpartition("/")[2]
    assert len(name) == len("0" * 40 + ".ics") and name.endswith(".ics")
    item = await provider.get(calendar, written.id)
    assert item is not None and item.uid == "a uid/with spaces?" and item.etag == written.etag


async def test_update_needs_the_current_etag(provider: CalDAVProvider, calendar: str) -> None:
    written = await provider.create(calendar, [event("upd", "v1")])
    second = await provider.update(calendar, written.id, [event("upd", "v2")], written.etag)
    assert second.id == written.id and second.etag and second.etag != written.etag

    with pytest.raises(PreconditionFailed):
        await provider.update(calendar, written.id, [event("upd", "stale")], written.etag)

    third = await provider.update(calendar, written.id, [event("upd", "v3")], None)
    item = await provider.get(calendar, written.id)
    assert item is not None and item.events[0].summary == "v3" and item.etag == third.etag


async def test_delete_checks_the_etag_and_a_missing_item_is_fine(
    caldav_server: CalDAVServer, provider: CalDAVProvider, calendar: str
) -> None:
    written = await provider.create(calendar, [event("del")])
    await caldav_server.put_object(calendar, "del.ics", ics(vevent("del", summary="changed elsewhere")))

    with pytest.raises(PreconditionFailed):
        await provider.delete(calendar, written.id, written.etag)

    current = await provider.get(calendar, written.id)
    assert current is not None
    await provider.delete(calendar, written.id, current.etag)  # Radicale 200, Xandikos 204
    assert await provider.get(calendar, written.id) is None
    await provider.delete(calendar, written.id, current.etag)
    await provider.delete(calendar, written.id, None)


async def test_get_reads_one_object(caldav_server: CalDAVServer, provider: CalDAVProvider, calendar: str) -> None:
    etag = await caldav_server.put_object(calendar, "series.ics", series_with_overrides("s"))
    listed = by_uid(await provider.changes(calendar, None))["s"]
    item = await provider.get(calendar, listed.id)
    assert item is not None and item.etag == etag and item.events == listed.events
    assert await provider.get(calendar, listed.id.replace("series", "nothing")) is None


async def test_all_day_events_round_trip(provider: CalDAVProvider, calendar: str) -> None:
    holiday = Event(uid="holiday", start=EventTime(date(2027, 5, 1)), end=EventTime(date(2027, 5, 2)), summary="May Day")
    written = await provider.create(calendar, [holiday])
    item = await provider.get(calendar, written.id)
    assert item is not None and item.events[0].start == EventTime(date(2027, 5, 1))


# --- the server going away -------------------------------------------------------------------


async def test_a_sync_survives_a_server_restart(
    caldav_server: CalDAVServer, provider: CalDAVProvider, calendar: str
) -> None:
    await caldav_server.put_object(calendar, "a.ics", ics(vevent("a")))
    first = await provider.changes(calendar, None)
    caldav_server.stop()
    try:
        with pytest.raises(ProviderUnreachable):
            await provider.changes(calendar, first.cursor)
    finally:
        caldav_server.start()
    await caldav_server.put_object(calendar, "b.ics", ics(vevent("b")))
    since = await provider.changes(calendar, first.cursor)
    assert set(by_uid(since)) == {"b"}


# --- the fixture itself --------------------------------------------------------------------------


async def test_mkcalendar_never_reuses_a_taken_name(caldav_server: CalDAVServer) -> None:
    first = await caldav_server.mkcalendar("same-name")
    second = await caldav_server.mkcalendar("same-name")
    assert first != second and second.startswith(first.rstrip("/") + "-")
