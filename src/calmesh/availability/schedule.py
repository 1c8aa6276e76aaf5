"""Availability schedules: weekly working hours in an IANA zone, with date overrides.

A schedule is wall-clock time: "Mondays 09:00–17:00 in Europe/Berlin" is 07:00–15:00 UTC in
summer and 08:00–16:00 UTC in winter, and a day when the clocks change still opens at 09:00. A
wall time that does not exist (inside a spring-forward gap) is read with the offset before the
gap, as RFC 5545 §3.3.5 does for DTSTART, so 02:30 on that night becomes 03:30 summer time; an
ambiguous one (autumn) is its first occurrence.

A date override replaces that date's weekly hours; an override with no ranges makes the day
unavailable.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from calmesh.domain.intervals import Interval, merge

__all__ = ["MINUTES_PER_DAY", "TimeRange", "WeeklySchedule", "WEEKDAYS"]

MINUTES_PER_DAY = 24 * 60
#: Weekday names as the API spells them, Monday first (``date.weekday()`` order).
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True, order=True)
class TimeRange:
    """``[start, end)`` minutes after local midnight; ``end`` may be 1440 (24:00)."""

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_minute < self.end_minute <= MINUTES_PER_DAY:
            raise ValueError(f"a time range must have 00:00 <= start < end <= 24:00, got {self}")

    @classmethod
    def parse(cls, start: str, end: str) -> TimeRange:
        """From ``"09:00"`` and ``"17:30"`` (``"24:00"`` allowed as an end)."""
        return cls(_minutes(start), _minutes(end))

    def format(self) -> tuple[str, str]:
        return _hhmm(self.start_minute), _hhmm(self.end_minute)


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{text!r} is not a time of day like '09:30'")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > MINUTES_PER_DAY:
        raise ValueError(f"{text!r} is not a time of day like '09:30'")
    return value


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    zone: ZoneInfo
    #: Ranges per weekday, Monday = 0; a missing weekday is unavailable.
    weekly: Mapping[int, tuple[TimeRange, ...]]
    overrides: Mapping[date, tuple[TimeRange, ...]] = field(default_factory=dict)

    def ranges_on(self, day: date) -> tuple[TimeRange, ...]:
        if day in self.overrides:
            return self.overrides[day]
        return self.weekly.get(day.weekday(), ())

    def local_instant(self, day: date, minute: int) -> datetime:
        """The UTC instant of ``minute`` after midnight on ``day`` in the schedule's zone."""
        wall = datetime.combine(day, time()) + timedelta(minutes=minute)
        # zoneinfo reads a wall time inside a gap with the offset before it (fold=0), which is
        # RFC 5545's rule; fold=0 also picks the first of two ambiguous times.
        return wall.replace(tzinfo=self.zone).astimezone(timezone.utc)

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def day_stretches(self, window: Interval) -> list[Interval]:
        """Each local day's open hours that reach into ``window``, whole (not clipped), by start.

        Ranges of one day that touch are joined; days are not, so a slot grid anchored at a
        stretch's start is the same whichever window asks, and no slot spans local midnight.
        """
        stretches: list[Interval] = []
        day = self.local_date(window.start) - timedelta(days=1)
        last = self.local_date(window.end) + timedelta(days=1)
        while day <= last:
            ranges = [
                Interval(self.local_instant(day, r.start_minute), self.local_instant(day, r.end_minute))
                for r in self.ranges_on(day)
            ]
            stretches += [s for s in merge(ranges) if s.overlaps(window)]
            day += timedelta(days=1)
        return stretches

    def open_intervals(self, window: Interval) -> list[Interval]:
        """The schedule's open time inside ``window``, in UTC, merged."""
        return merge(clipped for s in self.day_stretches(window) if (clipped := s.clip(window)) is not None)
