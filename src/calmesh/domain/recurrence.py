"""Recurrence expansion: the occurrences of events between two instants (RFC 5545 §3.8.5).

Public API:

* :class:`Occurrence` — one concrete occurrence: the :class:`~calmesh.domain.events.Event` that
  describes it (the master or an override), its start and end as the event wrote them and as
  UTC instants, and the RECURRENCE-ID it has in its series.
* :func:`expand_series` — the occurrences of one series (a master and its overrides).
* :func:`expand_events` — the occurrences of any mix of events, grouped by UID, sorted by start.
* :func:`rrule_instances` — the instances one RRULE generates from a DTSTART, with UNTIL applied.

Pure: no I/O. The RRULE arithmetic itself lives in :mod:`calmesh.domain._rrule`.

What RFC 5545 says and how it is applied here:

* The recurrence set (§3.8.5.3) is DTSTART, every RRULE instance and every RDATE, minus every
  EXDATE. DTSTART is an instance even when the rule would not generate it (§3.8.2.4), unless it
  lies after UNTIL. Such an unsynchronised DTSTART makes the set "undefined" (§3.8.2.4), so we
  do what python-dateutil and recurring-ical-events do and real producers rely on (Apple iCal
  writes DTSTART off-rule, COUNT=1 and an EXDATE of DTSTART for a one-off holiday): COUNT counts
  the rule's own instances and DTSTART comes on top.
* Instances are generated in the wall-clock time of DTSTART's zone (§3.3.10), so a weekly 09:00
  meeting stays at 09:00 across DST changes. A wall time that falls into a DST gap is read "using
  the UTC offset before the gap" (§3.3.5), i.e. moved forward by the gap's length (02:30 on the
  spring-forward night in Berlin becomes 03:30 CEST); an ambiguous wall time in a DST overlap is
  its first occurrence (``fold=0``).
* UNTIL (§3.3.10) is inclusive. A UTC UNTIL is compared with each instance's UTC instant (a
  floating series read in ``local_zone``); a local UNTIL with the wall time; a DATE UNTIL with
  the instance's wall-clock date, so the whole day counts.
* Floating times and all-day dates belong to no zone (§3.3.5, §3.3.4): they are read in
  ``local_zone``, the calendar's or the viewer's zone. All-day occurrences last whole days.
* An occurrence lasts as long as its event (DTSTART to DTEND, an exact duration per §3.8.5.3
  since :class:`Event` always carries an end); all-day ones last the same number of days.
* An override (§3.8.4.4) replaces the instance whose start equals its RECURRENCE-ID, compared as
  instants. A DATE RECURRENCE-ID on a timed series names the instance at DTSTART's time on that
  day; a timed one on an all-day series names the instance on its date. When several overrides
  name one instance the highest SEQUENCE wins (§3.8.7.4), then the later one.
* An override with STATUS:CANCELLED (§3.8.1.11) removes its instance. An override for an
  instance EXDATE removed stays removed: there is nothing left to override.
* RANGE=THISANDFUTURE (§3.8.4.4) makes the override's change apply to every later instance too:
  they move by the same wall-clock delta, take its duration and describe themselves with its
  properties; a later override of a single instance still wins. A cancelled THISANDFUTURE
  override ends the series at that instance.
* An override is shown at its own time whatever the window, so an instance moved into the window
  from outside it appears, and one moved out of it disappears. Overrides whose RECURRENCE-ID
  matches no instance, and overrides with no master at all (common in shared calendars), appear
  as the single events they describe.

Windows are half-open ``[window_start, window_end)`` and given as aware datetimes. An occurrence
is in the window when it overlaps it; a zero-length one when its start is inside. Infinite
series are bounded by the window: unless the rule has a COUNT, expansion starts at the rule
period holding the window start instead of walking every period since DTSTART.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from operator import attrgetter

from calmesh.domain._rrule import RecurrenceRule, iter_rule, iter_rule_batches, parse_rrule
from calmesh.domain.events import Event, EventStatus, EventTime
from calmesh.errors import InvalidCalendarData

__all__ = [
    "Occurrence",
    "expand_events",
    "expand_series",
    "rrule_instances",
]

UTC = timezone.utc
#: Slack, in wall-clock terms, around the window when generating instances: covers any UTC
#: offset (-12:00..+14:00) plus a DST jump, so no instance near an edge is missed. Instances
#: outside the window are dropped exactly afterwards.
_SLACK = timedelta(days=2)
_MIDNIGHT = time()


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of an event: a single event, or one instance of a series.

    ``start`` and ``end`` keep the event's kind of time: an aware datetime in the event's zone
    (after any DST-gap shift), a naive datetime for floating time, or a ``date`` for all-day
    events (``end`` exclusive). ``start_at``/``end_at`` are the UTC instants, floating and
    all-day values read in the ``local_zone`` the expansion was asked for.
    ``recurrence_id`` is the original start of the instance in its series (in the series'
    kind of time), which is what identifies it (RFC 5545 §3.8.4.4); ``None`` for an event that
    does not recur.
    """

    #: The master, or the override (possibly a THISANDFUTURE one) that describes this occurrence.
    event: Event
    start: datetime | date
    end: datetime | date
    start_at: datetime
    end_at: datetime
    recurrence_id: datetime | date | None = None

    @property
    def uid(self) -> str:
        return self.event.uid

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    def overlaps(self, window_start: datetime, window_end: datetime) -> bool:
        """Whether this occurrence is in ``[window_start, window_end)`` (see the module docs)."""
        return _in_window(self.start_at, self.end_at, window_start, window_end)


def _in_window(start_at: datetime, end_at: datetime, window_start: datetime, window_end: datetime) -> bool:
    if start_at >= window_end:
        return False
    return end_at > window_start or (end_at == start_at and start_at >= window_start)


def _utc_window(window_start: datetime, window_end: datetime) -> tuple[datetime, datetime]:
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("the window must be given as aware datetimes")
    # In UTC, every comparison below is between datetimes sharing one tzinfo: the fast path.
    return window_start.astimezone(UTC), window_end.astimezone(UTC)


class _Kind:
    """How one series' times are read: zoned, floating or all-day (RFC 5545 §3.3.5, §3.3.4).

    Converts between wall-clock values (naive datetimes in the series' zone, which is what the
    RRULE engine works in) and UTC instants.
    """

    __slots__ = ("all_day", "floating", "zone")

    def __init__(self, start: EventTime, local_zone: tzinfo) -> None:
        value = start.value
        self.all_day = not isinstance(value, datetime)
        self.floating = isinstance(value, datetime) and value.tzinfo is None
        zone = value.tzinfo if isinstance(value, datetime) else None
        #: The zone wall times are read in.
        self.zone: tzinfo = zone if zone is not None else local_zone

    def wall(self, value: datetime | date, time_of_day: time) -> datetime:
        """Any DTSTART/RDATE/EXDATE/RECURRENCE-ID value as a wall time of this series."""
        if not isinstance(value, datetime):
            return datetime.combine(value, _MIDNIGHT if self.all_day else time_of_day)
        if value.tzinfo is not None:
            value = value.astimezone(self.zone).replace(tzinfo=None)
        if self.all_day:
            return datetime.combine(value.date(), _MIDNIGHT)
        return value

    def instant(self, wall: datetime) -> datetime:
        # fold=0 is RFC 5545 §3.3.5's reading of gaps and overlaps (see the module docs).
        return wall.replace(tzinfo=self.zone).astimezone(UTC)

    def shown(self, wall: datetime, instant: datetime) -> datetime | date:
        """The wall time as the series writes it: zoned (gap-normalised), floating or a date."""
        if self.all_day:
            return wall.date()
        if self.floating:
            return wall
        return instant.astimezone(self.zone)


class _Until:
    """UNTIL of one rule, compared as RFC 5545 §3.3.10 says (see the module docs)."""

    __slots__ = ("by_date", "by_instant", "by_wall")

    def __init__(self, until: datetime | date | None, kind: _Kind) -> None:
        self.by_date: date | None = None
        self.by_instant: datetime | None = None
        self.by_wall: datetime | None = None
        if until is None:
            return
        if not isinstance(until, datetime):
            self.by_date = until
        elif kind.all_day:
            # A DATE-TIME UNTIL on an all-day series (RFC 5545 says it must be a DATE): its date.
            self.by_date = until.date()
        elif until.tzinfo is not None:
            self.by_instant = until
        else:
            self.by_wall = until

    def last_wall(self, kind: _Kind) -> datetime | None:
        """A wall time no allowed instance is after (with a day's slack for zone offsets)."""
        if self.by_instant is not None:
            return self.by_instant.astimezone(kind.zone).replace(tzinfo=None) + _SLACK
        if self.by_wall is not None:
            return self.by_wall
        if self.by_date is not None:
            return datetime.combine(self.by_date, _MIDNIGHT) + _SLACK
        return None

    def safe_wall(self, kind: _Kind) -> datetime | None:
        """A wall time up to which every instance is allowed (``None``: no UNTIL)."""
        if self.by_instant is not None:
            return self.by_instant.astimezone(kind.zone).replace(tzinfo=None) - _SLACK
        if self.by_wall is not None:
            return self.by_wall
        if self.by_date is not None:
            return datetime.combine(self.by_date, _MIDNIGHT) + timedelta(days=1) - timedelta(microseconds=1)
        return None

    def allows(self, wall: datetime, instant: datetime) -> bool:
        if self.by_instant is not None:
            return instant <= self.by_instant
        if self.by_wall is not None:
            return wall <= self.by_wall
        if self.by_date is not None:
            return wall.date() <= self.by_date
        return True


def _parse_rules(event: Event) -> list[RecurrenceRule]:
    rules: list[RecurrenceRule] = []
    assert event.recurrence is not None
    for text in event.recurrence.rrules:
        try:
            rules.append(parse_rrule(text))
        except InvalidCalendarData as exc:
            raise InvalidCalendarData(f"event {event.uid!r}: {exc.message}") from exc
    return rules


def rrule_instances(
    rrule: str,
    dtstart: datetime | date,
    *,
    local_zone: tzinfo = UTC,
) -> Iterator[datetime | date]:
    """The instances one RRULE generates from ``dtstart``, in order, UNTIL and COUNT applied.

    Only the rule's own instances: a DTSTART the rule does not match is not yielded (the
    recurrence set adds it, see :func:`expand_series`). Values have ``dtstart``'s kind: aware in
    its zone, floating or dates; a floating or all-day ``dtstart`` is read in ``local_zone`` for
    a UTC UNTIL. Unbounded rules yield until year 9999: slice the iterator.

    Raises :class:`InvalidCalendarData` for rule text that cannot be read.
    """
    rule = parse_rrule(rrule)
    kind = _Kind(EventTime(dtstart), local_zone)
    until = _Until(rule.until, kind)
    start_wall = kind.wall(dtstart, _MIDNIGHT)
    for wall in iter_rule(rule, start_wall, all_day=kind.all_day, stop_after=until.last_wall(kind)):
        instant = kind.instant(wall)
        if not until.allows(wall, instant):
            return
        yield kind.shown(wall, instant)


@dataclass(frozen=True, slots=True)
class _Override:
    event: Event
    #: The wall time of the instance it replaces, in the master's zone.
    original_wall: datetime
    #: THISANDFUTURE: how far later instances move, in wall-clock time, and how long they last.
    shift: timedelta
    length: timedelta


def _newest(current: Event | None, candidate: Event) -> Event:
    # RFC 5545 §3.8.7.4: a higher SEQUENCE is a newer revision; on a tie keep the later one.
    if current is None or candidate.sequence >= current.sequence:
        return candidate
    return current


def _length(event: Event, local_zone: tzinfo) -> timedelta:
    """How long one occurrence of ``event`` lasts: exact time, or whole days for all-day events."""
    start, end = event.start.value, event.end.value
    if not isinstance(start, datetime) and not isinstance(end, datetime):
        return max(end - start, timedelta(0))
    return max(event.duration(local_zone), timedelta(0))


def _single(event: Event, recurrence_id: datetime | date | None, local_zone: tzinfo) -> Occurrence:
    """An event at its own time (a single event, an override, an orphan)."""
    start = event.start.value
    start_at = event.start.to_utc(local_zone)
    if not isinstance(start, datetime):
        end_value = event.end.value
        # RFC 5545 §3.6.1: an all-day event without a usable DTEND lasts one day.
        end: datetime | date = (
            end_value
            if not isinstance(end_value, datetime) and end_value > start
            else start + timedelta(days=1)
        )
        end_at = EventTime(end).to_utc(local_zone)
    else:
        length = _length(event, local_zone)
        end_at = start_at + length
        end = end_at.astimezone(start.tzinfo) if start.tzinfo is not None else start + length
    return Occurrence(event, start, end, start_at, end_at, recurrence_id)


def expand_series(
    master: Event | None,
    overrides: Sequence[Event],
    window_start: datetime,
    window_end: datetime,
    *,
    local_zone: tzinfo = UTC,
) -> list[Occurrence]:
    """The occurrences of one series that overlap ``[window_start, window_end)``, unsorted.

    ``master`` is the event without RECURRENCE-ID (``None`` when only overrides are known);
    ``overrides`` are the events of the same UID with one. A ``master`` that does not recur is a
    single event. See the module docs for the rules applied.

    Raises :class:`InvalidCalendarData` when the master's RRULE cannot be read (or needs a
    timed DTSTART it does not have), naming the UID, so a caller can report this series and go
    on with the others.
    """
    window_start, window_end = _utc_window(window_start, window_end)
    if master is None:
        occurrences: list[Occurrence] = []
        for event in overrides:
            if event.status is EventStatus.CANCELLED:
                continue
            assert event.recurrence_id is not None
            occurrence = _single(event, event.recurrence_id.value.value, local_zone)
            if occurrence.overlaps(window_start, window_end):
                occurrences.append(occurrence)
        return occurrences
    if not overrides and not master.is_recurring:
        # Most events are single: skip resolving a series for them.
        single = _single(master, None, local_zone)
        return [single] if single.overlaps(window_start, window_end) else []
    return _Series(master, overrides, local_zone).between(window_start, window_end)


class _Series:
    """One master and its overrides, resolved once, expanded for a window."""

    def __init__(self, master: Event, overrides: Sequence[Event], local_zone: tzinfo) -> None:
        self.master = master
        self.local_zone = local_zone
        kind = self.kind = _Kind(master.start, local_zone)
        recurrence = master.recurrence
        self.recurring = master.is_recurring
        self.rules: list[RecurrenceRule] = _parse_rules(master) if recurrence is not None else []
        start_value = master.start.value
        self.time_of_day = start_value.time() if isinstance(start_value, datetime) else _MIDNIGHT
        self.start_wall = kind.wall(start_value, self.time_of_day)
        self.length = _length(master, local_zone)
        self.untils = [_Until(rule.until, kind) for rule in self.rules]
        self.rdate_walls = (
            sorted({kind.wall(rdate.value, self.time_of_day) for rdate in recurrence.rdates})
            if recurrence is not None
            else []
        )

        # EXDATE (RFC 5545 §3.8.5.1): by instant; a DATE on a timed series removes that whole day
        # (the value type should match DTSTART's, but producers write DATEs anyway).
        self.excluded: set[datetime] = set()
        self.excluded_days: set[date] = set()
        for exdate in recurrence.exdates if recurrence is not None else ():
            if isinstance(exdate.value, datetime) or kind.all_day:
                self.excluded.add(kind.instant(kind.wall(exdate.value, self.time_of_day)))
            else:
                self.excluded_days.add(exdate.value)

        newest: dict[datetime, Event] = {}
        for event in overrides:
            assert event.recurrence_id is not None
            key = kind.instant(kind.wall(event.recurrence_id.value.value, self.time_of_day))
            newest[key] = _newest(newest.get(key), event)
        self.overrides: dict[datetime, _Override] = {}
        for key, event in newest.items():
            assert event.recurrence_id is not None
            original = kind.wall(event.recurrence_id.value.value, self.time_of_day)
            if self._is_excluded(key, original):
                continue
            own_start = kind.wall(event.start.value, self.time_of_day)
            self.overrides[key] = _Override(event, original, own_start - original, _length(event, local_zone))
        # THISANDFUTURE overrides, ordered by the instance they start from.
        future = sorted(
            (key, override)
            for key, override in self.overrides.items()
            if override.event.recurrence_id is not None
            and override.event.recurrence_id.this_and_future
            and override.event.status is not EventStatus.CANCELLED
        )
        self.future_keys = [key for key, _ in future]
        self.future = [override for _, override in future]
        # A cancelled THISANDFUTURE override ends the series there (RFC 5545 §3.8.4.4 with
        # §3.8.1.11): no instance from it on is left.
        self.cut: datetime | None = min(
            (
                key
                for key, override in self.overrides.items()
                if override.event.recurrence_id is not None
                and override.event.recurrence_id.this_and_future
                and override.event.status is EventStatus.CANCELLED
            ),
            default=None,
        )

    def _is_excluded(self, key: datetime, wall: datetime) -> bool:
        return key in self.excluded or (bool(self.excluded_days) and wall.date() in self.excluded_days)

    def _walls(self, low: datetime, high: datetime) -> list[datetime]:
        """Wall times of the recurrence set between ``low`` and ``high`` (both inclusive)."""
        kind = self.kind
        walls: list[datetime] = []
        before_until = not self.rules or all(
            until.allows(self.start_wall, kind.instant(self.start_wall)) for until in self.untils
        )
        if low <= self.start_wall <= high and before_until:
            walls.append(self.start_wall)
        walls.extend(wall for wall in self.rdate_walls if low <= wall <= high)
        for rule, until in zip(self.rules, self.untils, strict=True):
            last = until.last_wall(kind)
            stop = high if last is None else min(high, last)
            # Walls up to `safe` are before UNTIL whatever the zone does: no per-wall check.
            safe = until.safe_wall(kind)
            batches = iter_rule_batches(rule, self.start_wall, all_day=kind.all_day, start_from=low, stop_after=stop)
            for batch in batches:
                if batch[0] >= low and (safe is None or batch[-1] <= safe):
                    walls.extend(batch)
                    continue
                kept = [w for w in batch if w >= low and (safe is None or w <= safe or until.allows(w, kind.instant(w)))]
                walls.extend(kept)
                if safe is not None and batch[-1] > safe and (not kept or kept[-1] != batch[-1]):
                    break  # past UNTIL: this rule is done
        return walls

    def between(self, window_start: datetime, window_end: datetime) -> list[Occurrence]:
        kind = self.kind
        master = self.master
        local_zone = self.local_zone
        # Generate instances over a wall-clock range wide enough for every occurrence that can
        # overlap the window: earlier by the longest duration and any THISANDFUTURE move.
        longest = max([self.length, *(o.length for o in self.future)])
        moves = [o.shift for o in self.future]
        earliest_move = min([timedelta(0), *moves])
        latest_move = max([timedelta(0), *moves])
        low = window_start.astimezone(kind.zone).replace(tzinfo=None) - longest - latest_move - _SLACK
        high = window_end.astimezone(kind.zone).replace(tzinfo=None) - earliest_move + _SLACK

        occurrences: list[Occurrence] = []
        overrides = self.overrides
        future_keys = self.future_keys
        has_exclusions = bool(self.excluded or self.excluded_days)
        all_day = kind.all_day
        floating = kind.floating
        zone = kind.zone
        length = self.length
        recurring = self.recurring
        cut = self.cut
        future = self.future
        walls = self._walls(low, high)
        walls.sort()
        previous = None
        for wall in walls:
            # Duplicates (DTSTART or an RDATE that a rule also generates) are one instance.
            if wall == previous:
                continue
            previous = wall
            key = wall.replace(tzinfo=zone).astimezone(UTC)
            if key in overrides or (has_exclusions and self._is_excluded(key, wall)):
                continue
            if cut is not None and key >= cut:
                continue
            event = master
            start_wall = wall
            start_at = key
            this_length = length
            if future_keys:
                index = bisect_right(future_keys, key) - 1
                if index >= 0:
                    override = future[index]
                    event = override.event
                    start_wall = wall + override.shift
                    start_at = start_wall.replace(tzinfo=zone).astimezone(UTC)
                    this_length = override.length
            if all_day:
                end_day = start_wall + this_length
                end_at = end_day.replace(tzinfo=zone).astimezone(UTC)
            else:
                end_at = start_at + this_length
            # Checked before building the shown values: most walls near the edges fall outside.
            if start_at >= window_end or not (end_at > window_start or (end_at == start_at and start_at >= window_start)):
                continue
            start: datetime | date
            end: datetime | date
            original: datetime | date | None
            if all_day:
                start, end = start_wall.date(), end_day.date()
                original = wall.date()
            elif floating:
                start, end = start_wall, start_wall + this_length
                original = wall
            else:
                start, end = start_at.astimezone(zone), end_at.astimezone(zone)
                original = start if start_wall is wall else key.astimezone(zone)
            occurrences.append(Occurrence(event, start, end, start_at, end_at, original if recurring else None))

        for override in overrides.values():
            event = override.event
            if event.status is EventStatus.CANCELLED:
                continue
            original_wall = override.original_wall
            original = kind.shown(original_wall, kind.instant(original_wall))
            occurrence = _single(event, original, local_zone)
            if occurrence.overlaps(window_start, window_end):
                occurrences.append(occurrence)
        return occurrences


def expand_events(
    events: Iterable[Event],
    window_start: datetime,
    window_end: datetime,
    *,
    local_zone: tzinfo = UTC,
    on_invalid: Callable[[str, InvalidCalendarData], None] | None = None,
) -> list[Occurrence]:
    """The occurrences of ``events`` overlapping ``[window_start, window_end)``, sorted by start.

    Events are grouped into series by UID: the one without RECURRENCE-ID is the master (the
    highest SEQUENCE if there are several), the others its overrides. A series whose RRULE cannot
    be read raises :class:`InvalidCalendarData`; pass ``on_invalid`` to have it called with the
    UID and the error instead, and the other series expanded.
    """
    window_start, window_end = _utc_window(window_start, window_end)
    masters: dict[str, Event] = {}
    overrides: dict[str, list[Event]] = {}
    order: dict[str, None] = {}
    for event in events:
        order[event.uid] = None
        if event.recurrence_id is None:
            masters[event.uid] = _newest(masters.get(event.uid), event)
        else:
            overrides.setdefault(event.uid, []).append(event)
    occurrences: list[Occurrence] = []
    for uid in order:
        try:
            occurrences.extend(
                expand_series(
                    masters.get(uid), overrides.get(uid, ()), window_start, window_end, local_zone=local_zone
                )
            )
        except InvalidCalendarData as exc:
            if on_invalid is None:
                raise
            on_invalid(uid, exc)
    # Stable: occurrences starting together stay in input (UID) order.
    occurrences.sort(key=_BY_START)
    return occurrences


_BY_START = attrgetter("start_at")
