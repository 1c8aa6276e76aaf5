"""Recurrence expansion rule by rule (RFC 5545 §3.3.10, §3.8.4.4, §3.8.5), plus properties."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule as dateutil_rrule  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calmesh.domain.events import Event, EventStatus, EventTime, Recurrence, RecurrenceId
from calmesh.domain.recurrence import Occurrence, expand_events, expand_series, rrule_instances
from calmesh.errors import InvalidCalendarData

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, tz: tzinfo | None = UTC) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


def master(
    start: datetime | date,
    end: datetime | date | None = None,
    *,
    rrule: str | None = None,
    rdates: tuple[datetime | date, ...] = (),
    exdates: tuple[datetime | date, ...] = (),
    uid: str = "series",
    summary: str = "master",
) -> Event:
    if end is None:
        end = start + (timedelta(days=1) if not isinstance(start, datetime) else timedelta(hours=1))
    return Event(
        uid=uid,
        start=EventTime(start),
        end=EventTime(end),
        summary=summary,
        recurrence=Recurrence(
            rrules=(rrule,) if rrule else (),
            rdates=tuple(EventTime(v) for v in rdates),
            exdates=tuple(EventTime(v) for v in exdates),
        ),
    )


def override(
    recurrence_id: datetime | date,
    start: datetime | date,
    end: datetime | date | None = None,
    *,
    uid: str = "series",
    summary: str = "override",
    this_and_future: bool = False,
    status: EventStatus = EventStatus.CONFIRMED,
    sequence: int = 0,
) -> Event:
    if end is None:
        end = start + (timedelta(days=1) if not isinstance(start, datetime) else timedelta(hours=1))
    return Event(
        uid=uid,
        start=EventTime(start),
        end=EventTime(end),
        summary=summary,
        status=status,
        sequence=sequence,
        recurrence_id=RecurrenceId(EventTime(recurrence_id), this_and_future=this_and_future),
    )


def starts(occurrences: list[Occurrence]) -> list[datetime]:
    return sorted(o.start_at for o in occurrences)


YEAR_2027 = (at(2027, 1, 1), at(2028, 1, 1))


# --- single events and windows -------------------------------------------------------------


def test_single_event_is_one_occurrence_without_recurrence_id() -> None:
    event = master(at(2027, 5, 1, 9), at(2027, 5, 1, 10))
    [occurrence] = expand_series(event, [], *YEAR_2027)
    assert occurrence.event is event
    assert occurrence.recurrence_id is None
    assert (occurrence.start_at, occurrence.end_at) == (at(2027, 5, 1, 9), at(2027, 5, 1, 10))


@pytest.mark.parametrize(
    ("start", "end", "inside"),
    [
        (at(2027, 1, 1, 9), at(2027, 1, 1, 10), True),  # starts at the window start
        (at(2027, 1, 1, 8), at(2027, 1, 1, 9), False),  # ends at the window start
        (at(2027, 1, 1, 8), at(2027, 1, 1, 10), True),  # overlaps the window start
        (at(2027, 1, 1, 10), at(2027, 1, 1, 11), False),  # starts at the window end
        (at(2027, 1, 1, 9), at(2027, 1, 1, 9), True),  # zero length at the start: inside
        (at(2027, 1, 1, 10), at(2027, 1, 1, 10), False),  # zero length at the end: outside
    ],
)
def test_window_is_half_open_and_occurrences_overlap_it(start: datetime, end: datetime, inside: bool) -> None:
    occurrences = expand_series(master(start, end), [], at(2027, 1, 1, 9), at(2027, 1, 1, 10))
    assert bool(occurrences) is inside


def test_naive_window_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        expand_series(master(at(2027, 1, 1)), [], datetime(2027, 1, 1), datetime(2028, 1, 1))


# --- the recurrence set --------------------------------------------------------------------


def test_daily_count() -> None:
    event = master(at(2027, 3, 1, 9), rrule="FREQ=DAILY;COUNT=3")
    assert starts(expand_series(event, [], *YEAR_2027)) == [at(2027, 3, d, 9) for d in (1, 2, 3)]


def test_occurrences_carry_recurrence_id_and_duration() -> None:
    event = master(at(2027, 3, 1, 9, tz=BERLIN), at(2027, 3, 1, 9, 30, tz=BERLIN), rrule="FREQ=WEEKLY;COUNT=2")
    first, second = sorted(expand_series(event, [], *YEAR_2027), key=lambda o: o.start_at)
    assert second.recurrence_id == at(2027, 3, 8, 9, tz=BERLIN)
    assert second.start == at(2027, 3, 8, 9, tz=BERLIN)
    assert second.end == at(2027, 3, 8, 9, 30, tz=BERLIN)
    assert second.end_at - second.start_at == timedelta(minutes=30)
    assert first.event is event and first.uid == "series"


def test_exdate_removes_an_instance() -> None:
    event = master(at(2027, 3, 1, 9), rrule="FREQ=DAILY;COUNT=3", exdates=(at(2027, 3, 2, 9),))
    assert starts(expand_series(event, [], *YEAR_2027)) == [at(2027, 3, 1, 9), at(2027, 3, 3, 9)]


def test_exdate_in_another_zone_matches_by_instant() -> None:
    event = master(at(2027, 3, 1, 9, tz=BERLIN), rrule="FREQ=DAILY;COUNT=3", exdates=(at(2027, 3, 2, 8),))
    assert len(expand_series(event, [], *YEAR_2027)) == 2


def test_date_exdate_on_a_timed_series_removes_that_day() -> None:
    event = master(at(2027, 3, 1, 9, tz=BERLIN), rrule="FREQ=DAILY;COUNT=3", exdates=(date(2027, 3, 2),))
    assert [o.start for o in sorted(expand_series(event, [], *YEAR_2027), key=lambda o: o.start_at)] == [
        at(2027, 3, 1, 9, tz=BERLIN),
        at(2027, 3, 3, 9, tz=BERLIN),
    ]


def test_exdate_of_dtstart() -> None:
    event = master(at(2027, 3, 1, 9), rrule="FREQ=DAILY;COUNT=2", exdates=(at(2027, 3, 1, 9),))
    assert starts(expand_series(event, [], *YEAR_2027)) == [at(2027, 3, 2, 9)]


def test_rdate_adds_and_duplicates_collapse() -> None:
    event = master(
        at(2027, 3, 1, 9), rrule="FREQ=DAILY;COUNT=2", rdates=(at(2027, 3, 10, 15), at(2027, 3, 2, 9))
    )
    assert starts(expand_series(event, [], *YEAR_2027)) == [at(2027, 3, 1, 9), at(2027, 3, 2, 9), at(2027, 3, 10, 15)]


def test_rdate_only_series() -> None:
    event = master(at(2027, 3, 1, 9), rdates=(at(2027, 4, 1, 9),))
    occurrences = expand_series(event, [], *YEAR_2027)
    assert starts(occurrences) == [at(2027, 3, 1, 9), at(2027, 4, 1, 9)]
    assert all(o.recurrence_id is not None for o in occurrences)


def test_unsynchronised_dtstart_is_an_instance_on_top_of_count() -> None:
    # Tuesday DTSTART, Thursday rule: DTSTART plus two Thursdays (see the module docs).
    event = master(at(2027, 3, 2, 9), rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=2")
    assert starts(expand_series(event, [], *YEAR_2027)) == [at(2027, 3, 2, 9), at(2027, 3, 4, 9), at(2027, 3, 11, 9)]


def test_dtstart_after_until_is_not_an_instance() -> None:
    event = master(at(2027, 3, 2, 9), rrule="FREQ=DAILY;UNTIL=20270301T000000Z")
    assert expand_series(event, [], *YEAR_2027) == []


def test_several_rrules_are_united() -> None:
    event = Event(
        uid="s",
        start=EventTime(at(2027, 3, 1, 9)),
        end=EventTime(at(2027, 3, 1, 10)),
        recurrence=Recurrence(rrules=("FREQ=DAILY;COUNT=2", "FREQ=WEEKLY;COUNT=2")),
    )
    assert starts(expand_series(event, [], *YEAR_2027)) == [at(2027, 3, 1, 9), at(2027, 3, 2, 9), at(2027, 3, 8, 9)]


def test_until_of_one_rrule_does_not_end_the_others() -> None:
    event = Event(
        uid="s",
        start=EventTime(at(2027, 3, 1, 9)),
        end=EventTime(at(2027, 3, 1, 10)),
        recurrence=Recurrence(rrules=("FREQ=DAILY;UNTIL=20270302T090000Z", "FREQ=WEEKLY;COUNT=3")),
    )
    assert starts(expand_series(event, [], *YEAR_2027)) == [at(2027, 3, d, 9) for d in (1, 2, 8, 15)]


# --- UNTIL ---------------------------------------------------------------------------------


def test_until_utc_with_zoned_dtstart_compares_instants() -> None:
    # 09:00 Berlin (CET) is 08:00 UTC: UNTIL at 08:00Z on the 3rd includes the 3rd.
    event = master(at(2027, 3, 1, 9, tz=BERLIN), rrule="FREQ=DAILY;UNTIL=20270303T080000Z")
    assert len(expand_series(event, [], *YEAR_2027)) == 3
    event = master(at(2027, 3, 1, 9, tz=BERLIN), rrule="FREQ=DAILY;UNTIL=20270303T075959Z")
    assert len(expand_series(event, [], *YEAR_2027)) == 2


def test_until_local_compares_wall_time() -> None:
    event = master(at(2027, 3, 1, 9, tz=NEW_YORK), rrule="FREQ=DAILY;UNTIL=20270303T090000")
    assert len(expand_series(event, [], *YEAR_2027)) == 3


def test_until_date_with_timed_dtstart_includes_that_whole_day() -> None:
    event = master(at(2027, 3, 1, 23, tz=NEW_YORK), rrule="FREQ=DAILY;UNTIL=20270303")
    assert [o.start for o in expand_series(event, [], *YEAR_2027)][-1] == at(2027, 3, 3, 23, tz=NEW_YORK)
    assert len(expand_series(event, [], *YEAR_2027)) == 3


def test_until_utc_with_floating_dtstart_reads_it_in_the_local_zone() -> None:
    event = master(datetime(2027, 3, 1, 9), rrule="FREQ=DAILY;UNTIL=20270303T080000Z")
    assert len(expand_series(event, [], *YEAR_2027, local_zone=BERLIN)) == 3
    assert len(expand_series(event, [], *YEAR_2027, local_zone=NEW_YORK)) == 2


def test_until_on_an_all_day_series_is_inclusive() -> None:
    event = master(date(2027, 3, 1), rrule="FREQ=DAILY;UNTIL=20270303")
    assert [o.start for o in expand_series(event, [], *YEAR_2027)] == [date(2027, 3, d) for d in (1, 2, 3)]


# --- DST -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "gap_day", "wall", "expected_utc"),
    [
        # 2027-03-28 02:00 CET -> 03:00 CEST: 02:30 is read with +01:00, i.e. 03:30 CEST.
        (BERLIN, date(2027, 3, 28), (2, 30), at(2027, 3, 28, 1, 30)),
        # 2027-03-14 02:00 EST -> 03:00 EDT: 02:30 is read with -05:00, i.e. 03:30 EDT.
        (NEW_YORK, date(2027, 3, 14), (2, 30), at(2027, 3, 14, 7, 30)),
    ],
)
def test_dst_gap_moves_forward_by_the_gap(zone: ZoneInfo, gap_day: date, wall: tuple[int, int], expected_utc: datetime) -> None:
    start = datetime(gap_day.year, gap_day.month, gap_day.day - 2, *wall, tzinfo=zone)
    event = master(start, rrule="FREQ=DAILY;COUNT=5")
    shown = {o.start_at: o.start for o in expand_series(event, [], *YEAR_2027) if isinstance(o.start, datetime)}
    by_day = {start.date(): (start_at, start) for start_at, start in shown.items()}
    gap_at, gap_start = by_day[gap_day]
    assert gap_at == expected_utc
    assert (gap_start.hour, gap_start.minute) == (3, 30)  # shown after the shift
    # The days around it keep their wall time.
    assert all((start.hour, start.minute) == wall for d, (_, start) in by_day.items() if d != gap_day)


@pytest.mark.parametrize(
    ("zone", "day", "wall", "first_utc"),
    [
        # 2027-10-31 03:00 CEST -> 02:00 CET: 02:30 happens twice; the first is CEST (+02:00).
        (BERLIN, date(2027, 10, 31), (2, 30), at(2027, 10, 31, 0, 30)),
        # 2027-11-07 02:00 EDT -> 01:00 EST: 01:30 happens twice; the first is EDT (-04:00).
        (NEW_YORK, date(2027, 11, 7), (1, 30), at(2027, 11, 7, 5, 30)),
    ],
)
def test_dst_overlap_takes_the_first_occurrence(zone: ZoneInfo, day: date, wall: tuple[int, int], first_utc: datetime) -> None:
    event = master(datetime(day.year, day.month, day.day - 1, *wall, tzinfo=zone), rrule="FREQ=DAILY;COUNT=3")
    [on_the_day] = [o for o in expand_series(event, [], *YEAR_2027) if o.start_at.date() == day]
    assert on_the_day.start_at == first_utc


def test_weekly_meeting_keeps_its_wall_time_across_dst() -> None:
    event = master(at(2027, 3, 1, 9, tz=NEW_YORK), rrule="FREQ=WEEKLY;COUNT=4")
    occurrences = sorted(expand_series(event, [], *YEAR_2027), key=lambda o: o.start_at)
    assert [o.start_at.hour for o in occurrences] == [14, 14, 13, 13]
    assert all(isinstance(o.start, datetime) and o.start.hour == 9 for o in occurrences)


def test_all_day_series_across_dst_stays_on_dates() -> None:
    event = master(date(2027, 3, 27), rrule="FREQ=DAILY;COUNT=3")
    occurrences = sorted(expand_series(event, [], *YEAR_2027, local_zone=BERLIN), key=lambda o: o.start_at)
    assert [o.start for o in occurrences] == [date(2027, 3, 27), date(2027, 3, 28), date(2027, 3, 29)]
    assert [o.end for o in occurrences] == [date(2027, 3, 28), date(2027, 3, 29), date(2027, 3, 30)]
    assert occurrences[0].start_at == at(2027, 3, 26, 23)  # midnight CET
    assert occurrences[2].start_at == at(2027, 3, 28, 22)  # midnight CEST
    assert occurrences[1].end_at - occurrences[1].start_at == timedelta(hours=23)
    assert all(o.all_day for o in occurrences)


def test_floating_series_is_read_in_the_local_zone() -> None:
    event = master(datetime(2027, 6, 1, 9), rrule="FREQ=DAILY;COUNT=2")
    in_berlin = expand_series(event, [], *YEAR_2027, local_zone=BERLIN)
    in_new_york = expand_series(event, [], *YEAR_2027, local_zone=NEW_YORK)
    assert starts(in_berlin) == [at(2027, 6, 1, 7), at(2027, 6, 2, 7)]
    assert starts(in_new_york) == [at(2027, 6, 1, 13), at(2027, 6, 2, 13)]
    assert all(o.start == datetime(2027, 6, o.start_at.day, 9) for o in in_berlin)


# --- infinite series -----------------------------------------------------------------------


def test_infinite_series_far_from_dtstart() -> None:
    rule = "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH"
    dtstart = at(1990, 1, 1, 9, tz=BERLIN)
    window = (at(2040, 1, 1), at(2040, 2, 1))
    occurrences = expand_series(master(dtstart, rrule=rule), [], *window)
    walked = itertools.takewhile(lambda v: v < window[1], rrule_instances(rule, dtstart))
    expected = [v for v in walked if isinstance(v, datetime) and v >= window[0]]
    assert starts(occurrences) == [v.astimezone(UTC) for v in expected]
    assert len(occurrences) == 3


def test_infinite_secondly_series_does_not_walk_from_dtstart() -> None:
    # Walking every second from 1970 would take minutes; jumping takes nothing.
    event = master(at(1970, 1, 1), at(1970, 1, 1), rrule="FREQ=SECONDLY;INTERVAL=7")
    occurrences = expand_series(event, [], at(2030, 1, 1), at(2030, 1, 1, 0, 1))
    assert len(occurrences) in (8, 9)
    assert all((o.start_at - at(1970, 1, 1)).total_seconds() % 7 == 0 for o in occurrences)


def test_rule_that_never_matches_ends() -> None:
    event = master(at(2027, 1, 1), rrule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")
    assert starts(expand_series(event, [], at(2027, 1, 1), at(2999, 1, 1))) == [at(2027, 1, 1)]
    assert list(rrule_instances("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31", datetime(2027, 1, 1))) == []


# --- overrides -----------------------------------------------------------------------------


DAILY = master(at(2027, 3, 1, 9), rrule="FREQ=DAILY;COUNT=5")


def test_override_replaces_its_instance() -> None:
    moved = override(at(2027, 3, 2, 9), at(2027, 3, 2, 14), summary="later")
    occurrences = expand_series(DAILY, [moved], *YEAR_2027)
    assert starts(occurrences) == [at(2027, 3, 1, 9), at(2027, 3, 2, 14), *(at(2027, 3, d, 9) for d in (3, 4, 5))]
    [later] = [o for o in occurrences if o.event is moved]
    assert later.recurrence_id == at(2027, 3, 2, 9)


def test_override_moved_into_the_window_appears() -> None:
    moved = override(at(2027, 3, 5, 9), at(2027, 3, 1, 20))
    window = (at(2027, 3, 1), at(2027, 3, 2))
    assert starts(expand_series(DAILY, [moved], *window)) == [at(2027, 3, 1, 9), at(2027, 3, 1, 20)]


def test_override_moved_out_of_the_window_disappears() -> None:
    moved = override(at(2027, 3, 1, 9), at(2027, 3, 10, 9))
    window = (at(2027, 3, 1), at(2027, 3, 2))
    assert expand_series(DAILY, [moved], *window) == []


def test_cancelled_override_removes_the_instance() -> None:
    cancelled = override(at(2027, 3, 2, 9), at(2027, 3, 2, 9), status=EventStatus.CANCELLED)
    assert at(2027, 3, 2, 9) not in starts(expand_series(DAILY, [cancelled], *YEAR_2027))
    assert len(expand_series(DAILY, [cancelled], *YEAR_2027)) == 4


def test_newest_override_wins() -> None:
    old = override(at(2027, 3, 2, 9), at(2027, 3, 2, 10), sequence=1, summary="old")
    new = override(at(2027, 3, 2, 9), at(2027, 3, 2, 11), sequence=2, summary="new")
    for order in ([old, new], [new, old]):
        occurrences = expand_series(DAILY, order, *YEAR_2027)
        assert [o.event.summary for o in occurrences if o.event.is_override] == ["new"]


def test_override_of_an_excluded_instance_stays_excluded() -> None:
    series = master(at(2027, 3, 1, 9), rrule="FREQ=DAILY;COUNT=3", exdates=(at(2027, 3, 2, 9),))
    moved = override(at(2027, 3, 2, 9), at(2027, 3, 2, 15))
    assert len(expand_series(series, [moved], *YEAR_2027)) == 2


def test_override_matches_across_zones_by_instant() -> None:
    series = master(at(2027, 3, 1, 9, tz=BERLIN), rrule="FREQ=DAILY;COUNT=3")
    moved = override(at(2027, 3, 2, 8), at(2027, 3, 2, 12))  # 09:00 Berlin written in UTC
    assert len(expand_series(series, [moved], *YEAR_2027)) == 3


def test_date_recurrence_id_on_timed_series_and_vice_versa() -> None:
    timed = master(at(2027, 3, 1, 9, tz=BERLIN), rrule="FREQ=DAILY;COUNT=3")
    moved = override(date(2027, 3, 2), at(2027, 3, 2, 15, tz=BERLIN))
    assert len(expand_series(timed, [moved], *YEAR_2027)) == 3
    all_day = master(date(2027, 3, 1), rrule="FREQ=DAILY;COUNT=3")
    moved_day = override(at(2027, 3, 2, 0, tz=BERLIN), date(2027, 3, 20))
    occurrences = expand_series(all_day, [moved_day], *YEAR_2027, local_zone=BERLIN)
    assert sorted(o.start for o in occurrences if isinstance(o.start, date)) == [
        date(2027, 3, 1),
        date(2027, 3, 3),
        date(2027, 3, 20),
    ]


def test_this_and_future_moves_later_instances_and_applies_its_properties() -> None:
    moved = override(at(2027, 3, 3, 9), at(2027, 3, 3, 11), at(2027, 3, 3, 11, 30), this_and_future=True, summary="new time")
    occurrences = sorted(expand_series(DAILY, [moved], *YEAR_2027), key=lambda o: o.start_at)
    assert [o.start_at for o in occurrences] == [
        at(2027, 3, 1, 9),
        at(2027, 3, 2, 9),
        at(2027, 3, 3, 11),
        at(2027, 3, 4, 11),
        at(2027, 3, 5, 11),
    ]
    assert [o.event.summary for o in occurrences] == ["master", "master", "new time", "new time", "new time"]
    assert occurrences[4].end_at - occurrences[4].start_at == timedelta(minutes=30)
    assert occurrences[4].recurrence_id == at(2027, 3, 5, 9)


def test_this_and_future_shift_reaches_into_the_window() -> None:
    # Instances originally after the window are moved two days earlier, into it.
    moved = override(at(2027, 3, 3, 9), at(2027, 3, 1, 9, 30), this_and_future=True)
    window = (at(2027, 3, 2), at(2027, 3, 3))
    assert starts(expand_series(DAILY, [moved], *window)) == [at(2027, 3, 2, 9), at(2027, 3, 2, 9, 30)]


def test_single_override_after_this_and_future_still_wins() -> None:
    future = override(at(2027, 3, 2, 9), at(2027, 3, 2, 10), this_and_future=True)
    single = override(at(2027, 3, 4, 9), at(2027, 3, 4, 18), summary="single")
    occurrences = expand_series(DAILY, [future, single], *YEAR_2027)
    assert starts(occurrences) == [
        at(2027, 3, 1, 9),
        at(2027, 3, 2, 10),
        at(2027, 3, 3, 10),
        at(2027, 3, 4, 18),
        at(2027, 3, 5, 10),
    ]


def test_cancelled_this_and_future_ends_the_series() -> None:
    cut = override(at(2027, 3, 3, 9), at(2027, 3, 3, 9), this_and_future=True, status=EventStatus.CANCELLED)
    assert starts(expand_series(DAILY, [cut], *YEAR_2027)) == [at(2027, 3, 1, 9), at(2027, 3, 2, 9)]


def test_orphan_overrides_are_single_events() -> None:
    orphan = override(at(2027, 3, 2, 9), at(2027, 3, 2, 10), uid="orphan")
    cancelled = override(at(2027, 3, 3, 9), at(2027, 3, 3, 10), uid="orphan", status=EventStatus.CANCELLED)
    [occurrence] = expand_series(None, [orphan, cancelled], *YEAR_2027)
    assert occurrence.event is orphan
    assert occurrence.recurrence_id == at(2027, 3, 2, 9)


# --- errors and grouping -------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=FORTNIGHTLY",
        "COUNT=3",
        "FREQ=DAILY;COUNT=x",
        "FREQ=DAILY;BYDAY=XX",
        "FREQ=DAILY;BYMONTHDAY=0",
        "FREQ=DAILY;BYMONTH=13",
        "FREQ=DAILY;COUNT=2;COUNT=3",
        "FREQ=DAILY;UNTIL=2027",
        "RSCALE=CHINESE;FREQ=YEARLY",
        "FREQ=DAILY;FOO=BAR",
    ],
)
def test_invalid_rule_raises_invalid_calendar_data(rule: str) -> None:
    with pytest.raises(InvalidCalendarData, match="'bad'"):
        expand_series(master(at(2027, 1, 1), rrule=rule, uid="bad"), [], *YEAR_2027)


def test_sub_daily_rule_needs_a_timed_dtstart() -> None:
    with pytest.raises(InvalidCalendarData, match="DATE-TIME"):
        expand_series(master(date(2027, 1, 1), rrule="FREQ=HOURLY"), [], *YEAR_2027)


def test_lenient_rule_text() -> None:
    assert len(list(rrule_instances("freq=daily;count=2;", datetime(2027, 1, 1)))) == 2
    assert len(list(rrule_instances("FREQ=DAILY\\;COUNT=2;X-NAME=1;RSCALE=GREGORIAN", datetime(2027, 1, 1)))) == 2


def test_expand_events_groups_sorts_and_can_skip_invalid_series() -> None:
    events = [
        master(at(2027, 3, 1, 12), uid="b", rrule="FREQ=DAILY;COUNT=2"),
        master(at(2027, 3, 1, 9), uid="a"),
        master(at(2027, 3, 1, 10), uid="broken", rrule="FREQ=NEVER"),
        override(at(2027, 3, 2, 12), at(2027, 3, 1, 8), uid="b"),
    ]
    with pytest.raises(InvalidCalendarData):
        expand_events(events, *YEAR_2027)
    problems: list[str] = []
    occurrences = expand_events(events, *YEAR_2027, on_invalid=lambda uid, exc: problems.append(uid))
    assert problems == ["broken"]
    assert [(o.uid, o.start_at) for o in occurrences] == [
        ("b", at(2027, 3, 1, 8)),
        ("a", at(2027, 3, 1, 9)),
        ("b", at(2027, 3, 1, 12)),
    ]


# --- properties ----------------------------------------------------------------------------


RULES = st.builds(
    lambda freq, interval, byday, bymonthday, bymonth, setpos: ";".join(
        part
        for part in (
            f"FREQ={freq}",
            f"INTERVAL={interval}",
            f"BYDAY={','.join(byday)}" if byday else "",
            f"BYMONTHDAY={','.join(map(str, bymonthday))}" if bymonthday and freq != "WEEKLY" else "",
            f"BYMONTH={','.join(map(str, bymonth))}" if bymonth else "",
            f"BYSETPOS={setpos}" if setpos and (byday or bymonthday) else "",
        )
        if part
    ),
    st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]),
    st.integers(1, 4),
    st.lists(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), max_size=3, unique=True),
    # Only days every month has: dateutil never stops on a rule that cannot match (29-31 in
    # February), and the libical vectors cover those.
    st.lists(st.sampled_from([1, 2, 15, 28, -1, -2]), max_size=2, unique=True),
    st.lists(st.integers(1, 12), max_size=3, unique=True),
    st.sampled_from([None, 1, 2, -1]),
)
STARTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=RULES, start=STARTS)
def test_rule_instances_agree_with_python_dateutil(rule: str, start: datetime) -> None:
    """On rules where RFC 5545 leaves no room, the engine and python-dateutil agree.

    Left out, because dateutil is the one that departs from libical's vectors there: YEARLY with
    BYMONTHDAY but no BYMONTH (calmesh takes the month from DTSTART), and WEEKLY with BYSETPOS
    (dateutil builds DTSTART's week from DTSTART on, so BYSETPOS counts from the wrong day).
    """
    if "FREQ=YEARLY" in rule and "BYMONTHDAY" in rule and "BYMONTH=" not in rule:
        return
    if "FREQ=WEEKLY" in rule and "BYSETPOS" in rule:
        return
    # UNTIL, not COUNT: a rule that rarely or never matches must not send dateutil to year 9999.
    bounded = f"{rule};UNTIL={start.year + 6}0101T000000"
    ours = list(rrule_instances(bounded, start))
    if not ours:
        # dateutil checks UNTIL only against instances it finds: without any it runs to 9999.
        return
    theirs = list(dateutil_rrule.rrulestr(bounded, dtstart=start))
    assert ours == theirs


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule=RULES,
    start=STARTS,
    zone=st.sampled_from([BERLIN, NEW_YORK, UTC]),
    offsets=st.lists(st.integers(0, 3 * 365 * 24), min_size=3, max_size=3, unique=True),
)
def test_splitting_the_window_splits_the_occurrences(rule: str, start: datetime, zone: tzinfo, offsets: list[int]) -> None:
    """For zero-length events, expanding [a, c) is expanding [a, b) and [b, c); jumping ahead
    in unbounded series loses nothing."""
    a, b, c = (at(2021, 1, 1) + timedelta(hours=h) for h in sorted(offsets))
    dtstart = start.replace(tzinfo=zone)
    event = master(dtstart, dtstart, rrule=rule)
    whole = expand_series(event, [], a, c)
    parts = expand_series(event, [], a, b) + expand_series(event, [], b, c)
    assert starts(whole) == starts(parts)
    # And the window agrees with walking the rule from DTSTART without any jump.
    walked = {dtstart.astimezone(UTC)}
    for value in rrule_instances(rule, dtstart):
        assert isinstance(value, datetime)
        if value.astimezone(UTC) >= c:
            break
        walked.add(value.astimezone(UTC))
    assert starts(whole) == sorted(v for v in walked if a <= v < c)
