"""The interval algebra against set semantics, plus the edge cases it documents.

Intervals are modelled as sets of whole minutes after a fixed origin: ``[a, b)`` is
``set(range(a, b))``. Every operation must give the canonical list of the set the same set
operation gives, which checks the value and the canonical form (sorted, non-empty, neither
overlapping nor touching) at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calmesh.domain.intervals import Interval, gaps, intersect, merge, subtract

ORIGIN = datetime(2026, 3, 29, tzinfo=timezone.utc)


def at(minute: int) -> datetime:
    return ORIGIN + timedelta(minutes=minute)


def iv(start: int, end: int) -> Interval:
    return Interval(at(start), at(end))


def minutes(intervals: list[Interval]) -> set[int]:
    covered: set[int] = set()
    for interval in intervals:
        covered.update(range(_minute(interval.start), _minute(interval.end)))
    return covered


def _minute(instant: datetime) -> int:
    return int((instant - ORIGIN) / timedelta(minutes=1))


def canonical(covered: set[int]) -> list[Interval]:
    """The one list of intervals that stands for ``covered``: its runs of consecutive minutes."""
    runs: list[Interval] = []
    for minute in sorted(covered):
        if runs and _minute(runs[-1].end) == minute:
            runs[-1] = Interval(runs[-1].start, at(minute + 1))
        else:
            runs.append(iv(minute, minute + 1))
    return runs


@st.composite
def intervals(draw: st.DrawFn) -> Interval:
    start = draw(st.integers(min_value=0, max_value=120))
    return iv(start, start + draw(st.integers(min_value=0, max_value=40)))


interval_lists = st.lists(intervals(), max_size=12)


# --- set semantics ---------------------------------------------------------------------------


@given(interval_lists)
def test_merge_is_the_canonical_union(items: list[Interval]) -> None:
    assert merge(items) == canonical(minutes(items))


@given(interval_lists, interval_lists)
def test_subtract_is_set_difference(first: list[Interval], second: list[Interval]) -> None:
    assert subtract(first, second) == canonical(minutes(first) - minutes(second))


@given(interval_lists, interval_lists)
def test_intersect_is_set_intersection(first: list[Interval], second: list[Interval]) -> None:
    assert intersect(first, second) == canonical(minutes(first) & minutes(second))


@given(interval_lists, intervals())
def test_gaps_are_the_window_minus_the_union(items: list[Interval], within: Interval) -> None:
    assert gaps(items, within) == canonical(minutes([within]) - minutes(items))


@given(intervals(), intervals())
def test_overlaps_means_a_shared_minute(first: Interval, second: Interval) -> None:
    assert first.overlaps(second) == bool(minutes([first]) & minutes([second]))
    assert first.overlaps(second) == second.overlaps(first)


@given(intervals(), intervals())
def test_clip_is_the_intersection_of_two(first: Interval, within: Interval) -> None:
    clipped = first.clip(within)
    assert ([clipped] if clipped else []) == canonical(minutes([first]) & minutes([within]))


@given(intervals(), st.integers(min_value=-5, max_value=170))
def test_contains_is_membership(interval: Interval, minute: int) -> None:
    assert interval.contains(at(minute)) == (minute in minutes([interval]))


@given(interval_lists)
def test_merge_ignores_input_order(items: list[Interval]) -> None:
    assert merge(reversed(items)) == merge(items) == merge(merge(items))


# --- named cases ---------------------------------------------------------------------------


def test_touching_intervals_coalesce() -> None:
    assert merge([iv(0, 60), iv(60, 90)]) == [iv(0, 90)]


def test_a_gap_of_one_minute_keeps_them_apart() -> None:
    assert merge([iv(0, 60), iv(61, 90)]) == [iv(0, 60), iv(61, 90)]


def test_zero_length_intervals_are_valid_but_dropped_by_merge() -> None:
    point = iv(30, 30)
    assert point.empty and point.duration == timedelta(0)
    assert merge([point]) == []
    assert merge([iv(0, 30), point]) == [iv(0, 30)]
    assert not point.overlaps(iv(0, 60))
    assert not point.contains(at(30))


def test_a_zero_length_interval_cuts_nothing() -> None:
    assert subtract([iv(0, 60)], [iv(30, 30)]) == [iv(0, 60)]


def test_contained_and_duplicate_intervals_merge() -> None:
    assert merge([iv(0, 100), iv(10, 20), iv(0, 100)]) == [iv(0, 100)]


def test_empty_inputs() -> None:
    assert merge([]) == []
    assert subtract([], [iv(0, 10)]) == []
    assert subtract([iv(0, 10)], []) == [iv(0, 10)]
    assert intersect([], [iv(0, 10)]) == []
    assert intersect([iv(0, 10)], []) == []
    assert gaps([], iv(0, 10)) == [iv(0, 10)]
    assert gaps([iv(0, 10)], iv(5, 5)) == []


def test_gaps_are_the_free_time_between_busy_blocks() -> None:
    busy = [iv(60, 120), iv(180, 240), iv(230, 300)]
    assert gaps(busy, iv(0, 360)) == [iv(0, 60), iv(120, 180), iv(300, 360)]


def test_one_cut_splits_several_intervals_and_one_interval_meets_several_cuts() -> None:
    assert subtract([iv(0, 10), iv(20, 30)], [iv(5, 25)]) == [iv(0, 5), iv(25, 30)]
    assert subtract([iv(0, 30)], [iv(5, 10), iv(15, 20)]) == [iv(0, 5), iv(10, 15), iv(20, 30)]


def test_touching_is_not_overlapping() -> None:
    assert not iv(0, 60).overlaps(iv(60, 90))
    assert iv(0, 60).clip(iv(60, 90)) is None
    assert intersect([iv(0, 60)], [iv(60, 90)]) == []


def test_intervals_order_by_start_then_end() -> None:
    assert sorted([iv(5, 6), iv(0, 9), iv(0, 3)]) == [iv(0, 3), iv(0, 9), iv(5, 6)]


# --- construction ---------------------------------------------------------------------------


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        Interval(datetime(2026, 1, 1), at(0))
    with pytest.raises(ValueError, match="aware"):
        Interval(at(0), datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        iv(0, 10).contains(datetime(2026, 1, 1))


def test_start_after_end_is_rejected() -> None:
    with pytest.raises(ValueError, match="after its end"):
        iv(10, 9)


def test_other_zones_are_converted_to_utc() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    interval = Interval(datetime(2026, 3, 29, 10, tzinfo=berlin), datetime(2026, 3, 29, 11, tzinfo=berlin))
    assert interval.start.tzinfo is timezone.utc
    assert interval == Interval(at(0) + timedelta(hours=8), at(0) + timedelta(hours=9))


def test_intervals_are_frozen_values() -> None:
    interval = iv(0, 10)
    with pytest.raises(AttributeError):
        interval.start = at(1)  # type: ignore[misc]
    assert {interval, iv(0, 10)} == {interval}
