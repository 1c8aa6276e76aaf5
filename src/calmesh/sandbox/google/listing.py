"""Reading many events at once: events.list, events.instances and freeBusy (protocols.md §1.3, §1.5).

:func:`collect` applies every events.list rule to one calendar and returns the whole result in
order; the API layer snapshots it (:class:`~.state.Cursor`) and pages through the snapshot, so
listing 50,000 events in 20 pages filters and sorts once.

Rules implemented here, as Google documents them:

* ``singleEvents``: series become their instances (exceptions replace the instances they
  change); masters are not returned. Unbounded series expand up to ``timeMax`` or two years
  after now (or after the series' start, if later).
* cancelled events: returned with ``showDeleted``, and always during incremental sync
  (``syncToken`` or ``updatedMin``). Without them, and with ``singleEvents=false``, cancelled
  *instances* of a live series are still returned — but not cancelled single events or masters.
* ``timeMin`` bounds an event's end, ``timeMax`` its start (both exclusive).
* ``q`` (every word, anywhere in summary, description, location, attendees' and the organizer's
  names and emails), ``iCalUID``, ``privateExtendedProperty``/``sharedExtendedProperty``
  (``name=value``, all must match), ``updatedMin``, ``eventTypes``.
* ``orderBy=startTime`` (with ``singleEvents``) or ``updated``; otherwise series and single
  events keep the order they were created in, and expanded listings go by start time.
* Cancelled events appear as :func:`~.events.tombstone` s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from calmesh.sandbox._common import zone
from calmesh.sandbox.google.events import instance_of, tombstone
from calmesh.sandbox.google.recurrence import Occurrence, instance_id
from calmesh.sandbox.google.state import Calendar, StoredEvent
from calmesh.sandbox.google.times import format_in_zone

__all__ = ["EventQuery", "busy_periods", "collect", "instances", "present"]

#: How far past now an unbounded series is expanded when no timeMax bounds it.
HORIZON = timedelta(days=730)


@dataclass(frozen=True)
class EventQuery:
    """The events.list parameters that choose and order items."""

    single_events: bool = False
    show_deleted: bool = False
    time_min: datetime | None = None
    time_max: datetime | None = None
    order_by: str | None = None
    q: str | None = None
    ical_uid: str | None = None
    private: tuple[tuple[str, str], ...] = ()
    shared: tuple[tuple[str, str], ...] = ()
    updated_min: datetime | None = None
    event_types: tuple[str, ...] = ()
    #: Incremental sync: only what changed after this change-log position.
    since: int | None = None

    @property
    def incremental(self) -> bool:
        return self.since is not None or self.updated_min is not None


def collect(calendar: Calendar, query: EventQuery, *, now: datetime, base_url: str) -> list[dict[str, Any]]:
    """Every item events.list returns for ``query``, in order (tombstones for cancelled ones)."""
    found: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for position, stored in enumerate(calendar.events.values()):
        if query.since is not None and stored.seq <= query.since and not (query.single_events and stored.is_master):
            continue
        if stored.is_master and query.single_events:
            for start, item in _expanded(calendar, stored, query, now, base_url):
                found.append(((start, item["id"]), item))
            continue
        if not _keep_stored(calendar, stored, query):
            continue
        if not _overlaps(calendar, stored, query):
            continue
        if not _matches(stored.resource, query):
            continue
        item = tombstone(stored.resource) if stored.cancelled else stored.resource
        found.append(((stored.start.instant, stored.id) if query.single_events else (position,), item))
    if query.order_by == "updated":
        found.sort(key=lambda entry: (str(entry[1].get("updated", "")), entry[1]["id"]))
        return [item for _, item in found]
    if query.single_events:
        found.sort(key=lambda entry: entry[0])
    return [item for _, item in found]


def _keep_stored(calendar: Calendar, stored: StoredEvent, query: EventQuery) -> bool:
    """Whether a stored single event, master or exception is listed (cancellation and sync rules)."""
    if query.updated_min is not None and _updated(stored.resource) < query.updated_min:
        return False
    if not stored.cancelled:
        return True
    if query.incremental or query.show_deleted:
        return True
    # Without showDeleted, a cancelled instance of a live series is still listed (singleEvents=false).
    master = calendar.events.get(stored.master_id) if stored.master_id else None
    return not query.single_events and master is not None and not master.cancelled


def _overlaps(calendar: Calendar, stored: StoredEvent, query: EventQuery) -> bool:
    if query.time_min is None and query.time_max is None:
        return True
    if stored.is_master:
        for _ in stored.series(calendar.zone).occurrences(query.time_min, query.time_max, limit=1):
            return True
        return False
    if query.time_min is not None and stored.end.instant <= query.time_min:
        return False
    return query.time_max is None or stored.start.instant < query.time_max


def _expanded(
    calendar: Calendar, master: StoredEvent, query: EventQuery, now: datetime, base_url: str
) -> Iterator[tuple[datetime, dict[str, Any]]]:
    """A series' instances for an expanded listing (its stored exceptions are listed on their own)."""
    if query.since is not None and master.seq <= query.since:
        return
    if master.cancelled:
        if not query.incremental:
            return
        # A deleted series in incremental sync: every instance it had is now cancelled.
    elif query.updated_min is not None and _updated(master.resource) < query.updated_min:
        return
    if not _matches(master.resource, query):
        return
    own = calendar.exceptions.get(master.id, set())
    for occurrence in _occurrences(calendar, master, query.time_min, query.time_max, now):
        event_id = instance_id(master.id, occurrence)
        if event_id in own:
            continue
        item = instance_of(master.resource, occurrence, base_url, calendar.id)
        if master.cancelled:
            item = tombstone({**item, "status": "cancelled"})
        yield occurrence.start, item


def _occurrences(
    calendar: Calendar, master: StoredEvent, after: datetime | None, before: datetime | None, now: datetime
) -> Iterator[Occurrence]:
    series = master.series(calendar.zone)
    horizon = before or max(now, master.start.instant) + HORIZON
    return series.occurrences(after, horizon)


def instances(
    calendar: Calendar,
    master: StoredEvent,
    *,
    time_min: datetime | None,
    time_max: datetime | None,
    show_deleted: bool,
    original_start: datetime | None,
    now: datetime,
    base_url: str,
) -> list[dict[str, Any]]:
    """events.instances: the series' instances in order, exceptions in place of the ones they change."""
    if not master.is_master:
        return []
    found: list[dict[str, Any]] = []
    for occurrence in _occurrences(calendar, master, time_min, time_max, now):
        if original_start is not None and occurrence.start != original_start:
            continue
        event_id = instance_id(master.id, occurrence)
        exception = calendar.events.get(event_id)
        if exception is not None:
            if exception.cancelled:
                if show_deleted:
                    found.append(tombstone(exception.resource))
                continue
            found.append(exception.resource)
            continue
        item = instance_of(master.resource, occurrence, base_url, calendar.id)
        if master.cancelled:
            if show_deleted:
                found.append(tombstone({**item, "status": "cancelled"}))
            continue
        found.append(item)
    return found


def busy_periods(calendar: Calendar, time_min: datetime, time_max: datetime, *, now: datetime) -> list[tuple[datetime, datetime]]:
    """freeBusy: merged periods of opaque, live, not-declined events (instances included), clipped to the window."""
    periods: list[tuple[datetime, datetime]] = []
    for stored in calendar.events.values():
        if stored.cancelled or not _blocks_time(stored.resource):
            continue
        if stored.is_master:
            own = calendar.exceptions.get(stored.id, set())
            for occurrence in _occurrences(calendar, stored, time_min, time_max, now):
                if instance_id(stored.id, occurrence) not in own:
                    periods.append((occurrence.start, occurrence.end))
            continue
        if stored.end.instant > time_min and stored.start.instant < time_max:
            periods.append((stored.start.instant, stored.end.instant))
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted((max(s, time_min), min(e, time_max)) for s, e in periods):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return [(start, end) for start, end in merged if end > start]


def _blocks_time(resource: dict[str, Any]) -> bool:
    if resource.get("transparency") == "transparent":
        return False
    for attendee in resource.get("attendees") or ():
        if attendee.get("self") and attendee.get("responseStatus") == "declined":
            return False
    return True


def _matches(resource: dict[str, Any], query: EventQuery) -> bool:
    if query.ical_uid is not None and resource.get("iCalUID") != query.ical_uid:
        return False
    if query.event_types and resource.get("eventType", "default") not in query.event_types:
        return False
    properties = resource.get("extendedProperties") or {}
    for scope, wanted in (("private", query.private), ("shared", query.shared)):
        values = properties.get(scope) or {}
        if any(values.get(name) != value for name, value in wanted):
            return False
    if query.q:
        text = _search_text(resource)
        if not all(word in text for word in query.q.lower().split()):
            return False
    return True


def _search_text(resource: dict[str, Any]) -> str:
    parts = [resource.get(key) or "" for key in ("summary", "description", "location")]
    for person in [resource.get("organizer") or {}, *(resource.get("attendees") or ())]:
        parts.extend((person.get("displayName") or "", person.get("email") or ""))
    return "\n".join(str(part) for part in parts).lower()


def _updated(resource: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(resource["updated"]).replace("Z", "+00:00"))


def present(
    item: dict[str, Any], *, max_attendees: int | None = None, time_zone: str | None = None, busy_only: bool = False
) -> dict[str, Any]:
    """An item as one reader sees it: ``maxAttendees``, the ``timeZone`` parameter, freeBusyReader access."""
    if busy_only:
        item = {k: v for k, v in item.items() if k in ("kind", "etag", "id", "status", "start", "end", "recurringEventId", "originalStartTime")}
    if max_attendees is not None and len(item.get("attendees") or ()) > max_attendees:
        item = {**item, "attendees": [a for a in item["attendees"] if a.get("self")], "attendeesOmitted": True}
    where = zone(time_zone) if time_zone else None
    if where is not None:
        item = {**item, **{key: _shifted(item[key], where) for key in ("start", "end", "originalStartTime") if key in item}}
    return item


def _shifted(value: dict[str, Any], where: tzinfo) -> dict[str, Any]:
    if "dateTime" not in value:
        return value
    moment = datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
    return {**value, "dateTime": format_in_zone(moment, where)}
