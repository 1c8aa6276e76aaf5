"""The Google adapter against the served emulator (calmesh.sandbox.google).

"Another client" changes Ada's calendar through the emulator's ``sb.*`` methods, never through
calmesh. Every test gets a fresh emulator.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from calmesh.auth.oauth import MemoryTokenKeeper, TokenSet
from calmesh.domain.events import (
    Attendee,
    ConferenceData,
    Event,
    EventStatus,
    EventTime,
    Recurrence,
    RecurrenceId,
    Reminder,
    Transparency,
    Visibility,
)
from calmesh.errors import (
    ConfigurationError,
    PreconditionFailed,
    ProviderAuthFailed,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRefused,
    ProviderUnreachable,
    SyncCursorExpired,
)
from calmesh.providers.base import CalendarProvider, ProviderConfig, PushChannels
from calmesh.providers.google import MeetLinkFailed, MeetPolling, RetryPolicy, google_app, open_google
from calmesh.providers.registry import open_provider
from calmesh.sandbox.serving import serve_in_thread
from calmesh.sync.outbound import TAG
from tests.providers.google.conftest import ADA, FAST_RETRIES, Account, keeper_for, sandbox_app

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
#: A receiver that refuses connections at once: push messages fail fast and quietly.
NOWHERE = "http://127.0.0.1:9/hook"


def berlin(day: int, hour: int, minute: int = 0, month: int = 3) -> EventTime:
    return EventTime(datetime(2026, month, day, hour, minute, tzinfo=BERLIN), "Europe/Berlin")


def comparable(event: Event) -> Event:
    """What calmesh compares after a round trip: Google sets these itself."""
    return replace(event, created_at=None, last_modified_at=None, sequence=0, organizer=None)


def standup(uid: str = "standup-1@calmesh", **fields: Any) -> Event:
    base: dict[str, Any] = {
        "uid": uid,
        "start": berlin(2, 9),
        "end": berlin(2, 9, 30),
        "summary": "Standup",
        "recurrence": Recurrence(("FREQ=WEEKLY;COUNT=6",)),
        "x_properties": {TAG: "m-standup"},
    }
    base.update(fields)
    return Event(**base)


def instance(day: int, **fields: Any) -> Event:
    """An override of the standup's instance on 2026-03-``day``."""
    base: dict[str, Any] = {
        "uid": "standup-1@calmesh",
        "start": berlin(day, 9),
        "end": berlin(day, 9, 30),
        "summary": "Standup",
        "recurrence_id": RecurrenceId(berlin(day, 9)),
        "x_properties": {TAG: "m-standup"},
    }
    base.update(fields)
    return Event(**base)


def google_body(summary: str, start: str, end: str, **fields: Any) -> dict[str, Any]:
    return {"summary": summary, "start": {"dateTime": start, "timeZone": "Europe/Berlin"}, "end": {"dateTime": end, "timeZone": "Europe/Berlin"}, **fields}


# --- opening and calendars --------------------------------------------------------------------


async def test_the_registry_opens_google_and_requires_oauth(account: Account) -> None:
    config = ProviderConfig(account={}, oauth=sandbox_app(account.served), tokens=account.keeper)
    provider = open_provider("GOOGLE", config)
    try:
        assert isinstance(provider, CalendarProvider) and isinstance(provider, PushChannels)
        assert provider.capabilities.incremental and provider.capabilities.push and not provider.capabilities.free_busy
    finally:
        await provider.aclose()
    with pytest.raises(ConfigurationError):
        open_google(ProviderConfig(account={}, oauth=sandbox_app(account.served)))


async def test_list_calendars_primary_shared_read_only_and_colors(account: Account) -> None:
    sb = account.sb
    team = sb.add_calendar(ADA, "Team", time_zone="Europe/Berlin")
    sb.add_user("bob@example.com", "Bob")
    sb.share_calendar("bob@example.com", ADA, "reader")
    busy = sb.add_calendar("bob@example.com", "Bob busy")
    sb.share_calendar(busy, ADA, "freeBusyReader")
    shared_writable = sb.add_calendar("bob@example.com", "Bob shared")
    sb.share_calendar(shared_writable, ADA, "writer")

    calendars = {c.id: c for c in await account.provider.list_calendars()}

    assert set(calendars) == {ADA, team, "bob@example.com", busy, shared_writable}
    assert calendars[ADA].is_primary and not calendars[ADA].read_only and calendars[ADA].time_zone == "UTC"
    assert calendars[team].name == "Team" and calendars[team].time_zone == "Europe/Berlin"
    assert all(c.color is not None and c.color.startswith("#") for c in calendars.values())
    assert calendars["bob@example.com"].read_only and calendars[busy].read_only
    assert not calendars[shared_writable].read_only and not calendars[team].is_primary
    assert await account.provider.account_email() == ADA


# --- reading changes ------------------------------------------------------------------------


async def test_full_then_incremental_changes(account: Account) -> None:
    sb, provider = account.sb, account.provider
    single = sb.insert_event(ADA, google_body("Lunch", "2026-03-10T12:00:00+01:00", "2026-03-10T13:00:00+01:00"))
    doomed = sb.insert_event(ADA, google_body("Doomed", "2026-03-11T12:00:00+01:00", "2026-03-11T13:00:00+01:00"))
    series = sb.insert_event(
        ADA, google_body("Standup", "2026-03-02T09:00:00+01:00", "2026-03-02T09:30:00+01:00", recurrence=["RRULE:FREQ=WEEKLY;COUNT=6"])
    )

    full = await provider.changes(ADA, None)
    assert full.full and full.cursor and full.problems == ()
    assert {item.id for item in full.items} == {single["id"], doomed["id"], series["id"]}
    listing = next(r for r in sb.requests if r.path.endswith("/events") and r.method == "GET")
    assert ("singleEvents", "false") in listing.query and ("showDeleted", "false") in listing.query
    assert ("maxResults", "2500") in listing.query

    added = sb.insert_event(ADA, google_body("New", "2026-03-12T12:00:00+01:00", "2026-03-12T13:00:00+01:00"))
    sb.patch_event(ADA, single["id"], {"summary": "Long lunch"})
    sb.delete_event(ADA, doomed["id"])
    sb.patch_event(
        ADA,
        f"{series['id']}_20260309T080000Z",
        {"summary": "Standup (moved)", "start": {"dateTime": "2026-03-09T10:00:00+01:00", "timeZone": "Europe/Berlin"},
         "end": {"dateTime": "2026-03-09T10:30:00+01:00", "timeZone": "Europe/Berlin"}},
    )
    sb.delete_event(ADA, f"{series['id']}_20260316T080000Z")

    changes = await provider.changes(ADA, full.cursor)

    assert not changes.full and changes.deleted == (doomed["id"],) and changes.problems == ()
    items = {item.id: item for item in changes.items}
    assert set(items) == {added["id"], single["id"], series["id"]}
    assert items[single["id"]].events[0].summary == "Long lunch"
    master, moved = items[series["id"]].events
    assert master.recurrence == Recurrence(("FREQ=WEEKLY;COUNT=6",), exdates=(berlin(16, 9),))
    assert moved.summary == "Standup (moved)" and moved.recurrence_id == RecurrenceId(berlin(9, 9))
    assert moved.start == berlin(9, 10)
    # The series came whole from a plain iCalUID listing; the sync listing sent no forbidden parameter.
    sync_listing = next(r for r in sb.requests if ("syncToken", full.cursor) in r.query)
    assert {k for k, _ in sync_listing.query} <= {"syncToken", "maxResults", "singleEvents", "pageToken"}
    assert any(("iCalUID", master.uid) in r.query and ("showDeleted", "true") in r.query for r in sb.requests)
    assert items[series["id"]] == await provider.get(ADA, series["id"])

    quiet = await provider.changes(ADA, changes.cursor)
    assert quiet.items == () and quiet.deleted == ()

    # Only the master changes: the item still carries its override and EXDATE.
    sb.patch_event(ADA, series["id"], {"description": "Daily sync"})
    again = await provider.changes(ADA, quiet.cursor)
    (item,) = again.items
    assert item.events[0].description == "Daily sync" and len(item.events) == 2
    assert item.events[0].recurrence is not None and item.events[0].recurrence.exdates == (berlin(16, 9),)

    # The series is deleted: its id is deleted, whatever its instances did.
    sb.delete_event(ADA, series["id"])
    gone = await provider.changes(ADA, again.cursor)
    assert gone.items == () and gone.deleted == (series["id"],)
    assert await provider.get(ADA, series["id"]) is None


async def test_a_full_listing_pages_until_the_sync_token(account: Account) -> None:
    sb = account.sb
    sb.bulk_insert(
        ADA,
        (google_body(f"Event {n}", f"2026-04-01T{n % 10:02d}:00:00+02:00", f"2026-04-01T{n % 10:02d}:30:00+02:00") for n in range(2600)),
    )
    full = await account.provider.changes(ADA, None)
    assert len(full.items) == 2600 and full.cursor
    assert sum(1 for r in sb.requests if r.path.endswith("/events")) == 2


async def test_an_expired_sync_token_asks_for_a_full_resync(account: Account) -> None:
    full = await account.provider.changes(ADA, None)
    account.sb.invalidate_sync_tokens(ADA)
    with pytest.raises(SyncCursorExpired):
        await account.provider.changes(ADA, full.cursor)


@pytest.fixture
def odd_google() -> Iterator[str]:
    """A server answering events.list with what Google should never send, but a proxy or a
    future API version might: an event without a start, and instances of a series it lacks."""
    page = {
        "kind": "calendar#events",
        "timeZone": "UTC",
        "nextSyncToken": "sync-1",
        "items": [
            {"id": "good1", "etag": '"1"', "iCalUID": "good@x", "start": {"date": "2026-03-10"}, "end": {"date": "2026-03-11"}},
            {"id": "nostart1", "etag": '"2"', "iCalUID": "bad@x", "end": {"date": "2026-03-11"}},
            {"id": "orphan1_20260310", "etag": '"3"', "recurringEventId": "orphan1", "iCalUID": "orphan@x",
             "originalStartTime": {"date": "2026-03-10"}, "start": {"date": "2026-03-10"}, "end": {"date": "2026-03-11"}},
            {"id": "gone1_20260310", "etag": '"4"', "status": "cancelled", "recurringEventId": "gone1",
             "originalStartTime": {"date": "2026-03-10"}},
        ],
    }

    changes = {
        "kind": "calendar#events",
        "timeZone": "UTC",
        "nextSyncToken": "sync-2",
        "items": [page["items"][2], page["items"][3]],
    }

    async def answer(request: Request) -> Response:
        if request.url.path.endswith("/events"):
            return JSONResponse(changes if "syncToken" in request.query_params else page)
        not_found = {"error": {"errors": [{"domain": "global", "reason": "notFound", "message": "Not Found"}], "code": 404, "message": "Not Found"}}
        return JSONResponse(not_found, status_code=404)

    running = serve_in_thread(Starlette(routes=[Route("/{path:path}", answer)]))
    try:
        yield running.url
    finally:
        running.stop()


async def test_unreadable_items_and_orphans_are_problems_not_crashes(odd_google: str) -> None:
    app = google_app("id", "secret", api_url=odd_google)
    keeper = MemoryTokenKeeper(app, TokenSet("ya29.fake", "1//fake", datetime.now(UTC) + timedelta(hours=1)))
    provider = open_google(ProviderConfig(account={}, oauth=app, tokens=keeper), retry=FAST_RETRIES)
    try:
        full = await provider.changes("primary", None)
        later = await provider.changes("primary", full.cursor)
    finally:
        await provider.aclose()
    assert [item.id for item in full.items] == ["good1"] and full.cursor == "sync-1"
    problems = {problem.id: problem.message for problem in full.problems}
    assert set(problems) == {"nostart1", "orphan1"}  # a cancelled orphan instance shows nothing
    assert "start" in problems["nostart1"] and "not the event itself" in problems["orphan1"]
    # Incrementally alike: the live orphan is a problem; a cancelled instance of a missing
    # series means the series was deleted.
    assert later.items == () and later.cursor == "sync-2"
    assert [p.id for p in later.problems] == ["orphan1"] and later.deleted == ("gone1",)


# --- writing ----------------------------------------------------------------------------------


async def test_create_keeps_the_uid_and_the_calmesh_tag(account: Account) -> None:
    sb, provider = account.sb, account.provider
    event = Event(
        uid="booking-42@calmesh",
        start=EventTime(datetime(2026, 4, 1, 15, tzinfo=NEW_YORK), "America/New_York"),
        end=EventTime(datetime(2026, 4, 1, 15, 45, tzinfo=NEW_YORK), "America/New_York"),
        summary="Intro call",
        description="Agenda",
        location="Room 4",
        transparency=Transparency.TRANSPARENT,
        visibility=Visibility.PRIVATE,
        attendees=(Attendee("bob@example.com", "Bob"),),
        reminders=(Reminder(10), Reminder(60, "email")),
        x_properties={TAG: "m-42", "X-CALMESH-BOOKING": "b-1"},
    )

    written = await provider.create(ADA, [event])

    stored = sb.get_event(ADA, written.id)
    assert stored is not None and stored["iCalUID"] == event.uid and written.etag == stored["etag"]
    assert stored["extendedProperties"]["private"] == {"calmeshId": "m-42", "X-CALMESH-BOOKING": "b-1"}
    insert = next(r for r in sb.requests if r.method == "POST" and r.path.endswith("/events"))
    assert "id" not in insert.json and ("conferenceDataVersion", "1") in insert.query
    item = await provider.get(ADA, written.id)
    assert item is not None and item.etag == written.etag
    assert [comparable(e) for e in item.events] == [comparable(event)]
    assert written.events == item.events  # as Google stored it: with the organizer it set
    assert written.events[0].organizer is not None and written.events[0].organizer.email == ADA

    full = await provider.changes(ADA, None)
    assert full.items[0].events[0].x_properties[TAG] == "m-42"

    with pytest.raises(PreconditionFailed):
        await provider.create(ADA, [event])


async def test_create_an_all_day_and_a_floating_event(account: Account) -> None:
    team = account.sb.add_calendar(ADA, "Team", time_zone="America/New_York")
    holiday = Event(uid="holiday@calmesh", start=EventTime(date(2026, 7, 3)), end=EventTime(date(2026, 7, 4)), summary="Off")
    floating = Event(uid="floating@calmesh", start=EventTime(datetime(2026, 7, 6, 9)), end=EventTime(datetime(2026, 7, 6, 10)))
    day = await account.provider.create(team, [holiday])
    wall = await account.provider.create(team, [floating])
    stored = account.sb.get_event(team, wall.id)
    assert stored is not None and stored["start"] == {"dateTime": "2026-07-06T09:00:00-04:00", "timeZone": "America/New_York"}
    item = await account.provider.get(team, day.id)
    assert item is not None and item.events[0].start == EventTime(date(2026, 7, 3)) and item.events[0].all_day


async def test_create_a_series_with_an_override_and_a_cancelled_instance(account: Account) -> None:
    sb, provider = account.sb, account.provider
    master = standup()
    moved = instance(9, summary="Standup (moved)", start=berlin(9, 11), end=berlin(9, 11, 30))
    cancelled = instance(16, status=EventStatus.CANCELLED)

    written = await provider.create(ADA, [master, moved, cancelled])

    stored = sb.get_event(ADA, f"{written.id}_20260309T080000Z")
    assert stored is not None and stored["summary"] == "Standup (moved)" and stored["recurringEventId"] == written.id
    item = await provider.get(ADA, written.id)
    assert item is not None and item.etag == written.etag and written.events == item.events
    expected = replace(master, recurrence=Recurrence(("FREQ=WEEKLY;COUNT=6",), exdates=(berlin(16, 9),)))
    assert [comparable(e) for e in item.events] == [comparable(expected), comparable(moved)]


async def test_update_refuses_a_stale_etag_and_sends_if_match(account: Account) -> None:
    sb, provider = account.sb, account.provider
    event = Event(uid="one@calmesh", start=berlin(10, 12), end=berlin(10, 13), summary="Lunch")
    written = await provider.create(ADA, [event])
    sb.patch_event(ADA, written.id, {"summary": "Changed elsewhere"})

    with pytest.raises(PreconditionFailed):
        await provider.update(ADA, written.id, [replace(event, summary="Ours")], written.etag)

    current = await provider.get(ADA, written.id)
    assert current is not None
    updated = await provider.update(ADA, written.id, [replace(event, summary="Ours")], current.etag)
    stored = sb.get_event(ADA, written.id)
    assert stored is not None and stored["summary"] == "Ours" and updated.etag == stored["etag"] != current.etag
    put = next(r for r in sb.requests if r.method == "PUT")
    assert put.headers["if-match"] == current.etag and ("conferenceDataVersion", "1") in put.query

    with pytest.raises(PreconditionFailed):
        await provider.update(ADA, "nosuchevent1", [event], None)


async def test_update_keeps_fields_calmesh_does_not_model(account: Account) -> None:
    sb, provider = account.sb, account.provider
    stored = sb.insert_event(
        ADA,
        google_body(
            "Theirs", "2026-03-10T12:00:00+01:00", "2026-03-10T13:00:00+01:00",
            colorId="5", guestsCanModify=True, extendedProperties={"private": {"otherApp": "keep", "X-OLD": "drop"}},
        ),
    )
    item = await provider.get(ADA, stored["id"])
    assert item is not None
    ours = replace(item.events[0], summary="Ours", x_properties={TAG: "m-1"})
    await provider.update(ADA, item.id, [ours], item.etag)
    after = sb.get_event(ADA, stored["id"])
    assert after is not None and after["colorId"] == "5" and after["guestsCanModify"] is True
    assert after["extendedProperties"]["private"] == {"otherApp": "keep", "calmeshId": "m-1"}


async def test_update_rewrites_overrides_resets_and_revives_instances(account: Account) -> None:
    sb, provider = account.sb, account.provider
    written = await provider.create(ADA, [standup(), instance(9, summary="Moved", start=berlin(9, 11), end=berlin(9, 11, 30))])
    item = await provider.get(ADA, written.id)
    assert item is not None and len(item.events) == 2

    # The 9th is no longer overridden, the 23rd is cancelled, the master is renamed.
    renamed = standup(summary="Daily standup")
    second = await provider.update(ADA, written.id, [renamed, instance(23, status=EventStatus.CANCELLED)], item.etag)
    item = await provider.get(ADA, written.id)
    assert item is not None and item.etag == second.etag and item.events == second.events
    expected = replace(renamed, recurrence=Recurrence(("FREQ=WEEKLY;COUNT=6",), exdates=(berlin(23, 9),)))
    assert [comparable(e) for e in item.events] == [comparable(expected)]

    # Another client cancels the 30th (a cancelled instance); calmesh brings the 23rd and 30th
    # back and overrides the 16th.
    sb.delete_event(ADA, f"{written.id}_20260330T070000Z")
    item = await provider.get(ADA, written.id)
    assert item is not None and item.events[0].recurrence is not None
    assert item.events[0].recurrence.exdates == (berlin(23, 9), berlin(30, 9))
    late = instance(16, summary="Daily standup", start=berlin(16, 10), end=berlin(16, 10, 30))
    third = await provider.update(ADA, written.id, [renamed, late], item.etag)
    item = await provider.get(ADA, written.id)
    assert item is not None and item.etag == third.etag
    assert [comparable(e) for e in item.events] == [comparable(renamed), comparable(late)]


async def test_update_keeps_the_meet_link_unless_asked_otherwise(account: Account) -> None:
    provider = account.provider
    event = Event(uid="meet@calmesh", start=berlin(10, 15), end=berlin(10, 16), summary="Call", conference=ConferenceData("GOOGLE_MEET"))
    written = await provider.create(ADA, [event])
    item = await provider.get(ADA, written.id)
    assert item is not None and item.events[0].conference is not None
    link = item.events[0].conference.join_url
    assert link is not None and link.startswith("https://meet.google.com/")

    # An update carrying the event as read keeps the link …
    renamed = await provider.update(ADA, written.id, [replace(item.events[0], summary="Renamed")], item.etag)
    item = await provider.get(ADA, written.id)
    assert item is not None and item.events[0].conference is not None and item.events[0].conference.join_url == link
    # … and so does one from a mirror that has not seen the link yet.
    await provider.update(ADA, written.id, [replace(event, summary="Stale mirror")], renamed.etag)
    item = await provider.get(ADA, written.id)
    assert item is not None and item.events[0].conference is not None and item.events[0].conference.join_url == link
    assert all(("conferenceDataVersion", "1") in r.query for r in account.sb.requests if r.method in ("PUT", "POST"))
    # Taking the conference away removes it.
    await provider.update(ADA, written.id, [replace(event, conference=None)], item.etag)
    item = await provider.get(ADA, written.id)
    assert item is not None and item.events[0].conference is None


async def test_a_pending_meet_is_polled_until_it_has_a_link(account: Account) -> None:
    account.sb.meet_pending_reads = 2
    event = Event(uid="pending@calmesh", start=berlin(10, 15), end=berlin(10, 16), conference=ConferenceData("GOOGLE_MEET"))
    written = await account.provider.create(ADA, [event])
    polls = [r for r in account.sb.requests if r.method == "GET" and r.path.endswith(f"/events/{written.id}")]
    assert len(polls) >= 2
    stored = account.sb.get_event(ADA, written.id)
    assert stored is not None and stored["etag"] == written.etag
    assert stored["conferenceData"]["createRequest"]["status"]["statusCode"] == "success"
    # The caller learns the link from the write itself.
    assert written.events is not None and written.events[0].conference is not None
    assert written.events[0].conference.join_url == stored["hangoutLink"]


async def test_a_failed_meet_leaves_the_event_and_says_so(account: Account) -> None:
    account.sb.meet_fails = True
    event = Event(uid="nomeet@calmesh", start=berlin(10, 15), end=berlin(10, 16), conference=ConferenceData("GOOGLE_MEET"))
    with pytest.raises(MeetLinkFailed) as failure:
        await account.provider.create(ADA, [event])
    assert isinstance(failure.value, ProviderRefused) and "Meet" in failure.value.message
    stored = account.sb.get_event(ADA, failure.value.written.id)
    assert stored is not None and stored["status"] == "confirmed" and "hangoutLink" not in stored


async def test_a_meet_that_stays_pending_times_out(account: Account) -> None:
    account.sb.meet_pending_reads = 1000
    provider = open_google(
        ProviderConfig(account={}, oauth=sandbox_app(account.served), tokens=account.keeper),
        retry=FAST_RETRIES,
        meet=MeetPolling(first_seconds=0.01, total_seconds=0.05),
    )
    event = Event(uid="slow@calmesh", start=berlin(10, 15), end=berlin(10, 16), conference=ConferenceData("GOOGLE_MEET"))
    try:
        with pytest.raises(MeetLinkFailed) as failure:
            await provider.create(ADA, [event])
    finally:
        await provider.aclose()
    assert "0.05 s" in failure.value.message and account.sb.get_event(ADA, failure.value.written.id) is not None


async def test_delete_checks_the_etag_and_ignores_what_is_gone(account: Account) -> None:
    sb, provider = account.sb, account.provider
    written = await provider.create(ADA, [standup(), instance(9, summary="Moved")])
    sb.patch_event(ADA, f"{written.id}_20260316T080000Z", {"summary": "Changed elsewhere"})
    with pytest.raises(PreconditionFailed):
        await provider.delete(ADA, written.id, written.etag)
    current = await provider.get(ADA, written.id)
    master = sb.get_event(ADA, written.id)
    assert current is not None and master is not None
    await provider.delete(ADA, written.id, current.etag)
    delete = next(r for r in sb.requests if r.method == "DELETE")
    assert delete.headers["if-match"] == master["etag"] != current.etag  # the series etag covers instances
    assert await provider.get(ADA, written.id) is None
    await provider.delete(ADA, written.id, None)  # 410 deleted: fine
    await provider.delete(ADA, written.id, current.etag)  # gone: fine
    await provider.delete(ADA, "nosuchevent1", None)  # 404: fine


async def test_writing_to_a_read_only_calendar_is_refused_readably(account: Account) -> None:
    account.sb.add_user("bob@example.com", "Bob")
    account.sb.share_calendar("bob@example.com", ADA, "reader")
    event = Event(uid="ro@calmesh", start=berlin(10, 15), end=berlin(10, 16))
    with pytest.raises(ProviderRefused, match="read-only"):
        await account.provider.create("bob@example.com", [event])


# --- retries, rate limits and tokens ------------------------------------------------------------


async def test_server_errors_are_retried(account: Account) -> None:
    account.sb.inject(503, times=2, path="calendarList")
    assert await account.provider.list_calendars()
    assert [r.status for r in account.sb.requests if r.path.endswith("calendarList")] == [503, 503, 200]


async def test_timeouts_are_retried_and_a_dead_server_is_unreachable(account: Account) -> None:
    config = ProviderConfig(account={}, oauth=sandbox_app(account.served), tokens=account.keeper, timeout_seconds=0.3)
    provider = open_google(config, retry=FAST_RETRIES)
    account.sb.delay(1.0, times=1, path="calendarList")
    try:
        assert await provider.list_calendars()
    finally:
        await provider.aclose()
    dead = google_app("id", "secret", api_url="http://127.0.0.1:9")
    provider = open_google(ProviderConfig(account={}, oauth=dead, tokens=account.keeper), retry=FAST_RETRIES)
    try:
        with pytest.raises(ProviderUnreachable, match="3 attempts"):
            await provider.list_calendars()
    finally:
        await provider.aclose()


async def test_rate_limits_beyond_the_attempts_raise_rate_limited(account: Account) -> None:
    account.sb.inject(403, reason="rateLimitExceeded", times=5, path="calendarList")
    with pytest.raises(ProviderRateLimited) as limited:
        await account.provider.list_calendars()
    assert limited.value.retry_after is not None and limited.value.retry_after > 0
    assert sum(1 for r in account.sb.requests if r.path.endswith("calendarList")) == FAST_RETRIES.attempts


async def test_retry_after_is_honoured(account: Account) -> None:
    provider = open_google(
        ProviderConfig(account={}, oauth=sandbox_app(account.served), tokens=account.keeper),
        retry=RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=5),
    )
    account.sb.inject(429, times=1, path="calendarList", retry_after=1)
    try:
        started = time.monotonic()
        assert await provider.list_calendars()
        assert 0.9 <= time.monotonic() - started < 4
    finally:
        await provider.aclose()
    # A Retry-After longer than the policy's longest wait is not slept through.
    account.sb.inject(429, times=1, path="calendarList", retry_after=30)
    with pytest.raises(ProviderRateLimited) as limited:
        await account.provider.list_calendars()
    assert limited.value.retry_after == 30


async def test_an_expired_access_token_is_refreshed_once(account: Account) -> None:
    before = account.keeper.tokens
    account.sb.expire_access_tokens(ADA)
    assert await account.provider.list_calendars()
    after = account.keeper.tokens
    assert after.access_token != before.access_token and after.refresh_token == before.refresh_token
    assert account.keeper.refreshes == 1
    assert sum(1 for r in account.sb.requests if r.path == "/token") == 1


async def test_a_token_about_to_expire_is_refreshed_first(account: Account) -> None:
    keeper = keeper_for(account.served)
    keeper._tokens = replace(keeper.tokens, expires_at=datetime.now(UTC) + timedelta(seconds=30))
    provider = open_google(ProviderConfig(account={}, oauth=sandbox_app(account.served), tokens=keeper))
    try:
        assert await provider.list_calendars()
    finally:
        await provider.aclose()
    assert keeper.refreshes == 1 and all(r.status != 401 for r in account.sb.requests)


async def test_a_revoked_grant_needs_the_user(account: Account) -> None:
    tokens = account.keeper.tokens
    account.sb.revoke_grants(ADA)
    with pytest.raises(ProviderAuthFailed) as refused:
        await account.provider.list_calendars()
    assert tokens.access_token not in refused.value.message
    assert tokens.refresh_token is not None and tokens.refresh_token not in refused.value.message


async def test_calendar_access_not_granted_needs_the_user(account: Account) -> None:
    grant = account.sb.issue_tokens(ADA, scopes=["https://www.googleapis.com/auth/calendar.calendarlist.readonly"])
    keeper = MemoryTokenKeeper(sandbox_app(account.served), TokenSet(grant["access_token"], grant["refresh_token"]))
    provider = open_google(ProviderConfig(account={}, oauth=sandbox_app(account.served), tokens=keeper), retry=FAST_RETRIES)
    try:
        assert await provider.list_calendars()
        with pytest.raises(ProviderAuthFailed, match="allow calendar access"):
            await provider.changes(ADA, None)
    finally:
        await provider.aclose()


@pytest.fixture
def garbage_server() -> Iterator[str]:
    async def answer(request: Request) -> Response:
        if "calendarList" in request.url.path:
            return PlainTextResponse("<html>Service temporarily unavailable</html>", media_type="text/html")
        if request.url.path.endswith("/events"):
            return Response('{"items": {"not": "a list"}}', media_type="application/json")
        return Response("[1, 2, 3]", media_type="application/json")

    running = serve_in_thread(Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])]))
    try:
        yield running.url
    finally:
        running.stop()


async def test_answers_that_are_not_google_json_are_protocol_errors(garbage_server: str) -> None:
    app = google_app("id", "secret", api_url=garbage_server)
    keeper = MemoryTokenKeeper(app, TokenSet("ya29.fake", "1//fake", datetime.now(UTC) + timedelta(hours=1)))
    provider = open_google(ProviderConfig(account={}, oauth=app, tokens=keeper), retry=FAST_RETRIES)
    try:
        with pytest.raises(ProviderProtocolError):
            await provider.list_calendars()
        with pytest.raises(ProviderProtocolError):
            await provider.changes("primary", None)
        with pytest.raises(ProviderProtocolError):
            await provider.get("primary", "abcdef")
    finally:
        await provider.aclose()


# --- push and revocation -------------------------------------------------------------------------


async def test_watch_and_stop_watching(account: Account) -> None:
    channel = await account.provider.watch(ADA, "chan-1", NOWHERE, "secret-token", 3600)
    assert channel.id == "chan-1" and channel.resource_id
    assert abs(channel.expires_at - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=1)
    (open_channel,) = account.sb.channels
    assert (open_channel.id, open_channel.token, open_channel.address) == ("chan-1", "secret-token", NOWHERE)
    watch = next(r for r in account.sb.requests if r.path.endswith("/events/watch"))
    assert watch.json == {"id": "chan-1", "type": "web_hook", "address": NOWHERE, "token": "secret-token", "params": {"ttl": "3600"}}

    await account.provider.stop_watching("chan-1", channel.resource_id)
    assert account.sb.channels == []
    await account.provider.stop_watching("chan-1", channel.resource_id)  # unknown now: fine


async def test_revoke_withdraws_the_grant(account: Account) -> None:
    assert await account.provider.revoke() is True
    revoke = next(r for r in account.sb.requests if r.path == "/revoke")
    assert revoke.form is not None and revoke.form["token"] == account.keeper.tokens.refresh_token
    assert await account.provider.revoke() is False
    with pytest.raises(ProviderAuthFailed):
        await account.provider.list_calendars()
