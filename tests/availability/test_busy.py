"""Busy time from events: what blocks, for how long, and where it came from."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calmesh.availability import BusyInterval, busy_blocks, busy_intervals, merged_busy
from calmesh.domain.events import (
    Attendee,
    Event,
    EventStatus,
    EventTime,
    ParticipationStatus,
    Recurrence,
    RecurrenceId,
    Transparency,
)
from calmesh.domain.intervals import Interval, merge
from calmesh.domain.recurrence import expand_events

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
OWNER = "Ada@Example.com"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def event(
    start: datetime | date,
    end: datetime | date,
    *,
    uid: str = "e1",
    summary: str | None = "Meeting",
    **fields: Any,
) -> Event:
    return Event(uid=uid, start=EventTime(start), end=EventTime(end), summary=summary, **fields)


def attendee(email: str, status: ParticipationStatus) -> Attendee:
    return Attendee(email=email, status=status)


YEAR = Interval(utc(2026, 1, 1), utc(2027, 1, 1))


def busy(
    *items: Event, owner: str | None = OWNER, zone: ZoneInfo = BERLIN, window: Interval = YEAR
) -> list[BusyInterval]:
    return busy_intervals(items, owner_email=owner, all_day_zone=zone, window=window)


def spans(entries: list[BusyInterval]) -> list[tuple[datetime, datetime]]:
    return [(entry.start, entry.end) for entry in entries]


WEEK = Interval(utc(2026, 3, 23), utc(2026, 3, 30))


# --- what blocks ---------------------------------------------------------------------------


def test_an_opaque_event_blocks_its_time_and_names_its_source() -> None:
    meeting = event(datetime(2026, 3, 24, 10, tzinfo=BERLIN), datetime(2026, 3, 24, 11, tzinfo=BERLIN))
    [entry] = busy(meeting)
    assert (entry.start, entry.end) == (utc(2026, 3, 24, 9), utc(2026, 3, 24, 10))
    assert entry.start.tzinfo is UTC
    assert (entry.uid, entry.summary, entry.recurrence_id, entry.event) == ("e1", "Meeting", None, meeting)


@pytest.mark.parametrize(
    ("fields", "blocks"),
    [
        ({"status": EventStatus.CANCELLED}, False),
        ({"transparency": Transparency.TRANSPARENT}, False),
        ({"status": EventStatus.TENTATIVE}, True),
        ({"status": EventStatus.CONFIRMED, "transparency": Transparency.OPAQUE}, True),
    ],
    ids=["cancelled", "transparent", "tentative", "confirmed-opaque"],
)
def test_status_and_transparency(fields: dict[str, Any], blocks: bool) -> None:
    assert bool(busy(event(utc(2026, 3, 24, 9), utc(2026, 3, 24, 10), **fields))) is blocks


@pytest.mark.parametrize(
    ("attendees", "owner", "blocks"),
    [
        ((attendee("ada@example.COM", ParticipationStatus.DECLINED),), OWNER, False),
        ((attendee(" ada@example.com ", ParticipationStatus.DECLINED),), OWNER, False),
        ((attendee("bob@example.com", ParticipationStatus.DECLINED),), OWNER, True),
        ((attendee("ada@example.com", ParticipationStatus.DECLINED),), None, True),
        ((attendee("ada@example.com", ParticipationStatus.NEEDS_ACTION),), OWNER, True),
        ((attendee("ada@example.com", ParticipationStatus.TENTATIVE),), OWNER, True),
        (
            (
                attendee("ada@example.com", ParticipationStatus.DECLINED),
                attendee("ADA@example.com", ParticipationStatus.ACCEPTED),
            ),
            OWNER,
            True,
        ),
        ((), OWNER, True),
    ],
    ids=[
        "owner-declined-any-case",
        "owner-declined-padded",
        "someone-else-declined",
        "no-owner-given",
        "owner-not-answered",
        "owner-tentative",
        "owner-listed-twice-one-accepts",
        "owner-not-invited",
    ],
)
def test_declined_by_the_owner(attendees: tuple[Attendee, ...], owner: str | None, blocks: bool) -> None:
    entry = event(utc(2026, 3, 24, 9), utc(2026, 3, 24, 10), attendees=attendees)
    assert bool(busy(entry, owner=owner)) is blocks


def test_a_zero_length_event_blocks_nothing() -> None:
    assert busy(event(utc(2026, 3, 24, 9), utc(2026, 3, 24, 9))) == []


# --- all-day and floating ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)],
    ids=["spring-forward", "fall-back", "summer"],
)
def test_an_all_day_event_blocks_local_midnight_to_midnight(day: date, hours: int) -> None:
    [entry] = busy(event(day, day + timedelta(days=1)))
    assert entry.start == datetime(day.year, day.month, day.day, tzinfo=BERLIN)
    assert entry.end - entry.start == timedelta(hours=hours)


def test_a_multi_day_all_day_event_blocks_every_day() -> None:
    [entry] = busy(event(date(2026, 3, 28), date(2026, 3, 31)))
    assert (entry.start, entry.end) == (utc(2026, 3, 27, 23), utc(2026, 3, 30, 22))
    assert entry.end - entry.start == timedelta(hours=71)


def test_all_day_events_follow_the_zone_they_are_given() -> None:
    day = event(date(2026, 3, 24), date(2026, 3, 25))
    [in_tokyo] = busy(day, zone=ZoneInfo("Asia/Tokyo"))
    assert (in_tokyo.start, in_tokyo.end) == (utc(2026, 3, 23, 15), utc(2026, 3, 24, 15))


def test_floating_times_are_read_in_the_all_day_zone() -> None:
    [entry] = busy(event(datetime(2026, 7, 1, 9), datetime(2026, 7, 1, 10)))
    assert (entry.start, entry.end) == (utc(2026, 7, 1, 7), utc(2026, 7, 1, 8))


def test_occurrences_expanded_in_another_zone_are_reread_in_the_all_day_zone() -> None:
    day = event(date(2026, 3, 24), date(2026, 3, 25))
    occurrences = expand_events([day], WEEK.start, WEEK.end, local_zone=UTC)
    [entry] = busy_intervals(occurrences, owner_email=None, all_day_zone=BERLIN)
    assert (entry.start, entry.end) == (utc(2026, 3, 23, 23), utc(2026, 3, 24, 23))


# --- windows -------------------------------------------------------------------------------


def test_the_window_clips_and_drops() -> None:
    window = Interval(utc(2026, 3, 24, 9, 30), utc(2026, 3, 24, 12))
    inside = event(utc(2026, 3, 24, 10), utc(2026, 3, 24, 11), uid="inside")
    across = event(utc(2026, 3, 24, 9), utc(2026, 3, 24, 10), uid="across")
    before = event(utc(2026, 3, 24, 8), utc(2026, 3, 24, 9, 30), uid="touching-before")
    after = event(utc(2026, 3, 24, 12), utc(2026, 3, 24, 13), uid="after")
    entries = busy(inside, across, before, after, window=window)
    assert [(e.uid, e.start, e.end) for e in entries] == [
        ("across", utc(2026, 3, 24, 9, 30), utc(2026, 3, 24, 10)),
        ("inside", utc(2026, 3, 24, 10), utc(2026, 3, 24, 11)),
    ]
    # The event itself keeps its own times.
    assert entries[0].event.start.value == utc(2026, 3, 24, 9)


def test_events_need_a_window_to_be_expanded() -> None:
    with pytest.raises(ValueError, match="window"):
        busy_intervals([event(utc(2026, 3, 24, 9), utc(2026, 3, 24, 10))], owner_email=None, all_day_zone=UTC)


# --- recurring series ----------------------------------------------------------------------


def _standup(start: datetime, length: timedelta, summary: str = "Standup", **fields: Any) -> Event:
    return event(start, start + length, uid="standup", summary=summary, **fields)


def _daily_standup() -> list[Event]:
    """Five daily 09:00 standups: the owner declined the 24th's, the 25th's moved to 14:00."""
    quarter = timedelta(minutes=15)
    master = _standup(
        datetime(2026, 3, 23, 9, tzinfo=BERLIN), quarter, recurrence=Recurrence(rrules=("FREQ=DAILY;COUNT=5",))
    )
    declined_day = datetime(2026, 3, 24, 9, tzinfo=BERLIN)
    declined = _standup(
        declined_day,
        quarter,
        recurrence_id=RecurrenceId(EventTime(declined_day)),
        attendees=(attendee(OWNER, ParticipationStatus.DECLINED),),
    )
    moved_day = datetime(2026, 3, 25, 9, tzinfo=BERLIN)
    moved = _standup(
        moved_day + timedelta(hours=5),
        timedelta(hours=1),
        "Standup (long)",
        recurrence_id=RecurrenceId(EventTime(moved_day)),
    )
    return [master, declined, moved]


def test_a_series_is_expanded_over_the_window_with_its_overrides() -> None:
    entries = busy_intervals(_daily_standup(), owner_email=OWNER, all_day_zone=BERLIN, window=WEEK)
    assert [(e.start, e.end, e.summary) for e in entries] == [
        (utc(2026, 3, 23, 8), utc(2026, 3, 23, 8, 15), "Standup"),
        # The 24th was declined by the owner; the 25th was moved and made longer.
        (utc(2026, 3, 25, 13), utc(2026, 3, 25, 14), "Standup (long)"),
        (utc(2026, 3, 26, 8), utc(2026, 3, 26, 8, 15), "Standup"),
        (utc(2026, 3, 27, 8), utc(2026, 3, 27, 8, 15), "Standup"),
    ]
    assert entries[1].recurrence_id == datetime(2026, 3, 25, 9, tzinfo=BERLIN)
    assert {e.uid for e in entries} == {"standup"}


def test_occurrences_and_events_give_the_same_busy_time() -> None:
    events = _daily_standup()
    occurrences = expand_events(events, WEEK.start, WEEK.end, local_zone=BERLIN)
    from_occurrences = busy_intervals(occurrences, owner_email=OWNER, all_day_zone=BERLIN, window=WEEK)
    assert from_occurrences == busy_intervals(events, owner_email=OWNER, all_day_zone=BERLIN, window=WEEK)


# --- merged --------------------------------------------------------------------------------


def test_merged_busy_coalesces_overlapping_and_touching_events() -> None:
    events = [
        event(utc(2026, 3, 24, 9), utc(2026, 3, 24, 10), uid="a"),
        event(utc(2026, 3, 24, 10), utc(2026, 3, 24, 11), uid="b"),
        event(utc(2026, 3, 24, 10, 30), utc(2026, 3, 24, 10, 45), uid="c"),
        event(utc(2026, 3, 24, 13), utc(2026, 3, 24, 14), uid="d", transparency=Transparency.TRANSPARENT),
        event(utc(2026, 3, 24, 15), utc(2026, 3, 24, 16), uid="e"),
    ]
    assert merged_busy(events, owner_email=None, all_day_zone=UTC, window=WEEK) == [
        Interval(utc(2026, 3, 24, 9), utc(2026, 3, 24, 11)),
        Interval(utc(2026, 3, 24, 15), utc(2026, 3, 24, 16)),
    ]
    blocks = busy_blocks(busy_intervals(events, owner_email=None, all_day_zone=UTC, window=WEEK))
    assert [[source.uid for source in block.sources] for block in blocks] == [["a", "b", "c"], ["e"]]


def test_no_events_no_busy_time() -> None:
    assert merged_busy([], owner_email=OWNER, all_day_zone=UTC) == []
    assert busy_blocks([]) == []


@st.composite
def timed_events(draw: st.DrawFn) -> Event:
    start = utc(2026, 3, 24) + timedelta(minutes=draw(st.integers(0, 600)))
    length = timedelta(minutes=draw(st.integers(0, 120)))
    transparency = draw(st.sampled_from(Transparency))
    return event(start, start + length, uid=f"u{draw(st.integers(0, 5))}", transparency=transparency)


@given(st.lists(timed_events(), max_size=10), st.integers(0, 700), st.integers(0, 300))
def test_blocks_partition_the_busy_intervals(events: list[Event], offset: int, length: int) -> None:
    window_start = utc(2026, 3, 24) + timedelta(minutes=offset)
    window = Interval(window_start, window_start + timedelta(minutes=length))
    # Each event on its own, so that one UID used twice stays two single events.
    entries = [e for item in events for e in busy_intervals([item], owner_email=None, all_day_zone=UTC, window=window)]
    blocks = busy_blocks(entries)
    assert [block.interval for block in blocks] == merge(entry.interval for entry in entries)
    assert sorted(id(s) for block in blocks for s in block.sources) == sorted(id(e) for e in entries)
    for block in blocks:
        assert all(block.interval.start <= s.start and s.end <= block.interval.end for s in block.sources)
    for entry in entries:
        assert window.start <= entry.start < entry.end <= window.end
        assert entry.event.transparency is Transparency.OPAQUE
