"""Half-open time intervals and the set algebra availability is built from.

An :class:`Interval` is ``[start, end)`` between two aware UTC datetimes: it contains ``start``
and every instant up to, but not including, ``end`` — the reading RFC 5545 gives DTSTART/DTEND
(§3.6.1) and RFC 5545 §3.2.9 gives FREEBUSY periods. A list of intervals stands for the set of
instants they cover, and every function here answers in the one *canonical* form of that set:
sorted, non-empty, and neither overlapping nor touching (``[9:00, 10:00)`` and
``[10:00, 11:00)`` are one interval, ``[9:00, 11:00)``). Zero-length intervals are valid values
(a zero-length event has one) but cover nothing, so they never appear in a result.

Public API:

* :class:`Interval` — the value (frozen, ordered by ``(start, end)``), with :meth:`~Interval.overlaps`,
  :meth:`~Interval.contains` and :meth:`~Interval.clip`;
* :func:`merge` — the union of any intervals, canonical;
* :func:`subtract`, :func:`intersect` — set difference and intersection of two lists;
* :func:`gaps` — the free time: what of a window no interval covers.

Inputs may come in any order: each function sorts them (linear on already sorted input, as
Timsort is) and then makes a single sweep. Naive datetimes and ``start > end`` are programming
errors and raise :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from operator import attrgetter

__all__ = ["Interval", "gaps", "intersect", "merge", "subtract"]

_by_bounds = attrgetter("start", "end")


def _as_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"Interval {name} must be an aware datetime, got naive {value!r}")
    if value.tzinfo is timezone.utc:
        return value
    return value.astimezone(timezone.utc)


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """The instants from ``start`` (included) up to ``end`` (excluded), both UTC.

    Aware datetimes in another zone are converted to UTC, so equal intervals compare and print
    alike whatever zone they were built in.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = _as_utc(self.start, "start")
        end = _as_utc(self.end, "end")
        if start > end:
            raise ValueError(f"Interval start {start.isoformat()} is after its end {end.isoformat()}")
        # Frozen: the normalised values can only be stored through object.__setattr__.
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def empty(self) -> bool:
        """True for a zero-length interval, which contains no instant."""
        return self.start == self.end

    def contains(self, instant: datetime) -> bool:
        """Whether ``instant`` lies in ``[start, end)``."""
        return self.start <= _as_utc(instant, "instant") < self.end

    def overlaps(self, other: Interval) -> bool:
        """Whether the two share at least one instant (touching or empty intervals do not)."""
        return max(self.start, other.start) < min(self.end, other.end)

    def clip(self, within: Interval) -> Interval | None:
        """The part of this interval inside ``within``, or ``None`` when they do not overlap."""
        start = max(self.start, within.start)
        end = min(self.end, within.end)
        return Interval(start, end) if start < end else None


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of ``intervals`` in canonical form: overlapping and touching ones coalesced.

    Zero-length intervals are dropped: they cover no instant, and keeping one would make two
    lists for the same set of instants compare unequal.
    """
    merged: list[Interval] = []
    for interval in sorted(intervals, key=_by_bounds):
        if interval.empty:
            continue
        # Touching counts as overlapping: half-open intervals that touch leave no instant between.
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return merged


def subtract(intervals: Iterable[Interval], removed: Iterable[Interval]) -> list[Interval]:
    """The instants of ``intervals`` that are in none of ``removed``, in canonical form."""
    cuts = merge(removed)
    result: list[Interval] = []
    index = 0
    for interval in merge(intervals):
        start = interval.start
        # Cuts ending at or before this interval cannot touch it, nor any later one.
        while index < len(cuts) and cuts[index].end <= start:
            index += 1
        probe = index
        while probe < len(cuts) and cuts[probe].start < interval.end:
            cut = cuts[probe]
            if cut.start > start:
                result.append(Interval(start, cut.start))
            start = max(start, cut.end)
            probe += 1
        if start < interval.end:
            result.append(Interval(start, interval.end))
    return result


def intersect(first: Iterable[Interval], second: Iterable[Interval]) -> list[Interval]:
    """The instants in both ``first`` and ``second``, in canonical form."""
    left, right = merge(first), merge(second)
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start < end:
            result.append(Interval(start, end))
        # Whichever ends first can meet nothing further on the other side.
        if left[i].end <= right[j].end:
            i += 1
        else:
            j += 1
    return result


def gaps(intervals: Iterable[Interval], within: Interval) -> list[Interval]:
    """The free time: the parts of ``within`` that no interval covers, in canonical form."""
    return subtract([within], intervals)
