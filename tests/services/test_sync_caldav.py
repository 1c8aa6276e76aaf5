"""The sync engine against real CalDAV servers (Radicale and Xandikos), the same scenarios on both.

Everything goes over HTTP on loopback: the servers are the real ones, changes "made by another
client" are raw PUTs and DELETEs, and calmesh's side goes through its services (the mirror,
the sync executor) exactly as the API and the scheduler use them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from calmesh.domain.events import Event, EventStatus, EventTime, Recurrence, RecurrenceId
from calmesh.errors import ProviderUnreachable, SyncHalted
from calmesh.ical import parse_calendar
from calmesh.services import integrations, mirror
from calmesh.services.integrations import IntegrationCreate
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.sync import sync_connection
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.event_rows import event_from_row
from calmesh.storage.migrate import upgrade
from tests.caldav_servers import CalDAVServer
from tests.conftest import make_settings
from tests.mirror_helpers import make_tenant

BERLIN = ZoneInfo("Europe/Berlin")
NEXT_YEAR = date.today().year + 1


@pytest.fixture
async def runtime(sqlite_url: str, tmp_path: Path) -> Runtime:  # type: ignore[misc]
    rt = build_runtime(make_settings(sqlite_url, tmp_path, allow_private_network=True))
    await upgrade(rt.engine)
    yield rt
    await rt.close()


def vevent(uid: str, summary: str, start: str, *extra: str, end: str | None = None) -> str:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=Europe/Berlin:{start}",
        f"DTEND;TZID=Europe/Berlin:{end or start[:9] + str(int(start[9:11]) + 1).zfill(2) + start[11:]}",
        f"SUMMARY:{summary}",
        *extra,
        "END:VEVENT",
    ]
    return "\r\n".join(lines)


def vcalendar(*vevents: str) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//other client//EN", *vevents, "END:VCALENDAR", ""])


async def connect(runtime: Runtime, server: CalDAVServer, calendar_url: str, **settings: object) -> tuple[str, str]:
    """A tenant and a connection syncing just ``calendar_url``; returns (tenant id, connection id)."""
    tenant_id = await make_tenant(runtime)
    path = httpx.URL(calendar_url).path
    created = await integrations.connect(
        runtime,
        tenant_id,
        IntegrationCreate(provider="CALDAV", server_url=server.url, username=server.username, password=server.password),
    )
    calendars = await integrations.list_calendars(runtime, tenant_id, created.id, limit=100, cursor=None)
    chosen = [c.provider_calendar_id for c in calendars.data if httpx.URL(c.provider_calendar_id).path == path]
    assert chosen, f"{calendar_url} not among {[c.provider_calendar_id for c in calendars.data]}"
    await integrations.configure(runtime, tenant_id, created.id, {"calendarsToSync": chosen, **settings})
    return tenant_id, created.id


async def calendar_id_of(runtime: Runtime, connection_id: str) -> str:
    async with UnitOfWork(runtime) as uow:
        ids = (
            await uow.session.scalars(
                select(models.Calendar.id).where(
                    models.Calendar.connection_id == connection_id, models.Calendar.selected.is_(True)
                )
            )
        ).all()
    assert len(ids) == 1
    return ids[0]


async def mirror_series(runtime: Runtime, calendar_id: str) -> dict[str, list[Event]]:
    """The mirror as {uid: [master, overrides…]}."""
    async with UnitOfWork(runtime) as uow:
        rows = (
            await uow.session.scalars(
                select(models.Event)
                .where(models.Event.calendar_id == calendar_id)
                .order_by(models.Event.ical_uid, models.Event.recurrence_id.is_not(None), models.Event.recurrence_id)
            )
        ).all()
        found: dict[str, list[Event]] = {}
        for row in rows:
            found.setdefault(row.ical_uid, []).append(event_from_row(row))
        return found


CALENDAR_QUERY = (
    '<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
    '<d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>'
)


async def list_objects(server: CalDAVServer, calendar_url: str) -> list[str]:
    """Every object's iCalendar text, by one REPORT straight to the server."""
    async with httpx.AsyncClient(auth=server.auth, timeout=10) as client:
        response = await client.request(
            "REPORT", calendar_url, content=CALENDAR_QUERY,
            headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        )
    assert response.status_code == 207, response.text
    tree = ElementTree.fromstring(response.content)
    return [node.text or "" for node in tree.iter("{urn:ietf:params:xml:ns:caldav}calendar-data")]


async def server_objects(server: CalDAVServer, calendar_url: str) -> dict[str, list[Event]]:
    """What the server holds, read back over HTTP: {uid: events}."""
    found: dict[str, list[Event]] = {}
    for text in await list_objects(server, calendar_url):
        events = parse_calendar(text).events
        found.setdefault(events[0].uid, []).extend(events)
    return found


async def row_count(runtime: Runtime, model: type[models.Base], **where: object) -> int:
    async with UnitOfWork(runtime) as uow:
        statement = select(func.count()).select_from(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return int(await uow.session.scalar(statement) or 0)


async def add_local(runtime: Runtime, tenant_id: str, calendar_id: str, *events: Event) -> None:
    async with UnitOfWork(runtime) as uow:
        await mirror.replace_series(uow, tenant_id, calendar_id, events, origin="calmesh")
        await uow.commit()


def local_event(uid: str, summary: str, day: int, hour: int = 10) -> Event:
    start = datetime(NEXT_YEAR, 3, day, hour, tzinfo=BERLIN)
    return Event(uid=uid, start=EventTime(start, "Europe/Berlin"), end=EventTime(start + timedelta(hours=1), "Europe/Berlin"), summary=summary)


# --- server -> mirror -----------------------------------------------------------------------


async def test_server_changes_reach_the_mirror(runtime: Runtime, caldav_server: CalDAVServer) -> None:
    url = await caldav_server.mkcalendar("inbound")
    await caldav_server.put_object(url, "a.ics", vcalendar(vevent("a", "Standup", f"{NEXT_YEAR}0302T090000")))
    await caldav_server.put_object(url, "b.ics", vcalendar(vevent("b", "Lunch", f"{NEXT_YEAR}0302T120000")))
    tenant_id, connection_id = await connect(runtime, caldav_server, url)

    report = await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)
    series = await mirror_series(runtime, calendar_id)
    assert {uid: s[0].summary for uid, s in series.items()} == {"a": "Standup", "b": "Lunch"}
    assert report.total("pulled") == 2
    assert await row_count(runtime, models.BusyBlock, calendar_id=calendar_id) == 2
    async with UnitOfWork(runtime) as uow:
        first_id = await uow.session.scalar(select(models.Event.id).where(models.Event.ical_uid == "a"))

    await caldav_server.put_object(url, "a.ics", vcalendar(vevent("a", "Standup (moved)", f"{NEXT_YEAR}0302T100000")))
    await caldav_server.delete_object(url, "b.ics")
    await caldav_server.put_object(url, "c.ics", vcalendar(vevent("c", "Review", f"{NEXT_YEAR}0303T150000")))
    report = await sync_connection(runtime, connection_id)

    series = await mirror_series(runtime, calendar_id)
    assert {uid: s[0].summary for uid, s in series.items()} == {"a": "Standup (moved)", "c": "Review"}
    assert series["a"][0].start.value == datetime(NEXT_YEAR, 3, 2, 10, tzinfo=BERLIN)
    async with UnitOfWork(runtime) as uow:
        assert await uow.session.scalar(select(models.Event.id).where(models.Event.ical_uid == "a")) == first_id
    assert (report.total("pulled"), report.total("deleted_locally")) == (2, 1)
    async with UnitOfWork(runtime) as uow:
        connection = await uow.session.get(models.Connection, connection_id)
        assert connection is not None and connection.status == "ACTIVE" and connection.last_sync_at is not None

    again = await sync_connection(runtime, connection_id)
    assert again.total("pulled") + again.total("pushed") + again.total("deleted_locally") == 0


async def test_recurring_series_with_moved_and_cancelled_instances_survives_both_ways(
    runtime: Runtime, caldav_server: CalDAVServer
) -> None:
    url = await caldav_server.mkcalendar("series")
    master = vevent("weekly", "Weekly sync", f"{NEXT_YEAR}0302T090000", "RRULE:FREQ=WEEKLY;COUNT=6")
    moved = vevent(
        "weekly", "Weekly sync (moved)", f"{NEXT_YEAR}0310T140000", f"RECURRENCE-ID;TZID=Europe/Berlin:{NEXT_YEAR}0309T090000"
    )
    cancelled = vevent(
        "weekly", "Weekly sync", f"{NEXT_YEAR}0316T090000", f"RECURRENCE-ID;TZID=Europe/Berlin:{NEXT_YEAR}0316T090000",
        "STATUS:CANCELLED",
    )
    await caldav_server.put_object(url, "weekly.ics", vcalendar(master, moved, cancelled))
    tenant_id, connection_id = await connect(runtime, caldav_server, url)
    await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)

    series = (await mirror_series(runtime, calendar_id))["weekly"]
    assert [e.summary for e in series] == ["Weekly sync", "Weekly sync (moved)", "Weekly sync"]
    assert series[2].status is EventStatus.CANCELLED
    # Six weekly instances, one cancelled, one moved: five busy blocks, one of them on a Tuesday.
    async with UnitOfWork(runtime) as uow:
        starts = (await uow.session.scalars(select(models.BusyBlock.start_ts).where(models.BusyBlock.calendar_id == calendar_id))).all()
    assert len(starts) == 5
    assert int(datetime(NEXT_YEAR, 3, 10, 14, tzinfo=BERLIN).timestamp()) in starts

    # A calmesh-side series of the same shape goes out and comes back the same.
    start = datetime(NEXT_YEAR, 4, 6, 9, tzinfo=BERLIN)
    ours = Event(
        uid="ours-weekly", start=EventTime(start, "Europe/Berlin"), end=EventTime(start + timedelta(hours=1), "Europe/Berlin"),
        summary="Planning", recurrence=Recurrence(rrules=("FREQ=WEEKLY;COUNT=4",), exdates=(EventTime(start + timedelta(weeks=2), "Europe/Berlin"),)),
    )
    override = replace(
        ours, recurrence=None, recurrence_id=RecurrenceId(EventTime(start + timedelta(weeks=1), "Europe/Berlin")),
        start=EventTime(start + timedelta(weeks=1, hours=3), "Europe/Berlin"), end=EventTime(start + timedelta(weeks=1, hours=4), "Europe/Berlin"),
        summary="Planning (later)",
    )
    await add_local(runtime, tenant_id, calendar_id, ours, override)
    report = await sync_connection(runtime, connection_id)
    assert report.total("pushed") == 1
    on_server = (await server_objects(caldav_server, url))["ours-weekly"]
    assert sorted(e.summary or "" for e in on_server) == ["Planning", "Planning (later)"]
    master_there = next(e for e in on_server if e.recurrence_id is None)
    assert master_there.recurrence is not None and len(master_there.recurrence.exdates) == 1
    assert "X-CALMESH-ID" in master_there.x_properties

    echo = await sync_connection(runtime, connection_id)
    assert echo.total("pulled") + echo.total("pushed") == 0, "our own write came back as a change"
    assert await row_count(runtime, models.Event, calendar_id=calendar_id, ical_uid="ours-weekly") == 2


# --- mirror -> server -----------------------------------------------------------------------


async def test_calmesh_changes_reach_the_server_in_place(runtime: Runtime, caldav_server: CalDAVServer) -> None:
    url = await caldav_server.mkcalendar("outbound")
    tenant_id, connection_id = await connect(runtime, caldav_server, url)
    await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)

    await add_local(runtime, tenant_id, calendar_id, local_event("mine", "Booked call", 4))
    await sync_connection(runtime, connection_id)
    assert {uid: e[0].summary for uid, e in (await server_objects(caldav_server, url)).items()} == {"mine": "Booked call"}

    moved = local_event("mine", "Booked call", 5, hour=15)
    await add_local(runtime, tenant_id, calendar_id, moved)
    await sync_connection(runtime, connection_id)
    there = await server_objects(caldav_server, url)
    assert list(there) == ["mine"], "moving a meeting must not create a second one"
    assert there["mine"][0].start.value == datetime(NEXT_YEAR, 3, 5, 15, tzinfo=BERLIN)

    async with UnitOfWork(runtime) as uow:
        await mirror.delete_series(uow, tenant_id, calendar_id, "mine")
        await uow.commit()
    report = await sync_connection(runtime, connection_id)
    assert report.total("deleted_remotely") == 1
    assert await server_objects(caldav_server, url) == {}
    assert await row_count(runtime, models.SyncItem, calendar_id=calendar_id) == 0


async def test_privacy_settings_shape_what_the_server_sees(runtime: Runtime, caldav_server: CalDAVServer) -> None:
    url = await caldav_server.mkcalendar("private")
    tenant_id, connection_id = await connect(
        runtime, caldav_server, url,
        showEventDetails=False, eventDefaults={"visibility": "private", "reminders": [{"method": "popup", "minutes": 15}]},
    )
    await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)
    secret = replace(local_event("secret", "Board: layoffs", 6), description="confidential", location="Room 1")
    await add_local(runtime, tenant_id, calendar_id, secret)
    await sync_connection(runtime, connection_id)

    there = (await server_objects(caldav_server, url))["secret"][0]
    assert (there.summary, there.description, there.location) == ("Busy", None, None)
    assert there.visibility.value == "private" and [r.minutes_before for r in there.reminders] == [15]
    assert (await mirror_series(runtime, calendar_id))["secret"][0].summary == "Board: layoffs"
    echo = await sync_connection(runtime, connection_id)
    assert echo.total("pulled") + echo.total("pushed") == 0


# --- conflicts, expired tokens, failures ----------------------------------------------------


@pytest.mark.parametrize(("policy", "winner"), [("REMOTE_WINS", "theirs"), ("LOCAL_WINS", "ours")])
async def test_a_change_on_both_sides_is_settled_by_policy_and_recorded(
    runtime: Runtime, caldav_server: CalDAVServer, policy: str, winner: str
) -> None:
    url = await caldav_server.mkcalendar(f"conflict-{policy.lower()}")
    await caldav_server.put_object(url, "x.ics", vcalendar(vevent("x", "original", f"{NEXT_YEAR}0302T090000")))
    tenant_id, connection_id = await connect(runtime, caldav_server, url, conflictPolicy=policy)
    await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)

    await caldav_server.put_object(url, "x.ics", vcalendar(vevent("x", "theirs", f"{NEXT_YEAR}0302T090000")))
    ours = replace((await mirror_series(runtime, calendar_id))["x"][0], summary="ours")
    async with UnitOfWork(runtime) as uow:
        await mirror.replace_series(uow, tenant_id, calendar_id, [ours])
        await uow.commit()
    await sync_connection(runtime, connection_id)

    assert (await mirror_series(runtime, calendar_id))["x"][0].summary == winner
    assert (await server_objects(caldav_server, url))["x"][0].summary == winner
    conflicts = await integrations.list_conflicts(runtime, tenant_id, connection_id, limit=10, cursor=None)
    assert [(c.ical_uid, c.winner, c.local_summary, c.remote_summary) for c in conflicts.data] == [
        ("x", "remote" if winner == "theirs" else "local", "ours", "theirs")
    ]


async def test_an_invalidated_sync_token_means_a_full_resync_without_duplicates(
    runtime: Runtime, caldav_server: CalDAVServer
) -> None:
    url = await caldav_server.mkcalendar("token")
    for name in "abc":
        await caldav_server.put_object(url, f"{name}.ics", vcalendar(vevent(name, name.upper(), f"{NEXT_YEAR}0302T090000")))
    tenant_id, connection_id = await connect(runtime, caldav_server, url)
    await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)
    async with UnitOfWork(runtime) as uow:
        state = await uow.session.get(models.SyncState, calendar_id)
        assert state is not None and state.cursor and state.cursor.startswith("sync:")
        state.cursor = "sync:" + ("http://radicale.org/ns/sync/" if "radicale" in caldav_server.name else "") + "0" * 40
        await uow.commit()
    await caldav_server.put_object(url, "d.ics", vcalendar(vevent("d", "D", f"{NEXT_YEAR}0302T090000")))

    await sync_connection(runtime, connection_id)
    assert sorted(await mirror_series(runtime, calendar_id)) == ["a", "b", "c", "d"]
    assert await row_count(runtime, models.Event, calendar_id=calendar_id) == 4
    assert await row_count(runtime, models.SyncItem, calendar_id=calendar_id) == 4


async def test_a_server_gone_mid_sync_is_an_error_and_the_next_sync_recovers(
    runtime: Runtime, caldav_server: CalDAVServer
) -> None:
    url = await caldav_server.mkcalendar("outage")
    await caldav_server.put_object(url, "a.ics", vcalendar(vevent("a", "A", f"{NEXT_YEAR}0302T090000")))
    tenant_id, connection_id = await connect(runtime, caldav_server, url)
    await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)
    await add_local(runtime, tenant_id, calendar_id, local_event("pending", "Pending", 7))

    async def stop_the_server(step: str) -> None:
        if step == "fetched":
            caldav_server.stop()

    with pytest.raises(ProviderUnreachable):
        await sync_connection(runtime, connection_id, checkpoint=stop_the_server)
    status = await integrations.sync_status(runtime, tenant_id, connection_id)
    assert status.state == "ERROR" and status.last_error and "127.0.0.1" not in status.last_error[:0]
    assert status.next_sync_at is not None
    caldav_server.start()

    await sync_connection(runtime, connection_id)
    assert sorted(await server_objects(caldav_server, url)) == ["a", "pending"]
    assert (await integrations.sync_status(runtime, tenant_id, connection_id)).state == "ACTIVE"


async def test_a_calendar_that_suddenly_lists_nothing_halts_instead_of_emptying_the_mirror(
    runtime: Runtime, caldav_server: CalDAVServer
) -> None:
    url = await caldav_server.mkcalendar("vanishing")
    for n in range(12):
        await caldav_server.put_object(url, f"e{n}.ics", vcalendar(vevent(f"e{n}", f"E{n}", f"{NEXT_YEAR}0302T090000")))
    tenant_id, connection_id = await connect(runtime, caldav_server, url)
    await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)
    for n in range(12):
        await caldav_server.delete_object(url, f"e{n}.ics")

    with pytest.raises(SyncHalted, match="full resync"):
        await sync_connection(runtime, connection_id)
    assert await row_count(runtime, models.Event, calendar_id=calendar_id) == 12
    assert (await integrations.sync_status(runtime, tenant_id, connection_id)).state == "ERROR"

    await sync_connection(runtime, connection_id, full=True)
    assert await row_count(runtime, models.Event, calendar_id=calendar_id) == 0


async def test_an_unreadable_object_is_reported_and_the_rest_syncs(runtime: Runtime, caldav_server: CalDAVServer) -> None:
    url = await caldav_server.mkcalendar("broken")
    await caldav_server.put_object(url, "good.ics", vcalendar(vevent("good", "Good", f"{NEXT_YEAR}0302T090000")))
    # A VEVENT without DTSTART has no time: calmesh cannot use it. Radicale refuses such a PUT
    # and hides such a file, so it is written behind its back and may never be listed at all.
    bad = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:bad\r\n"
        "DTSTAMP:20260101T000000Z\r\nSUMMARY:no start\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    caldav_server.write_raw_object(url, "bad.ics", bad.encode())
    listed = any("UID:bad" in text for text in await list_objects(caldav_server, url))
    tenant_id, connection_id = await connect(runtime, caldav_server, url)
    await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)
    assert sorted(await mirror_series(runtime, calendar_id)) == ["good"]
    status = await integrations.sync_status(runtime, tenant_id, connection_id)
    assert status.state == "ACTIVE"
    reported = [p["itemId"].rsplit("/", 1)[-1] for p in status.calendars[0].problems]
    assert reported == (["bad.ics"] if listed else [])


# --- interrupted anywhere -------------------------------------------------------------------


class Interrupted(Exception):
    pass


async def test_a_sync_killed_between_any_two_steps_loses_and_duplicates_nothing(
    runtime: Runtime, caldav_server: CalDAVServer
) -> None:
    url = await caldav_server.mkcalendar("interrupted")
    await caldav_server.put_object(url, "kept.ics", vcalendar(vevent("kept", "Kept", f"{NEXT_YEAR}0302T090000")))
    await caldav_server.put_object(url, "gone.ics", vcalendar(vevent("gone", "Gone", f"{NEXT_YEAR}0302T110000")))
    tenant_id, connection_id = await connect(runtime, caldav_server, url)
    await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)

    step = 0
    while True:
        step += 1
        # Fresh pending work on both sides each round.
        await caldav_server.put_object(url, "kept.ics", vcalendar(vevent("kept", f"Kept v{step}", f"{NEXT_YEAR}0302T090000")))
        await caldav_server.put_object(url, f"new{step}.ics", vcalendar(vevent(f"new{step}", "New", f"{NEXT_YEAR}0303T090000")))
        await add_local(runtime, tenant_id, calendar_id, local_event(f"local{step}", "Local", 8))
        seen: list[str] = []

        async def kill_at(name: str, *, at: int = step) -> None:
            seen.append(name)
            if len(seen) == at:
                raise Interrupted(name)

        try:
            await sync_connection(runtime, connection_id, checkpoint=kill_at)
        except Interrupted:
            pass
        else:
            break  # every step has been interrupted once
        async with UnitOfWork(runtime) as uow:  # the killed process never released its lease
            connection = await uow.session.get(models.Connection, connection_id)
            assert connection is not None
            connection.sync_lease_until = None
            await uow.commit()
        await sync_connection(runtime, connection_id)

        local, remote = await mirror_series(runtime, calendar_id), await server_objects(caldav_server, url)
        assert sorted(local) == sorted(remote), f"diverged after an interruption at step {step} ({seen[-1]})"
        assert local["kept"][0].summary == f"Kept v{step}"
        assert await row_count(runtime, models.Event, calendar_id=calendar_id) == len(local)
        assert len(await list_objects(caldav_server, url)) == len(remote), "a duplicate object at the server"
    assert step > 5, "the sync has more steps than that"
