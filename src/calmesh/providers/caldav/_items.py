"""Calendar objects (RFC 4791 §4.1) as :class:`~calmesh.providers.base.RemoteItem` values.

A CalDAV object holds one series: the master (or a single event) and its overrides, all with
the same UID. Each object's data is parsed once with :func:`calmesh.ical.parse_calendar`.
What cannot become an item becomes an :class:`~calmesh.providers.base.ItemProblem` — data
that is not iCalendar, VEVENTs that could not be read, several UIDs, two masters — so the rest
of the calendar still syncs. Objects without any VEVENT (tasks, journals) are not events and
are left out without a word.
"""

from __future__ import annotations

from datetime import datetime

from calmesh.domain.events import Event
from calmesh.errors import InvalidCalendarData
from calmesh.ical import parse_calendar
from calmesh.providers.base import ItemProblem, RemoteItem

__all__ = ["read_item"]

# What the iCalendar reader says when it had to invent a UID (see calmesh.ical._reader): a
# CalDAV object must carry its UID (RFC 4791 §4.1), and an invented one would not survive a
# round trip, so such an object is a problem here rather than an event.
_INVENTED_UID_NOTE = "has no UID"


def read_item(item_id: str, etag: str | None, data: str | bytes) -> RemoteItem | ItemProblem | None:
    """The item ``data`` holds, the problem with it, or None for an object with no VEVENT."""
    try:
        parsed = parse_calendar(data)
    except InvalidCalendarData as exc:
        return ItemProblem(item_id, f"not valid iCalendar: {exc.message}")
    events = parsed.events
    if not events:
        if not _mentions_vevent(data):
            return None
        fatal = [p.message for p in parsed.problems if p.fatal]
        reason = fatal[0] if fatal else "no VEVENT could be read"
        return ItemProblem(item_id, f"no readable event: {reason}")
    uids = {event.uid for event in events}
    if len(uids) > 1:
        return ItemProblem(item_id, f"one object holds events with different UIDs: {sorted(uids)}")
    if any(_INVENTED_UID_NOTE in p.message for p in parsed.problems):
        return ItemProblem(item_id, "the event has no UID")
    ordered = _master_first(events)
    if ordered is None:
        return ItemProblem(item_id, f"the object holds two events without RECURRENCE-ID for UID {events[0].uid!r}")
    return RemoteItem(item_id, etag, ordered)


def _mentions_vevent(data: str | bytes) -> bool:
    # Only reached when nothing was read, so the upper-casing cost is rare.
    if isinstance(data, bytes):
        return b"BEGIN:VEVENT" in data.upper()
    return "BEGIN:VEVENT" in data.upper()


def _master_first(events: list[Event]) -> tuple[Event, ...] | None:
    """Master (if any) then overrides by recurrence id; None when there are two masters."""
    masters = [e for e in events if e.recurrence_id is None]
    if len(masters) > 1:
        return None
    if len(events) == 1:
        return (events[0],)
    overrides = sorted((e for e in events if e.recurrence_id is not None), key=_instance)
    return (*masters, *overrides)


def _instance(override: Event) -> datetime:
    """The replaced instance as an instant, so date, floating and zoned ids sort together."""
    assert override.recurrence_id is not None
    return override.recurrence_id.value.to_utc()
