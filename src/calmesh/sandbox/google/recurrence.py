"""Recurring series: ``recurrence`` lines checked and expanded into instances, as Google does.

A master event's ``recurrence`` holds RRULE/EXRULE/RDATE/EXDATE lines (RFC 5545 §3.8.5) with no
DTSTART: the series starts at the event's ``start``. A timed series recurs on the wall clock of
``start.timeZone`` (mandatory for recurring events, as at Google), so its instances keep their
local time across DST changes; an all-day series recurs by date.

Instances are named like Google's: ``{masterId}_{YYYYMMDDTHHMMSSZ}`` (the original start in UTC)
for timed series and ``{masterId}_{YYYYMMDD}`` for all-day ones (:func:`instance_id`,
:func:`split_instance_id`). Expansion is bounded: callers pass the window they need, and
:data:`MAX_INSTANCES` caps a single series.

Public API: :func:`compile_series` (raises :class:`RecurrenceError` with Google's wording),
:class:`Series`, :class:`Occurrence`, :func:`instance_id`, :func:`split_instance_id`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from dateutil.rrule import rrule, rruleset, rrulestr

from calmesh.sandbox._common import zone
from calmesh.sandbox.google.times import UTC, EventTime

__all__ = [
    "MAX_INSTANCES",
    "Occurrence",
    "RecurrenceError",
    "Series",
    "compile_series",
    "instance_id",
    "split_instance_id",
]

#: The most instances one series yields in one expansion (a daily series over ~27 years).
MAX_INSTANCES = 10_000

_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATE_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)$")
_STAMP = re.compile(r"^(?:\d{8}|\d{8}T\d{6}Z)$")


class RecurrenceError(ValueError):
    """A ``recurrence`` Google would refuse (400 invalid)."""


@dataclass(frozen=True)
class Occurrence:
    """One instance of a series: where it starts and ends, before any exception moves it."""

    #: All-day series: the instance's date; timed series: None.
    day: date | None
    #: The start, aware (in the series' zone for timed series; midnight in the calendar's zone for all-day).
    start: datetime
    end: datetime

    @property
    def stamp(self) -> str:
        """The suffix of the instance's id: ``YYYYMMDD`` or ``YYYYMMDDTHHMMSSZ`` (UTC)."""
        if self.day is not None:
            return self.day.strftime("%Y%m%d")
        return self.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class Series:
    """A master's recurrence compiled against its start; expands into :class:`Occurrence` s."""

    def __init__(self, rules: rruleset, *, all_day: bool, where: tzinfo, length: timedelta) -> None:
        self._rules = rules
        self.all_day = all_day
        #: Timed: the zone whose wall clock the series follows; all-day: the calendar's zone.
        self.zone = where
        #: Wall-clock length of each instance (whole days for all-day series).
        self.length = length

    def occurrences(self, after: datetime | None, before: datetime | None, *, limit: int = MAX_INSTANCES) -> Iterator[Occurrence]:
        """Instances that overlap the open window (``after``, ``before``), in order.

        ``after`` bounds the instance's end and ``before`` its start, like timeMin/timeMax; a
        missing ``before`` is the caller's business (pass a horizon).
        """
        margin = self.length + timedelta(days=1)
        if after is None:
            source: Iterator[datetime] = iter(self._rules)
        else:
            source = self._rules.xafter(self._key(after - margin), inc=True)
        count = 0
        for value in source:
            occurrence = self._occurrence(value)
            if before is not None and occurrence.start >= before:
                return
            if after is not None and occurrence.end <= after:
                continue
            yield occurrence
            count += 1
            if count >= limit:
                return

    def find(self, stamp: str) -> Occurrence | None:
        """The instance whose id ends in ``stamp``, or None when the series has no such instance."""
        if not _STAMP.match(stamp):
            return None
        if self.all_day:
            if len(stamp) != 8:
                return None
            target = datetime.strptime(stamp, "%Y%m%d")
        else:
            if len(stamp) == 8:
                return None
            target = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        for value in self._rules.xafter(target, inc=True):
            found = self._occurrence(value)
            return found if found.stamp == stamp else None
        return None

    def _key(self, instant: datetime) -> datetime:
        # All-day rules run on naive local midnights; timed rules on aware wall-clock times.
        if self.all_day:
            return instant.astimezone(self.zone).replace(tzinfo=None)
        return instant

    def _occurrence(self, value: datetime) -> Occurrence:
        if self.all_day:
            day = value.date()
            start = datetime.combine(day, time(), self.zone)
            end = datetime.combine(day + self.length, time(), self.zone)
            return Occurrence(day, start, end)
        local = value.astimezone(self.zone)
        end = (local.replace(tzinfo=None) + self.length).replace(tzinfo=self.zone)
        return Occurrence(None, local, end)


def compile_series(lines: Sequence[object], start: EventTime, end: EventTime, calendar_zone: tzinfo) -> Series:
    """Check ``recurrence`` lines against the event's start and compile them.

    Raises :class:`RecurrenceError` for what Google refuses: a line that is not
    RRULE/EXRULE/RDATE/EXDATE (DTSTART included), a rule dateutil cannot read, COUNT with
    UNTIL, or a timed series without ``start.timeZone``.
    """
    all_day = start.all_day
    if all_day:
        assert start.day is not None and end.day is not None
        where: tzinfo = calendar_zone
        first = datetime.combine(start.day, time())
        length = timedelta(days=max((end.day - start.day).days, 0))
    else:
        named = zone(start.zone_name) if start.zone_name else None
        if named is None:
            raise RecurrenceError("Missing time zone definition for start time.")
        where = named
        first = start.instant.astimezone(named)
        local_end = end.instant.astimezone(named)
        length = local_end.replace(tzinfo=None) - first.replace(tzinfo=None)
    rules = rruleset()
    has_rule = has_rrule = False
    for line in lines:
        if not isinstance(line, str) or ":" not in line:
            raise RecurrenceError("Invalid recurrence rule.")
        head, _, value = line.strip().partition(":")
        name, *params = head.split(";")
        name = name.upper()
        if name in ("RRULE", "EXRULE"):
            try:
                rule = rrulestr(f"RRULE:{_normalize_rule(value, all_day, where)}", dtstart=first)
            except (ValueError, TypeError, KeyError) as exc:
                raise RecurrenceError("Invalid recurrence rule.") from exc
            assert isinstance(rule, rrule)
            if name == "RRULE":
                rules.rrule(rule)
                has_rule = has_rrule = True
            else:
                rules.exrule(rule)
        elif name in ("RDATE", "EXDATE"):
            for moment in _date_values(params, value, all_day, where, first):
                if name == "RDATE":
                    rules.rdate(moment)
                    has_rule = True
                else:
                    rules.exdate(moment)
        else:
            raise RecurrenceError("Invalid recurrence rule.")
    if not has_rule:
        raise RecurrenceError("Invalid recurrence rule.")
    if not has_rrule:
        # RDATEs only: the start itself is the first instance (RFC 5545 §3.8.5.2).
        rules.rdate(first)
    return Series(rules, all_day=all_day, where=where, length=length)


def _normalize_rule(value: str, all_day: bool, where: tzinfo) -> str:
    """The rule with UNTIL in the form dateutil accepts for this series (UTC for timed series)."""
    parts: dict[str, str] = {}
    for part in value.strip().split(";"):
        key, sep, item = part.partition("=")
        key = key.strip().upper()
        if not sep or not key or key in parts or key == "DTSTART":
            raise RecurrenceError("Invalid recurrence rule.")
        parts[key] = item.strip().upper()
    if "FREQ" not in parts or ("COUNT" in parts and "UNTIL" in parts):
        raise RecurrenceError("Invalid recurrence rule.")
    if "UNTIL" in parts:
        parts["UNTIL"] = _normalize_until(parts["UNTIL"], all_day, where)
    return ";".join(f"{key}={item}" for key, item in parts.items())


def _normalize_until(value: str, all_day: bool, where: tzinfo) -> str:
    day = _DATE.match(value)
    moment = _DATE_TIME.match(value)
    if all_day:
        if day:
            return value
        if moment:
            return value[:8]
        raise RecurrenceError("Invalid recurrence rule.")
    if day:
        # A date bound on a timed series: through the end of that day, local time.
        local = datetime(int(day[1]), int(day[2]), int(day[3]), 23, 59, 59, tzinfo=where)
        return local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    if moment:
        if moment[7]:
            return value
        local = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=where)
        return local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    raise RecurrenceError("Invalid recurrence rule.")


def _date_values(params: list[str], value: str, all_day: bool, where: tzinfo, first: datetime) -> list[datetime]:
    """The moments of an RDATE/EXDATE line, in the form the series' rules produce."""
    named: tzinfo | None = None
    for param in params:
        key, _, item = param.partition("=")
        if key.upper() == "TZID":
            named = zone(item.strip('"'))
            if named is None:
                raise RecurrenceError("Invalid recurrence rule.")
        elif key.upper() == "VALUE" and item.upper() not in ("DATE", "DATE-TIME"):
            raise RecurrenceError("Invalid recurrence rule.")
    moments: list[datetime] = []
    for item in value.split(","):
        item = item.strip().upper()
        day = _DATE.match(item)
        moment = _DATE_TIME.match(item)
        if day:
            at = date(int(day[1]), int(day[2]), int(day[3]))
            if all_day:
                moments.append(datetime.combine(at, time()))
            else:
                # A date on a timed series names that day's instance.
                moments.append(datetime.combine(at, first.timetz().replace(tzinfo=None)).replace(tzinfo=where))
        elif moment:
            naive = datetime.strptime(item[:15], "%Y%m%dT%H%M%S")
            aware = naive.replace(tzinfo=UTC if moment[7] else (named or where))
            if all_day:
                moments.append(datetime.combine(aware.astimezone(where).date(), time()))
            else:
                moments.append(aware.astimezone(where))
        else:
            raise RecurrenceError("Invalid recurrence rule.")
    return moments


def instance_id(master_id: str, occurrence: Occurrence) -> str:
    """Google's id for an instance: ``{masterId}_{stamp}``."""
    return f"{master_id}_{occurrence.stamp}"


def split_instance_id(event_id: str) -> tuple[str, str] | None:
    """``(masterId, stamp)`` when ``event_id`` has the form of an instance id, else None."""
    master, sep, stamp = event_id.rpartition("_")
    if not sep or not master or not _STAMP.match(stamp):
        return None
    return master, stamp
