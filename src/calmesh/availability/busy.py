"""Busy time: which stretches of time a person's events block.

Public API:

* :class:`BusyInterval` — one occurrence's blocked time, half-open ``[start, end)`` in UTC,
  with the event it comes from (UID, RECURRENCE-ID, summary and the :class:`Event` itself);
* :func:`busy_intervals` — the busy intervals of occurrences (or of events, expanded first);
* :func:`merged_busy` — the same, merged into the canonical list of busy :class:`Interval` s;
* :class:`BusyBlock` and :func:`busy_blocks` — merged busy time that keeps its sources, for
  showing why a stretch is busy.

What blocks time, as RFC 5545 and the providers' free/busy answers read it:

* Cancelled events (STATUS:CANCELLED, RFC 5545 §3.8.1.11) and transparent ones
  (TRANSP:TRANSPARENT, §3.8.2.7, Google's and Graph's "free") block nothing. Tentative events
  do block, as they do in Google's and Graph's free/busy.
* An event the calendar's owner declined (their ATTENDEE has PARTSTAT=DECLINED, §3.2.12)
  blocks nothing for them. The owner is matched by email address, ignoring case (the parser
  has already removed ``mailto:``). When the owner is listed more than once, the event is
  declined only if every entry declines it: when in doubt, time stays busy, since a wrongly
  free slot leads to a double booking and a wrongly busy one only to a missed slot.
* All-day events (VALUE=DATE, §3.3.4) block whole days from local midnight to local midnight
  in ``all_day_zone``, so a day with a DST change blocks 23 or 25 hours. Floating times (§3.3.5)
  are read in ``all_day_zone`` too: both belong to no zone until someone's day is applied.
* Zero-length events (DTEND equal to DTSTART, the default for a timed event without one,
  §3.6.1) block nothing.

Pure: no SQLAlchemy, httpx or FastAPI; the services feed it events from the mirror.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from calmesh.domain.events import Event, EventStatus, EventTime, ParticipationStatus, Transparency
from calmesh.domain.intervals import Interval, merge
from calmesh.domain.recurrence import Occurrence, expand_events

__all__ = ["BusyBlock", "BusyInterval", "busy_blocks", "busy_intervals", "merged_busy"]


@dataclass(frozen=True, slots=True)
class BusyInterval:
    """The time one occurrence blocks, and where it comes from."""

    #: The blocked time, in UTC; clipped to the window it was asked for.
    interval: Interval
    #: The event describing the occurrence: a single event, a series' master or an override.
    event: Event
    #: The instance's original start in its series (as :attr:`Occurrence.recurrence_id`);
    #: ``None`` for an event that does not recur.
    recurrence_id: datetime | date | None = None

    @property
    def start(self) -> datetime:
        return self.interval.start

    @property
    def end(self) -> datetime:
        return self.interval.end

    @property
    def uid(self) -> str:
        return self.event.uid

    @property
    def summary(self) -> str | None:
        return self.event.summary


@dataclass(frozen=True, slots=True)
class BusyBlock:
    """A stretch of merged busy time and the busy intervals that make it up, by start."""

    interval: Interval
    sources: tuple[BusyInterval, ...]


def busy_intervals(
    items: Iterable[Occurrence | Event],
    *,
    owner_email: str | None,
    all_day_zone: tzinfo,
    window: Interval | None = None,
) -> list[BusyInterval]:
    """The time ``items`` block for ``owner_email``, sorted by start, then end, then UID.

    ``items`` are occurrences from :func:`~calmesh.domain.recurrence.expand_events` (expanded
    with ``local_zone=all_day_zone``) or events; events are expanded here over ``window``, which
    is then required — a recurring series has no end to expand to without one. With a window,
    only time inside it is returned, clipped to it. ``owner_email`` is the calendar owner whose
    declines count; ``None`` counts no decline. See the module docs for what blocks time.

    Raises :class:`~calmesh.errors.InvalidCalendarData` when an event's RRULE cannot be read.
    """
    occurrences: list[Occurrence] = []
    events: list[Event] = []
    for item in items:
        if isinstance(item, Event):
            events.append(item)
        else:
            occurrences.append(item)
    if events:
        if window is None:
            raise ValueError("busy_intervals needs a window to expand events; pass occurrences instead")
        occurrences.extend(expand_events(events, window.start, window.end, local_zone=all_day_zone))

    owner = _mailbox(owner_email) if owner_email is not None else None
    busy: list[BusyInterval] = []
    for occurrence in occurrences:
        event = occurrence.event
        if not _blocks(event, owner):
            continue
        # Recomputed from the occurrence's own values rather than taken from start_at/end_at,
        # so dates and floating times are read in all_day_zone whatever zone expanded them.
        start = EventTime(occurrence.start).to_utc(all_day_zone)
        end = EventTime(occurrence.end).to_utc(all_day_zone)
        if end <= start:
            continue
        interval = Interval(start, end)
        if window is not None:
            clipped = interval.clip(window)
            if clipped is None:
                continue
            interval = clipped
        busy.append(BusyInterval(interval, event, occurrence.recurrence_id))
    busy.sort(key=_sort_key)
    return busy


def merged_busy(
    items: Iterable[Occurrence | Event],
    *,
    owner_email: str | None,
    all_day_zone: tzinfo,
    window: Interval | None = None,
) -> list[Interval]:
    """The busy time of ``items`` (see :func:`busy_intervals`) as canonical merged intervals."""
    busy = busy_intervals(items, owner_email=owner_email, all_day_zone=all_day_zone, window=window)
    return merge(entry.interval for entry in busy)


def busy_blocks(busy: Iterable[BusyInterval]) -> list[BusyBlock]:
    """``busy`` merged as :func:`~calmesh.domain.intervals.merge` does, each block with its sources."""
    ordered = sorted(busy, key=_sort_key)
    merged = merge(entry.interval for entry in ordered)
    starts = [interval.start for interval in merged]
    sources: list[list[BusyInterval]] = [[] for _ in merged]
    for entry in ordered:
        # Every busy interval lies inside exactly one merged interval: the last starting at or
        # before it.
        sources[bisect_right(starts, entry.start) - 1].append(entry)
    return [BusyBlock(interval, tuple(group)) for interval, group in zip(merged, sources, strict=True)]


def _blocks(event: Event, owner: str | None) -> bool:
    if event.status is EventStatus.CANCELLED or event.transparency is Transparency.TRANSPARENT:
        return False
    if owner is None:
        return True
    answers = [a.status for a in event.attendees if _mailbox(a.email) == owner]
    return not answers or any(status is not ParticipationStatus.DECLINED for status in answers)


def _mailbox(address: str) -> str:
    return address.strip().casefold()


def _sort_key(entry: BusyInterval) -> tuple[datetime, datetime, str]:
    return (entry.start, entry.end, entry.uid)
