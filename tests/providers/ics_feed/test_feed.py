"""Reading real feeds over real HTTP: the calendar, the items, and conditional re-fetches."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timezone

import pytest

from calmesh.domain.events import Event
from calmesh.errors import InvalidInput, ProviderRefused
from calmesh.ical import parse_calendar
from calmesh.providers.base import CalendarProvider, ChangeSet, ProviderConfig
from calmesh.providers.ics_feed import IcsFeedProvider, open_ics_feed
from calmesh.sync.fingerprint import item_fingerprint

from .conftest import CORPUS, TOKEN, FeedServer, require_corpus

#: Real exports with recurring series and overrides: Outlook 12, Google Calendar, Apple iCal 1.5.
OUTLOOK = "ical4j/transform/outlook2.txt"
GOOGLE = "ical4j/samples/valid/google_aus_holidays.ics"
APPLE = "ical4j/samples/valid/blalor.ics"


def _feed(server: FeedServer, path: str) -> IcsFeedProvider:
    return IcsFeedProvider(server.url(path), allow_private_network=True, timeout_seconds=5)


@pytest.fixture
async def google(server: FeedServer) -> AsyncIterator[IcsFeedProvider]:
    require_corpus()
    async with _feed(server, f"/files/{GOOGLE}") as provider:
        yield provider


def _ics(*vevents: str, name: str | None = None) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    if name:
        head += f"X-WR-CALNAME:{name}\r\n"
    return (head + "".join(vevents) + "END:VCALENDAR\r\n").encode()


def _vevent(uid: str, start: str, summary: str, *extra: str) -> str:
    lines = [f"UID:{uid}", "DTSTAMP:20250101T000000Z", f"DTSTART:{start}", f"SUMMARY:{summary}", *extra]
    return "BEGIN:VEVENT\r\n" + "".join(f"{line}\r\n" for line in lines) + "END:VEVENT\r\n"


def _recurrence_key(event: Event) -> float:
    assert event.recurrence_id is not None
    value = event.recurrence_id.value.value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    assert isinstance(value, date)
    return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()


async def test_the_feed_is_one_read_only_calendar(google: IcsFeedProvider) -> None:
    assert isinstance(google, CalendarProvider)
    assert google.capabilities.incremental is False
    assert google.capabilities.push is False
    assert google.capabilities.write is False
    assert google.capabilities.free_busy is False
    [calendar] = await google.list_calendars()
    assert calendar.id == "feed"
    assert calendar.name == "Australian Holidays"
    assert calendar.read_only and calendar.is_primary
    assert calendar.time_zone == "US/Pacific"


async def test_a_feed_without_a_name_is_named_after_its_host(server: FeedServer) -> None:
    server.feeds["nameless"] = (_ics(_vevent("a", "20250101T100000Z", "A")), None)
    async with _feed(server, "/mutable/nameless") as provider:
        [calendar] = await provider.list_calendars()
    assert calendar.name == "127.0.0.1"
    assert calendar.time_zone is None


@pytest.mark.parametrize("path", [OUTLOOK, GOOGLE, APPLE], ids=["outlook", "google", "apple"])
async def test_a_full_listing_groups_each_uid_into_one_item(server: FeedServer, path: str) -> None:
    require_corpus()
    parsed = parse_calendar((CORPUS / path).read_bytes())
    # Outlook lists some events twice (same UID, no RECURRENCE-ID): one item keeps one of them.
    distinct = {(event.uid, repr(event.recurrence_id)) for event in parsed.events}
    per_uid = Counter(uid for uid, _ in distinct)
    assert any(count > 1 for count in per_uid.values()), "the sample should have overrides"
    first_seen = list(dict.fromkeys(event.uid for event in parsed.events))

    async with _feed(server, f"/files/{path}") as provider:
        changes = await provider.changes("feed", None)

    assert changes.full is True
    assert changes.deleted == ()
    assert changes.problems == ()
    assert [item.id for item in changes.items] == first_seen
    for item in changes.items:
        assert len(item.events) == per_uid[item.id]
        assert {event.uid for event in item.events} == {item.id}
        assert item.uid == item.id
        assert item.etag == item_fingerprint(item.events)
        masters = [event for event in item.events if event.recurrence_id is None]
        overrides = list(item.events[len(masters):])
        assert len(masters) <= 1
        assert masters == [event for event in item.events[:1] if event.recurrence_id is None]
        assert overrides == sorted(overrides, key=_recurrence_key)
    series = [item for item in changes.items if len(item.events) > 1]
    assert series and all(item.events[0].recurrence is not None for item in series)
    cursor = json.loads(changes.cursor or "")
    assert cursor["v"] == 1
    assert cursor["etag"].startswith('"') and cursor["lastModified"].endswith("GMT")
    assert len(cursor["sha256"]) == 64


async def test_an_unchanged_feed_answers_304_and_keeps_the_cursor(google: IcsFeedProvider, server: FeedServer) -> None:
    first = await google.changes("feed", None)
    assert first.full and first.items
    again = await google.changes("feed", first.cursor)
    assert again == ChangeSet(items=(), full=False, cursor=first.cursor)

    sent = server.log[-1].headers
    cursor = json.loads(first.cursor or "")
    assert sent["if-none-match"] == cursor["etag"]
    assert sent["if-modified-since"] == cursor["lastModified"]
    assert "if-none-match" not in server.log[0].headers


async def test_the_same_bytes_without_validators_are_no_work(server: FeedServer) -> None:
    require_corpus()
    async with _feed(server, f"/plain/{APPLE}") as provider:
        first = await provider.changes("feed", None)
        again = await provider.changes("feed", first.cursor)
    assert json.loads(first.cursor or "")["etag"] is None
    assert again == ChangeSet(items=(), full=False, cursor=first.cursor)
    assert "if-none-match" not in server.log[-1].headers


async def test_a_changed_feed_is_listed_in_full_again(server: FeedServer) -> None:
    weekly = _vevent("series", "20250106T090000Z", "Standup", "RRULE:FREQ=WEEKLY")
    moved = _vevent("series", "20250113T100000Z", "Standup (moved)", "RECURRENCE-ID:20250113T090000Z")
    server.feeds["team"] = (_ics(weekly, _vevent("lunch", "20250110T120000Z", "Lunch"), name="Team"), '"v1"')
    async with _feed(server, "/mutable/team") as provider:
        first = await provider.changes("feed", None)
        assert [item.id for item in first.items] == ["series", "lunch"]

        server.feeds["team"] = (_ics(moved, weekly, _vevent("retro", "20250117T150000Z", "Retro"), name="Team"), '"v2"')
        second = await provider.changes("feed", first.cursor)

    assert second.full is True
    assert second.cursor != first.cursor
    assert json.loads(second.cursor or "")["etag"] == '"v2"'
    assert server.log[-1].headers["if-none-match"] == '"v1"'
    assert [item.id for item in second.items] == ["series", "retro"]  # lunch is gone
    series = second.items[0]
    assert [event.summary for event in series.events] == ["Standup", "Standup (moved)"]  # master first
    assert series.etag != first.items[0].etag
    assert series.etag == item_fingerprint(series.events)


async def test_a_feed_that_only_rewrites_dtstamp_keeps_its_item_etags(server: FeedServer) -> None:
    event = _vevent("same", "20250106T090000Z", "Same")
    server.feeds["stamps"] = (_ics(event), None)
    async with _feed(server, "/mutable/stamps") as provider:
        first = await provider.changes("feed", None)
        server.feeds["stamps"] = (_ics(event.replace("DTSTAMP:20250101T000000Z", "DTSTAMP:20250202T000000Z")), None)
        second = await provider.changes("feed", first.cursor)
    assert second.full is True  # other bytes: listed again …
    assert second.items[0].etag == first.items[0].etag  # … but nothing a user would see changed


async def test_a_bad_vevent_is_a_problem_and_the_rest_still_comes(server: FeedServer) -> None:
    good = _vevent("good", "20250106T090000Z", "Good")
    bad = _vevent("bad", "not-a-date", "Bad")
    nameless_bad = "BEGIN:VEVENT\r\nDTSTART:garbage\r\nSUMMARY:No UID\r\nEND:VEVENT\r\n"
    master = _vevent("half", "20250106T090000Z", "Series", "RRULE:FREQ=DAILY")
    broken_override = _vevent("half", "garbage", "Broken override", "RECURRENCE-ID:20250107T090000Z")
    server.feeds["bad"] = (_ics(good, bad, master, broken_override, nameless_bad), None)
    async with _feed(server, "/mutable/bad") as provider:
        changes = await provider.changes("feed", None)
    assert changes.full is True
    assert [item.id for item in changes.items] == ["good"]
    problems = {problem.id: problem.message for problem in changes.problems}
    assert set(problems) >= {"bad", "half"}
    # The UID-less VEVENT is named by its line (or the UID the reader made for it).
    assert len(problems) == 3
    assert all("skipped" in message for message in problems.values())


async def test_of_two_copies_of_one_event_the_newest_is_kept(server: FeedServer) -> None:
    old = _vevent("dup", "20250106T090000Z", "Old", "SEQUENCE:1", "LAST-MODIFIED:20250102T000000Z")
    new = _vevent("dup", "20250106T100000Z", "New", "SEQUENCE:1", "LAST-MODIFIED:20250103T000000Z")
    older_sequence = _vevent("dup", "20250106T110000Z", "Older sequence", "SEQUENCE:0", "LAST-MODIFIED:20250104T000000Z")
    server.feeds["dup"] = (_ics(old, new, older_sequence), None)
    async with _feed(server, "/mutable/dup") as provider:
        changes = await provider.changes("feed", None)
    [item] = changes.items
    assert [event.summary for event in item.events] == ["New"]


async def test_an_override_without_its_master_is_still_an_item(server: FeedServer) -> None:
    late = _vevent("orphan", "20250120T100000Z", "Late", "RECURRENCE-ID:20250120T090000Z")
    early = _vevent("orphan", "20250113T100000Z", "Early", "RECURRENCE-ID:20250113T090000Z")
    server.feeds["orphans"] = (_ics(late, early), None)
    async with _feed(server, "/mutable/orphans") as provider:
        changes = await provider.changes("feed", None)
    [item] = changes.items
    assert item.id == "orphan"
    assert [event.summary for event in item.events] == ["Early", "Late"]


async def test_get_returns_one_item_or_none(google: IcsFeedProvider) -> None:
    listing = await google.changes("feed", None)
    wanted = next(item for item in listing.items if len(item.events) > 1)
    assert await google.get("feed", wanted.id) == wanted
    assert await google.get("feed", "no-such-uid@example.com") is None


async def test_webcal_and_gzip(server: FeedServer) -> None:
    require_corpus()
    async with IcsFeedProvider(server.url(f"/gzip/{APPLE}", scheme="webcal"), allow_private_network=True) as provider:
        [calendar] = await provider.list_calendars()
        changes = await provider.changes("feed", None)
    assert calendar.name == "ical4j"
    assert [item.id for item in changes.items] == ["D9182220"]
    assert "gzip" in server.log[-1].headers["accept-encoding"]


async def test_an_unreadable_cursor_is_a_full_fetch(google: IcsFeedProvider, server: FeedServer) -> None:
    for cursor in ["not json", "[1]", '{"v": 99}', '{"v": 1, "etag": 5}']:
        changes = await google.changes("feed", cursor)
        assert changes.full and changes.items
    assert all("if-none-match" not in entry.headers for entry in server.log)


async def test_open_ics_feed_takes_the_url_from_the_secrets(server: FeedServer) -> None:
    server.feeds["secret"] = (_ics(_vevent("a", "20250101T100000Z", "A"), name="Secret"), None)
    config = ProviderConfig(
        account={"displayUrl": "http://127.0.0.1/…"},
        secrets={"url": server.url("/mutable/secret")},
        allow_private_network=True,
        timeout_seconds=5,
    )
    provider = open_ics_feed(config, max_bytes=1024)
    try:
        [calendar] = await provider.list_calendars()
    finally:
        await provider.aclose()
    assert calendar.name == "Secret"
    assert provider.origin == server.base
    assert server.log[-1].query["token"] == [TOKEN]  # the secret URL is used as given

    with pytest.raises(InvalidInput):
        open_ics_feed(ProviderConfig(account={"url": server.url("/mutable/secret")}))


async def test_feeds_are_read_only(google: IcsFeedProvider) -> None:
    listing = await google.changes("feed", None)
    item = listing.items[0]
    with pytest.raises(ProviderRefused, match="ICS feeds are read-only"):
        await google.create("feed", item.events)
    with pytest.raises(ProviderRefused, match="ICS feeds are read-only"):
        await google.update("feed", item.id, item.events, item.etag)
    with pytest.raises(ProviderRefused, match="ICS feeds are read-only"):
        await google.delete("feed", item.id, item.etag)


async def test_there_is_no_other_calendar(google: IcsFeedProvider) -> None:
    with pytest.raises(ProviderRefused):
        await google.changes("work", None)
    with pytest.raises(ProviderRefused):
        await google.get("work", "x")
