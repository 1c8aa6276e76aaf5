"""Schedules and slots: wall-clock hours across DST, buffers, notice, window, limits, policies."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calmesh.availability.schedule import TimeRange, WeeklySchedule
from calmesh.availability.slots import HostBusy, HostPolicy, PolicyKind, SlotRules, find_slots
from calmesh.domain.intervals import Interval

UTC = timezone.utc
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
NINE_TO_FIVE = (TimeRange.parse("09:00", "17:00"),)
WEEKDAYS_9_5 = {day: NINE_TO_FIVE for day in range(5)}
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
ALL = HostPolicy(PolicyKind.ALL)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts(slots: list) -> list[datetime]:  # type: ignore[type-arg]
    return [slot.start for slot in slots]


def rules(minutes: int = 30, **more: object) -> SlotRules:
    return SlotRules(duration=timedelta(minutes=minutes), step=timedelta(minutes=minutes), **more)  # type: ignore[arg-type]


def day_window(day: date, zone: ZoneInfo) -> Interval:
    start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    return Interval(start, datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC))


def test_working_hours_follow_the_wall_clock_across_the_berlin_spring_change() -> None:
    schedule = WeeklySchedule(BERLIN, WEEKDAYS_9_5)
    friday = schedule.open_intervals(day_window(date(2026, 3, 27), BERLIN))
    monday = schedule.open_intervals(day_window(date(2026, 3, 30), BERLIN))
    assert friday == [Interval(utc(2026, 3, 27, 8), utc(2026, 3, 27, 16))]  # CET, +01:00
    assert monday == [Interval(utc(2026, 3, 30, 7), utc(2026, 3, 30, 15))]  # CEST, +02:00


def test_new_york_slots_start_at_nine_local_before_and_after_the_change() -> None:
    schedule = WeeklySchedule(NEW_YORK, WEEKDAYS_9_5)
    window = Interval(utc(2026, 3, 6), utc(2026, 3, 10))
    found = find_slots(schedule, rules(60, booking_window=timedelta(days=5000)), [HostBusy.of("h", [])], ALL, window, now=LONG_AGO)
    by_day: dict[date, list[datetime]] = {}
    for slot in found:
        by_day.setdefault(slot.start.astimezone(NEW_YORK).date(), []).append(slot.start)
    assert sorted(by_day) == [date(2026, 3, 6), date(2026, 3, 9)]  # Friday, then Monday
    assert by_day[date(2026, 3, 6)][0] == utc(2026, 3, 6, 14)  # 09:00 EST
    assert by_day[date(2026, 3, 9)][0] == utc(2026, 3, 9, 13)  # 09:00 EDT
    assert all(len(v) == 8 for v in by_day.values())
    assert {s.start.astimezone(NEW_YORK).hour for s in found} == set(range(9, 17))


def test_a_night_with_a_spring_gap_has_fewer_slots_and_none_inside_the_gap() -> None:
    night = (TimeRange.parse("01:00", "04:00"),)
    schedule = WeeklySchedule(BERLIN, {6: night})  # Sunday 29 March 2026: 02:00 -> 03:00
    found = find_slots(schedule, rules(30, booking_window=timedelta(days=5000)), [HostBusy.of("h", [])], ALL,
                       day_window(date(2026, 3, 29), BERLIN), now=LONG_AGO)
    local = [s.start.astimezone(BERLIN).strftime("%H:%M") for s in found]
    assert local == ["01:00", "01:30", "03:00", "03:30"]


def test_a_night_with_an_autumn_overlap_has_more_slots() -> None:
    night = (TimeRange.parse("01:00", "04:00"),)
    schedule = WeeklySchedule(BERLIN, {6: night})  # Sunday 25 October 2026: 03:00 -> 02:00
    found = find_slots(schedule, rules(30, booking_window=timedelta(days=5000)), [HostBusy.of("h", [])], ALL,
                       day_window(date(2026, 10, 25), BERLIN), now=LONG_AGO)
    assert len(found) == 8  # four hours of elapsed time
    assert found[0].start == utc(2026, 10, 24, 23) and found[-1].end == utc(2026, 10, 25, 3)


def test_new_york_autumn_night_counts_the_repeated_hour() -> None:
    schedule = WeeklySchedule(NEW_YORK, {6: (TimeRange.parse("00:00", "03:00"),)})  # 1 Nov 2026
    found = find_slots(schedule, rules(60, booking_window=timedelta(days=5000)), [HostBusy.of("h", [])], ALL,
                       day_window(date(2026, 11, 1), NEW_YORK), now=LONG_AGO)
    assert [s.start for s in found] == [utc(2026, 11, 1, 4), utc(2026, 11, 1, 5), utc(2026, 11, 1, 6), utc(2026, 11, 1, 7)]


def test_date_overrides_replace_or_close_a_day() -> None:
    schedule = WeeklySchedule(
        BERLIN, WEEKDAYS_9_5,
        {date(2026, 12, 24): (), date(2026, 12, 26): (TimeRange.parse("10:00", "12:00"),)},
    )
    assert schedule.open_intervals(day_window(date(2026, 12, 24), BERLIN)) == []
    assert schedule.open_intervals(day_window(date(2026, 12, 26), BERLIN)) == [
        Interval(utc(2026, 12, 26, 9), utc(2026, 12, 26, 11))
    ]


def test_buffers_keep_time_free_around_busy_time() -> None:
    schedule = WeeklySchedule(ZoneInfo("UTC"), WEEKDAYS_9_5)
    busy = HostBusy.of("h", [Interval(utc(2026, 6, 1, 10), utc(2026, 6, 1, 11))])  # a Monday
    found = find_slots(
        schedule,
        rules(30, buffer_before=timedelta(minutes=15), buffer_after=timedelta(minutes=15), booking_window=timedelta(days=5000)),
        [busy], ALL, Interval(utc(2026, 6, 1, 9), utc(2026, 6, 1, 12)), now=LONG_AGO,
    )
    assert starts(found) == [utc(2026, 6, 1, 9), utc(2026, 6, 1, 11, 30)]


def test_minimum_notice_and_booking_window_bound_the_slots() -> None:
    schedule = WeeklySchedule(ZoneInfo("UTC"), WEEKDAYS_9_5)
    now = utc(2026, 6, 1, 8, 50)
    found = find_slots(
        schedule, rules(30, minimum_notice=timedelta(hours=1), booking_window=timedelta(days=1)),
        [HostBusy.of("h", [])], ALL, Interval(utc(2026, 6, 1), utc(2026, 6, 10)), now=now,
    )
    assert found[0].start == utc(2026, 6, 1, 10)  # 09:50 rounded up to the slot grid
    assert found[-1].start == utc(2026, 6, 1, 16, 30)  # the next day's 09:00 is past the window
    assert all(s.start < now + timedelta(days=1) for s in found)


def test_a_full_day_offers_nothing_when_the_daily_limit_is_reached() -> None:
    schedule = WeeklySchedule(ZoneInfo("UTC"), WEEKDAYS_9_5)
    found = find_slots(
        schedule, rules(60, daily_limit=2, booking_window=timedelta(days=5000)), [HostBusy.of("h", [])], ALL,
        Interval(utc(2026, 6, 1), utc(2026, 6, 3)), now=LONG_AGO, bookings_per_day={date(2026, 6, 1): 2},
    )
    assert {s.start.date() for s in found} == {date(2026, 6, 2)}


@pytest.mark.parametrize(
    ("policy", "expected_hosts_at_ten"),
    [
        (HostPolicy(PolicyKind.ALL), None),
        (HostPolicy(PolicyKind.ANY), ("b", "c")),
        (HostPolicy(PolicyKind.N, 2), ("b", "c")),
        (HostPolicy(PolicyKind.N, 3), None),
    ],
)
def test_host_policies(policy: HostPolicy, expected_hosts_at_ten: tuple[str, ...] | None) -> None:
    schedule = WeeklySchedule(ZoneInfo("UTC"), WEEKDAYS_9_5)
    hosts = [
        HostBusy.of("a", [Interval(utc(2026, 6, 1, 10), utc(2026, 6, 1, 11))]),
        HostBusy.of("b", []),
        HostBusy.of("c", []),
    ]
    found = {s.start: s.host_ids for s in find_slots(
        schedule, rules(60, booking_window=timedelta(days=5000)), hosts, policy,
        Interval(utc(2026, 6, 1, 9), utc(2026, 6, 1, 12)), now=LONG_AGO,
    )}
    assert found.get(utc(2026, 6, 1, 10)) == expected_hosts_at_ten
    assert found[utc(2026, 6, 1, 9)] == ("a", "b", "c")


minutes = st.integers(min_value=0, max_value=3 * 24 * 60)


@settings(max_examples=150, deadline=None)
@given(
    busy=st.lists(st.tuples(minutes, st.integers(min_value=1, max_value=300)), max_size=8),
    duration=st.sampled_from([15, 30, 45, 60]),
    before=st.sampled_from([0, 10, 15]),
    after=st.sampled_from([0, 5, 30]),
)
def test_every_offered_slot_is_inside_open_hours_and_clear_of_busy_time(
    busy: list[tuple[int, int]], duration: int, before: int, after: int
) -> None:
    base = utc(2026, 3, 27)  # spans the Berlin spring change
    schedule = WeeklySchedule(BERLIN, {d: (TimeRange.parse("08:00", "18:00"),) for d in range(7)})
    busy_intervals = [Interval(base + timedelta(minutes=s), base + timedelta(minutes=s + n)) for s, n in busy]
    slot_rules = SlotRules(
        duration=timedelta(minutes=duration), step=timedelta(minutes=15),
        buffer_before=timedelta(minutes=before), buffer_after=timedelta(minutes=after),
        booking_window=timedelta(days=5000),
    )
    window = Interval(base, base + timedelta(days=3))
    found = find_slots(schedule, slot_rules, [HostBusy.of("h", busy_intervals)], ALL, window, now=LONG_AGO)
    open_hours = schedule.open_intervals(Interval(base - timedelta(days=1), base + timedelta(days=4)))
    for slot in found:
        assert any(o.start <= slot.start and slot.end <= o.end for o in open_hours)
        blocked = slot_rules.blocked(slot.start)
        assert not any(b.overlaps(blocked) for b in busy_intervals)
    # and nothing free on the grid was left out
    for stretch in schedule.open_intervals(window):
        candidate = stretch.start
        while candidate + slot_rules.duration <= stretch.end:
            blocked = slot_rules.blocked(candidate)
            if not any(b.overlaps(blocked) for b in busy_intervals):
                assert candidate in {s.start for s in found}
            candidate += slot_rules.step
