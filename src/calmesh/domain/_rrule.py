"""The RRULE engine behind :mod:`calmesh.domain.recurrence` (RFC 5545 §3.3.10, §3.8.5.3).

Private: :func:`parse_rrule` reads a RECUR value into a :class:`RecurrenceRule` and
:func:`iter_rule` yields the rule's instances as *wall-clock* times (naive datetimes in
DTSTART's own zone); :func:`iter_rule_batches` yields them one list per rule period. Time zones, UNTIL, EXDATE, RDATE and overrides are the caller's business:
keeping this engine in naive wall time is what RFC 5545 §3.3.10 asks for ("the recurrence is
evaluated in local time") and keeps the inner loop free of zone arithmetic.

How it works: each period of the rule (a year, month, week, day, hour, minute or second,
stepped by INTERVAL) gets its candidate set by expanding and limiting the BYxxx parts as the
table in RFC 5545 §3.3.10 says, then BYSETPOS picks from it, then everything before DTSTART is
dropped and COUNT applies. Instants are plain integers ("wall seconds": ordinal day * 86400 +
second of day) until they are yielded, which is what makes the engine fast enough to expand
thousands of series per second. Without COUNT, :func:`iter_rule` jumps straight to the period
holding ``start_from`` instead of walking every period since DTSTART.

Interpretations where RFC 5545 leaves room (the same as libical's; each is pinned by a vector in
``tests/domain/test_recurrence_libical.py``):

* A DTSTART that does not match the rule is not an instance *of the rule* and does not count
  towards COUNT; :mod:`calmesh.domain.recurrence` adds DTSTART to the recurrence set itself.
* Missing day parts come from DTSTART (RFC 5545 §3.3.10: "information, not contained in the
  rule ... [is] derived from DTSTART"): WEEKLY gets DTSTART's weekday, MONTHLY its day of month,
  YEARLY its month and day, YEARLY with only BYMONTHDAY its month, YEARLY with only BYWEEKNO its
  weekday.
* YEARLY with BYWEEKNO steps through *week-numbering* years (week 1 is the first week, starting
  on WKST, with at least four days in the year, RFC 5545 §3.3.10 BYWEEKNO), starting from the
  week-numbering year DTSTART belongs to; a numbered BYDAY (``2MO``) there means just the weekday.
* Parts RFC 5545's table marks N/A for a frequency (BYMONTHDAY with WEEKLY, BYYEARDAY with DAILY,
  WEEKLY or MONTHLY) limit instead of being rejected; a numbered BYDAY with a frequency other
  than MONTHLY or YEARLY means just the weekday.
* With an all-day DTSTART, BYHOUR, BYMINUTE and BYSECOND are ignored; a sub-daily FREQ is
  rejected. BYSECOND=60 (a leap second) cannot be represented and is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import IntEnum
from functools import lru_cache

from calmesh.errors import InvalidCalendarData

__all__ = ["Frequency", "RecurrenceRule", "iter_rule", "iter_rule_batches", "parse_rrule", "wall_seconds"]


class Frequency(IntEnum):
    """FREQ (RFC 5545 §3.3.10), ordered from the finest to the coarsest."""

    SECONDLY = 0
    MINUTELY = 1
    HOURLY = 2
    DAILY = 3
    WEEKLY = 4
    MONTHLY = 5
    YEARLY = 6


_WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
_DAY = 86_400
_UNIT_SECONDS = {Frequency.HOURLY: 3600, Frequency.MINUTELY: 60, Frequency.SECONDLY: 1}
#: Naive wall times are counted in seconds from ordinal day 0, the day before this one.
_EPOCH = datetime(1, 1, 1)
_MAX_ORDINAL = date(9999, 12, 31).toordinal()
#: A rule finer than YEARLY that produced nothing for this long never will (YEARLY rules may
#: legitimately wait decades, e.g. for a year with a week 53 at INTERVAL=6).
_BARREN_SECONDS = 400 * 366 * _DAY
_CUMULATIVE_DAYS = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)


@dataclass(frozen=True, slots=True)
class RecurrenceRule:
    """One RRULE value, parsed and checked (RFC 5545 §3.3.10).

    ``until`` is a ``date``, a naive ``datetime`` (local or floating time) or an aware UTC
    ``datetime`` exactly as written. ``by_day`` pairs are ``(n, weekday)``: ``n`` is 0 for "every
    such weekday", else the signed ordinal (``-1SU`` is ``(-1, 6)``); weekdays count from Monday
    = 0 like :meth:`datetime.date.weekday`.
    """

    freq: Frequency
    interval: int = 1
    count: int | None = None
    until: datetime | date | None = None
    by_second: tuple[int, ...] = ()
    by_minute: tuple[int, ...] = ()
    by_hour: tuple[int, ...] = ()
    by_day: tuple[tuple[int, int], ...] = ()
    by_month_day: tuple[int, ...] = ()
    by_year_day: tuple[int, ...] = ()
    by_week_no: tuple[int, ...] = ()
    by_month: tuple[int, ...] = ()
    by_set_pos: tuple[int, ...] = ()
    week_start: int = 0


def _fail(text: str, why: str) -> InvalidCalendarData:
    return InvalidCalendarData(f"invalid RRULE {text!r}: {why}")


def _int_list(text: str, name: str, value: str, low: int, high: int, signed: bool) -> tuple[int, ...]:
    numbers: set[int] = set()
    for item in value.split(","):
        try:
            number = int(item)
        except ValueError:
            raise _fail(text, f"{name} value {item!r} is not a number") from None
        if not (low <= abs(number) <= high) or (number < 0 and not signed):
            raise _fail(text, f"{name} value {number} is out of range")
        numbers.add(number)
    return tuple(sorted(numbers))


def _parse_until(text: str, value: str) -> datetime | date:
    try:
        if len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").date()
        if len(value) == 16 and value[-1] in "Zz":
            return datetime.strptime(value[:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
        if len(value) == 15:
            return datetime.strptime(value, "%Y%m%dT%H%M%S")
    except ValueError:
        pass
    raise _fail(text, f"UNTIL value {value!r} is neither a DATE nor a DATE-TIME")


# Calendars repeat the same few rule texts thousands of times (every birthday is
# FREQ=YEARLY); a parsed rule is immutable, so parse each text once.
@lru_cache(maxsize=4096)
def parse_rrule(text: str) -> RecurrenceRule:
    """Read an RRULE value (``FREQ=WEEKLY;BYDAY=MO``), or raise :class:`InvalidCalendarData`.

    Lenient where it costs nothing (case, empty parts from a trailing ``;``, backslashes, X-
    parts, ``RSCALE=GREGORIAN``); strict where guessing would produce wrong occurrences.
    """
    parts: dict[str, str] = {}
    # Some producers escape RECUR values as if they were TEXT (``FREQ=DAILY\\;COUNT=10``); a
    # backslash has no other meaning in a RECUR value (RFC 5545 §3.3.10), so drop them.
    for part in text.replace("\\", "").strip().split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().upper()
        value = value.strip()
        if not sep or not value:
            raise _fail(text, f"part {part!r} has no value")
        if name.startswith("X-"):
            continue
        if name in parts:
            raise _fail(text, f"{name} appears twice (RFC 5545 §3.3.10 allows it once)")
        parts[name] = value.upper()

    # RSCALE and SKIP are RFC 7529 (non-Gregorian calendars): only the Gregorian default is
    # understood, anything else would silently produce wrong dates.
    if parts.pop("RSCALE", "GREGORIAN") != "GREGORIAN":
        raise _fail(text, "RSCALE other than GREGORIAN (RFC 7529) is not supported")
    if parts.pop("SKIP", "OMIT") != "OMIT":
        raise _fail(text, "SKIP other than OMIT (RFC 7529) is not supported")

    try:
        freq = Frequency[parts.pop("FREQ")]
    except KeyError:
        raise _fail(text, "FREQ is missing or unknown") from None

    interval = 1
    if "INTERVAL" in parts:
        (interval,) = _int_list(text, "INTERVAL", parts.pop("INTERVAL"), 1, 10**9, False)
    count: int | None = None
    if "COUNT" in parts:
        (count,) = _int_list(text, "COUNT", parts.pop("COUNT"), 1, 10**9, False)
    until = _parse_until(text, parts.pop("UNTIL")) if "UNTIL" in parts else None

    by_day: set[tuple[int, int]] = set()
    if "BYDAY" in parts:
        for item in parts.pop("BYDAY").split(","):
            weekday = _WEEKDAYS.get(item[-2:])
            prefix = item[:-2]
            try:
                nth = int(prefix) if prefix not in ("", "+", "-") else 0
            except ValueError:
                nth = 99
            if weekday is None or prefix in ("+", "-") or not (0 <= abs(nth) <= 53):
                raise _fail(text, f"BYDAY value {item!r} is not a weekday")
            by_day.add((nth, weekday))

    week_start = 0
    if "WKST" in parts:
        wkst = parts.pop("WKST")
        if wkst not in _WEEKDAYS:
            raise _fail(text, f"WKST value {wkst!r} is not a weekday")
        week_start = _WEEKDAYS[wkst]

    def numbers(name: str, low: int, high: int, signed: bool) -> tuple[int, ...]:
        return _int_list(text, name, parts.pop(name), low, high, signed) if name in parts else ()

    rule = RecurrenceRule(
        freq=freq,
        interval=interval,
        count=count,
        until=until,
        # A leap second (60) cannot be a datetime: drop it rather than reject the rule.
        by_second=tuple(s for s in numbers("BYSECOND", 0, 60, False) if s < 60),
        by_minute=numbers("BYMINUTE", 0, 59, False),
        by_hour=numbers("BYHOUR", 0, 23, False),
        by_day=tuple(sorted(by_day)),
        by_month_day=numbers("BYMONTHDAY", 1, 31, True),
        by_year_day=numbers("BYYEARDAY", 1, 366, True),
        by_week_no=numbers("BYWEEKNO", 1, 53, True),
        by_month=numbers("BYMONTH", 1, 12, False),
        by_set_pos=numbers("BYSETPOS", 1, 366, True),
        week_start=week_start,
    )
    if parts:
        raise _fail(text, f"unknown part {sorted(parts)[0]}")
    if 0 in rule.by_month_day or 0 in rule.by_year_day or 0 in rule.by_week_no:
        raise _fail(text, "0 is not a valid BYMONTHDAY, BYYEARDAY or BYWEEKNO value")
    return rule


def wall_seconds(value: datetime) -> int:
    """A naive datetime as seconds since ordinal day 0 (the engine's representation)."""
    return value.toordinal() * _DAY + value.hour * 3600 + value.minute * 60 + value.second


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _month_first(year: int, month: int) -> int:
    """Ordinal of the first day of a month, without building a date."""
    days = _CUMULATIVE_DAYS[month - 1] + (1 if month > 2 and _is_leap(year) else 0)
    y = year - 1
    return y * 365 + y // 4 - y // 100 + y // 400 + days + 1


def _month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if _is_leap(year) else 28
    return _CUMULATIVE_DAYS[month] - _CUMULATIVE_DAYS[month - 1]


def _week_one(year: int, week_start: int) -> int:
    """Ordinal of the first day of week 1 of ``year`` for weeks starting on ``week_start``."""
    jan1 = _month_first(year, 1)
    offset = (jan1 - 1 - week_start) % 7
    # The week holding 1 January is week 1 only if at least four of its days are in the year.
    return jan1 - offset if offset <= 3 else jan1 - offset + 7


def _week_year(ordinal: int, week_start: int) -> int:
    year = date.fromordinal(ordinal).year
    if ordinal < _week_one(year, week_start):
        return year - 1
    if ordinal >= _week_one(year + 1, week_start):
        return year + 1
    return year


class _Plan:
    """A rule resolved against its DTSTART: defaults filled in, lists turned into sets."""

    __slots__ = (
        "by_day_nth",
        "by_hour",
        "by_minute",
        "by_month",
        "by_month_day",
        "by_second",
        "by_set_pos",
        "by_week_no",
        "by_year_day",
        "filter_month",
        "filter_month_day",
        "filter_weekday",
        "filter_year_day",
        "freq",
        "interval",
        "times",
        "weekdays",
        "week_start",
    )

    def __init__(self, rule: RecurrenceRule, start: datetime, all_day: bool) -> None:
        freq = rule.freq
        if all_day and freq < Frequency.DAILY:
            raise InvalidCalendarData(
                f"invalid RRULE: FREQ={freq.name} needs a DATE-TIME DTSTART, not an all-day one"
            )
        self.freq = freq
        self.interval = rule.interval
        self.week_start = rule.week_start
        by_month = rule.by_month
        by_month_day = rule.by_month_day
        by_day = rule.by_day
        has_day_part = bool(rule.by_week_no or rule.by_year_day or by_month_day or by_day)
        if not has_day_part:
            if freq == Frequency.YEARLY:
                by_month = by_month or (start.month,)
                by_month_day = (start.day,)
            elif freq == Frequency.MONTHLY:
                by_month_day = (start.day,)
            elif freq == Frequency.WEEKLY:
                by_day = ((0, start.weekday()),)
        elif freq == Frequency.YEARLY:
            if by_month_day and not (by_month or rule.by_week_no or rule.by_year_day):
                by_month = (start.month,)
            if rule.by_week_no and not (by_day or by_month_day or rule.by_year_day):
                by_day = ((0, start.weekday()),)
        self.by_month = by_month
        self.by_month_day = by_month_day
        self.by_year_day = rule.by_year_day
        self.by_week_no = rule.by_week_no if freq == Frequency.YEARLY else ()
        # Ordinals in BYDAY mean something only within a month or a year (RFC 5545 §3.3.10).
        nth_allowed = freq == Frequency.MONTHLY or (freq == Frequency.YEARLY and not self.by_week_no)
        self.by_day_nth = by_day if nth_allowed else tuple((0, wd) for _, wd in by_day)
        self.weekdays = frozenset(wd for _, wd in by_day)
        self.by_set_pos = rule.by_set_pos

        # Which parts act as a plain filter on a single day, per frequency.
        day_level = freq <= Frequency.DAILY
        self.filter_month = frozenset(by_month) if by_month and freq <= Frequency.WEEKLY else None
        if self.by_week_no and by_month:
            self.filter_month = frozenset(by_month)
        self.filter_weekday = self.weekdays if (by_day and (day_level or self.by_week_no)) else None
        self.filter_month_day = (
            frozenset(by_month_day)
            if by_month_day and (freq <= Frequency.WEEKLY or self.by_week_no)
            else None
        )
        self.filter_year_day = (
            frozenset(rule.by_year_day)
            if rule.by_year_day and (freq <= Frequency.MONTHLY or self.by_week_no or (freq == Frequency.YEARLY and by_month))
            else None
        )

        if all_day:
            self.by_hour: tuple[int, ...] = (0,)
            self.by_minute: tuple[int, ...] = (0,)
            self.by_second: tuple[int, ...] = (0,)
        else:
            # A part finer than FREQ defaults to DTSTART's; one at or above it (BYHOUR with
            # HOURLY) only limits, and an empty tuple means "no limit".
            self.by_hour = rule.by_hour or (() if freq <= Frequency.HOURLY else (start.hour,))
            self.by_minute = rule.by_minute or (() if freq <= Frequency.MINUTELY else (start.minute,))
            self.by_second = rule.by_second or (() if freq == Frequency.SECONDLY else (start.second,))
        self.times = sorted(
            h * 3600 + m * 60 + s for h in self.by_hour for m in self.by_minute for s in self.by_second
        )

    @property
    def has_day_filter(self) -> bool:
        return not (
            self.filter_month is None
            and self.filter_weekday is None
            and self.filter_month_day is None
            and self.filter_year_day is None
        )

    def day_ok(self, ordinal: int) -> bool:
        """Whether one day passes the parts that only limit at this frequency."""
        if self.filter_weekday is not None and (ordinal - 1) % 7 not in self.filter_weekday:
            return False
        if self.filter_month is None and self.filter_month_day is None and self.filter_year_day is None:
            return True
        day = date.fromordinal(ordinal)
        if self.filter_month is not None and day.month not in self.filter_month:
            return False
        if self.filter_month_day is not None:
            length = _month_length(day.year, day.month)
            if day.day not in self.filter_month_day and day.day - length - 1 not in self.filter_month_day:
                return False
        if self.filter_year_day is not None:
            year_day = ordinal - _month_first(day.year, 1) + 1
            year_length = 366 if _is_leap(day.year) else 365
            if year_day not in self.filter_year_day and year_day - year_length - 1 not in self.filter_year_day:
                return False
        return True

    def _nth_weekdays(self, first: int, last: int) -> set[int]:
        """The days of [first, last] that BYDAY names, ordinals counted within that span."""
        found: set[int] = set()
        for nth, weekday in self.by_day_nth:
            first_match = first + (weekday - (first - 1)) % 7
            if nth == 0:
                found.update(range(first_match, last + 1, 7))
            elif nth > 0:
                day = first_match + 7 * (nth - 1)
                if day <= last:
                    found.add(day)
            else:
                day = last - ((last - 1) - weekday) % 7 + 7 * (nth + 1)
                if day >= first:
                    found.add(day)
        return found

    def month_days(self, year: int, month: int) -> list[int]:
        first = _month_first(year, month)
        length = _month_length(year, month)
        last = first + length - 1
        days: set[int] | None = None
        if self.by_month_day:
            days = {first + d - 1 if d > 0 else last + d + 1 for d in self.by_month_day if abs(d) <= length}
        if self.by_day_nth:
            found = self._nth_weekdays(first, last)
            days = found if days is None else days & found
        if days is None:
            days = set(range(first, last + 1))
        if self.filter_year_day is not None:
            return sorted(d for d in days if self.day_ok(d))
        return sorted(days)

    def year_days(self, year: int) -> list[int]:
        if self.by_month:
            days: list[int] = []
            for month in self.by_month:
                days.extend(self.month_days(year, month))
            return days
        first = _month_first(year, 1)
        length = 366 if _is_leap(year) else 365
        last = first + length - 1
        found: set[int] | None = None
        if self.by_year_day:
            found = {first + d - 1 if d > 0 else last + d + 1 for d in self.by_year_day if abs(d) <= length}
        if self.by_month_day:
            in_months = {
                d for month in range(1, 13) for d in self._month_day_set(year, month)
            }
            found = in_months if found is None else found & in_months
        if self.by_day_nth:
            weekdays = self._nth_weekdays(first, last)
            found = weekdays if found is None else found & weekdays
        return sorted(found or ())

    def _month_day_set(self, year: int, month: int) -> set[int]:
        first = _month_first(year, month)
        length = _month_length(year, month)
        last = first + length - 1
        return {first + d - 1 if d > 0 else last + d + 1 for d in self.by_month_day if abs(d) <= length}

    def week_year_days(self, year: int) -> list[int]:
        week_one = _week_one(year, self.week_start)
        weeks = (_week_one(year + 1, self.week_start) - week_one) // 7
        days: list[int] = []
        for week in self.by_week_no:
            if abs(week) > weeks:
                continue
            monday_like = week_one + 7 * (week - 1 if week > 0 else weeks + week)
            days.extend(range(monday_like, monday_like + 7))
        days.sort()
        if self.has_day_filter:
            return [d for d in days if self.day_ok(d)]
        return days


def _select(candidates: list[int], positions: tuple[int, ...]) -> list[int]:
    """BYSETPOS: pick from the period's sorted candidates (RFC 5545 §3.3.10)."""
    size = len(candidates)
    return sorted({candidates[p - 1 if p > 0 else size + p] for p in positions if p <= size and -p <= size})


def iter_rule(
    rule: RecurrenceRule,
    start: datetime,
    *,
    all_day: bool = False,
    start_from: datetime | None = None,
    stop_after: datetime | None = None,
) -> Iterator[datetime]:
    """Yield the rule's instances from DTSTART ``start`` on, in order, as naive wall times.

    UNTIL is *not* applied (it needs the time zone, see the recurrence module); COUNT is.
    ``start_from`` lets an unbounded (no COUNT) rule skip whole periods that end before it —
    instances before ``start_from`` may still be yielded. Iteration ends after ``stop_after``
    (a period starting later is not examined), at year 9999, or once a rule finer than YEARLY has
    produced nothing for 400 years.
    """
    for batch in iter_rule_batches(rule, start, all_day=all_day, start_from=start_from, stop_after=stop_after):
        yield from batch


def iter_rule_batches(
    rule: RecurrenceRule,
    start: datetime,
    *,
    all_day: bool = False,
    start_from: datetime | None = None,
    stop_after: datetime | None = None,
) -> Iterator[list[datetime]]:
    """:func:`iter_rule`, one non-empty list per rule period: cheaper for callers that collect."""
    plan = _Plan(rule, start, all_day)
    first = wall_seconds(start)
    stop = wall_seconds(stop_after) if stop_after is not None else _MAX_ORDINAL * _DAY + _DAY - 1
    stop = min(stop, _MAX_ORDINAL * _DAY + _DAY - 1)
    skip_to = wall_seconds(start_from) if start_from is not None and rule.count is None else None
    remaining = rule.count
    epoch = _EPOCH
    second = timedelta(seconds=1)
    if plan.freq >= Frequency.DAILY:
        periods = _day_periods(plan, start, skip_to, stop)
    else:
        periods = _sub_day_periods(plan, start, skip_to, stop)
    for instants in periods:
        if not instants:
            continue
        if instants[0] < first or instants[-1] > stop or remaining is not None:
            kept = [i for i in instants if first <= i <= stop]
            if remaining is not None:
                kept = kept[:remaining]
                remaining -= len(kept)
            if kept:
                yield [epoch + (i - _DAY) * second for i in kept]
            if instants[-1] > stop or remaining == 0:
                return
        else:
            yield [epoch + (i - _DAY) * second for i in instants]


def _day_periods(plan: _Plan, start: datetime, skip_to: int | None, stop: int) -> Iterator[list[int]]:
    """Each period's instants, for FREQ=DAILY and coarser."""
    freq = plan.freq
    interval = plan.interval
    times = plan.times
    set_pos = plan.by_set_pos
    start_ordinal = start.toordinal()
    stop_ordinal = stop // _DAY
    skip_ordinal = skip_to // _DAY if skip_to is not None else None
    # A rule that can never match (BYMONTH=2;BYMONTHDAY=30) must not spin until year 9999.
    barren_limit = _BARREN_SECONDS // _DAY
    last_hit = start_ordinal

    if freq == Frequency.YEARLY and plan.by_week_no:
        index = _week_year(start_ordinal, plan.week_start)
        if skip_ordinal is not None:
            index += max(0, (_week_year(skip_ordinal, plan.week_start) - index) // interval) * interval
        step = interval

        def period_start(i: int) -> int:
            return _week_one(i, plan.week_start)

        def period_days(i: int) -> list[int]:
            return plan.week_year_days(i)

    elif freq == Frequency.YEARLY:
        index = start.year
        if skip_ordinal is not None:
            index += max(0, (date.fromordinal(skip_ordinal).year - index) // interval) * interval
        step = interval

        def period_start(i: int) -> int:
            return _month_first(i, 1)

        def period_days(i: int) -> list[int]:
            return plan.year_days(i)

    elif freq == Frequency.MONTHLY:
        index = start.year * 12 + start.month - 1
        if skip_ordinal is not None:
            skip_day = date.fromordinal(skip_ordinal)
            skip_index = skip_day.year * 12 + skip_day.month - 1
            index += max(0, (skip_index - index) // interval) * interval
        step = interval
        months = frozenset(plan.by_month)

        def period_start(i: int) -> int:
            return _month_first(i // 12, i % 12 + 1)

        def period_days(i: int) -> list[int]:
            if months and i % 12 + 1 not in months:
                return []
            return plan.month_days(i // 12, i % 12 + 1)

    elif freq == Frequency.WEEKLY:
        index = start_ordinal - (start_ordinal - 1 - plan.week_start) % 7
        step = 7 * interval
        if skip_ordinal is not None:
            index += max(0, (skip_ordinal - index) // step) * step
        offsets = sorted((wd - plan.week_start) % 7 for wd in plan.weekdays)
        filtered = plan.has_day_filter

        def period_start(i: int) -> int:
            return i

        def period_days(i: int) -> list[int]:
            if filtered:
                return [i + o for o in offsets if plan.day_ok(i + o)]
            return [i + o for o in offsets]

    else:
        index = start_ordinal
        step = interval
        if skip_ordinal is not None:
            index += max(0, (skip_ordinal - index) // step) * step
        filtered = plan.has_day_filter

        def period_start(i: int) -> int:
            return i

        def period_days(i: int) -> list[int]:
            return [i] if not filtered or plan.day_ok(i) else []

    single_time = len(times) == 1
    time0 = times[0]
    while True:
        try:
            begin = period_start(index)
        except (ValueError, OverflowError):
            return
        if begin > stop_ordinal or begin > _MAX_ORDINAL:
            return
        days = period_days(index)
        if days:
            if single_time:
                instants = [d * _DAY + time0 for d in days]
            else:
                instants = [d * _DAY + t for d in days for t in times]
            if set_pos:
                instants = _select(instants, set_pos)
            if instants:
                last_hit = begin
            yield instants
        elif freq != Frequency.YEARLY and begin - last_hit > barren_limit:
            return
        index += step


def _sub_day_periods(plan: _Plan, start: datetime, skip_to: int | None, stop: int) -> Iterator[list[int]]:
    """Each period's instants, for FREQ=HOURLY, MINUTELY and SECONDLY."""
    freq = plan.freq
    unit = _UNIT_SECONDS[freq]
    step = plan.interval * unit
    first = wall_seconds(start)
    base = first - first % unit
    index = 0
    if skip_to is not None and skip_to > base:
        index = (skip_to - base) // step
    hours = frozenset(plan.by_hour) if plan.by_hour else None
    minutes = frozenset(plan.by_minute) if freq <= Frequency.MINUTELY and plan.by_minute else None
    seconds_set = frozenset(plan.by_second) if freq == Frequency.SECONDLY and plan.by_second else None
    if freq == Frequency.HOURLY:
        offsets = sorted(m * 60 + s for m in plan.by_minute for s in plan.by_second)
    elif freq == Frequency.MINUTELY:
        offsets = list(plan.by_second)
    else:
        offsets = [0]
    filtered = plan.has_day_filter
    set_pos = plan.by_set_pos
    last_hit = base
    while True:
        moment = base + index * step
        if moment > stop:
            return
        day = moment // _DAY
        if filtered and not plan.day_ok(day):
            # Jump to the first period of the next day instead of testing every hour of this one.
            index = -(-((day + 1) * _DAY - base) // step)
            if moment - last_hit > _BARREN_SECONDS:
                return
            continue
        second_of_day = moment - day * _DAY
        if (
            (hours is not None and second_of_day // 3600 not in hours)
            or (minutes is not None and second_of_day // 60 % 60 not in minutes)
            or (seconds_set is not None and second_of_day % 60 not in seconds_set)
        ):
            index += 1
            if moment - last_hit > _BARREN_SECONDS:
                return
            continue
        instants = [moment + o for o in offsets]
        if set_pos:
            instants = _select(instants, set_pos)
        last_hit = moment
        yield instants
        index += 1
