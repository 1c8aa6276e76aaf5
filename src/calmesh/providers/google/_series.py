"""Google events grouped into calmesh items: one item per series (pure).

Google stores a recurring series as a master event plus one event per *exception* — an
instance that was changed (it carries ``recurringEventId`` and ``originalStartTime``) or
cancelled (``status: cancelled``). calmesh's item is the whole series:

* the item id is the master's Google event id; a single event is its own item;
* a changed exception becomes an override (``recurrence_id`` = ``originalStartTime``, aligned
  with the master's start); a **cancelled** exception becomes an EXDATE on the master, not an
  override;
* an exception identical to the instance it replaces (same times and content — what is left
  after an instance is edited and edited back, or reset by :mod:`.adapter`) is not an override:
  the series already says the same;
* ``events`` are the master first, then the overrides sorted by recurrence id;
* the **item etag** is the master's etag when the series has no exceptions, else
  ``"series-<sha256>"`` over the master's etag and every exception's id and etag (sorted, so the
  order Google lists them in does not matter). Any change to the master or an exception —
  including a new cancelled instance — changes it, and reading the same series twice gives
  the same value.

An item that cannot be read (no start, a broken time) is an :class:`ItemProblem`, never an
exception; so is an exception whose master is not in the calendar (an orphan).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timezone

from calmesh.domain.events import Event, EventTime, Recurrence
from calmesh.ical._times import align_to_start
from calmesh.providers.base import ItemProblem, RemoteItem
from calmesh.providers.google._mapping import (
    JsonObject,
    UnreadableEvent,
    event_from_google,
    instant_key,
    ordered,
    time_from_google,
    zone_for,
)

__all__ = ["SERIES_ETAG_PREFIX", "Grouped", "group", "is_cancelled", "item_etag", "orphan_problem", "read_series"]

SERIES_ETAG_PREFIX = '"series-'


@dataclass(slots=True)
class Grouped:
    """Events of one listing by role: masters and single events by id, exceptions by master id."""

    masters: dict[str, JsonObject] = field(default_factory=dict)
    exceptions: dict[str, list[JsonObject]] = field(default_factory=dict)

    def add(self, event: JsonObject) -> None:
        master_id = event.get("recurringEventId")
        if isinstance(master_id, str) and master_id:
            bucket = self.exceptions.setdefault(master_id, [])
            # A later answer about the same exception replaces the earlier one.
            bucket[:] = [e for e in bucket if e.get("id") != event.get("id")]
            bucket.append(event)
        elif isinstance(event.get("id"), str):
            self.masters[event["id"]] = event


def group(events: Iterable[JsonObject]) -> Grouped:
    grouped = Grouped()
    for event in events:
        grouped.add(event)
    return grouped


def is_cancelled(event: JsonObject) -> bool:
    return event.get("status") == "cancelled"


def item_etag(master: JsonObject, exceptions: Sequence[JsonObject]) -> str | None:
    """The item's etag (see the module docstring)."""
    etag = master.get("etag")
    etag = etag if isinstance(etag, str) else None
    if not exceptions:
        return etag
    parts = [etag or ""] + sorted(f"{e.get('id')}={e.get('etag')}" for e in exceptions)
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:40]
    return f'{SERIES_ETAG_PREFIX}{digest}"'


def read_series(
    master: JsonObject, exceptions: Sequence[JsonObject], calendar_zone: str | None = None
) -> RemoteItem | ItemProblem:
    """The item for ``master`` and its ``exceptions`` (a single event: none)."""
    item_id = str(master.get("id"))
    try:
        series = event_from_google(master, calendar_zone=calendar_zone)
        if not series.uid:
            raise UnreadableEvent("the event has neither an id nor an iCalUID")
        overrides: list[Event] = []
        exdates: list[EventTime] = []
        for exception in exceptions:
            instance = _instance_start(exception, series.start)
            if is_cancelled(exception):
                exdates.append(instance)
                continue
            override = event_from_google(exception, calendar_zone=calendar_zone)
            assert override.recurrence_id is not None  # _instance_start checked it
            override = replace(
                override,
                uid=series.uid,
                recurrence=None,
                recurrence_id=replace(override.recurrence_id, value=instance),
            )
            if not _is_redundant(override, series, calendar_zone):
                overrides.append(override)
    except UnreadableEvent as exc:
        return ItemProblem(item_id, f"Google event {item_id} cannot be read: {exc}")
    if exdates:
        series = replace(series, recurrence=_with_exdates(series.recurrence, exdates, calendar_zone))
    return RemoteItem(item_id, item_etag(master, exceptions), (series, *ordered(overrides, calendar_zone)))


def orphan_problem(master_id: str) -> ItemProblem:
    return ItemProblem(
        master_id,
        f"Google lists changed instances of the recurring event {master_id}, but not the event itself"
        " (an invitation to single instances of someone else's series?); they are not synced",
    )


def _instance_start(exception: JsonObject, series_start: EventTime) -> EventTime:
    """The exception's original start, aligned with the master's kind of time."""
    if exception.get("originalStartTime") is None:
        raise UnreadableEvent(f"the changed instance {exception.get('id')} has no originalStartTime")
    return align_to_start(time_from_google(exception["originalStartTime"], "originalStartTime"), series_start)


def _with_exdates(recurrence: Recurrence | None, extra: list[EventTime], calendar_zone: str | None) -> Recurrence:
    recurrence = recurrence or Recurrence()
    known = {instant_key(m, calendar_zone) for m in recurrence.exdates}
    added = list(recurrence.exdates)
    for moment in sorted(extra, key=lambda m: instant_key(m, calendar_zone)):
        key = instant_key(moment, calendar_zone)
        if key not in known:
            known.add(key)
            added.append(moment)
    return replace(recurrence, exdates=tuple(added))


def _is_redundant(override: Event, series: Event, calendar_zone: str | None) -> bool:
    """Whether ``override`` says nothing the series does not already say of that instance."""
    assert override.recurrence_id is not None
    zone = zone_for(calendar_zone) or timezone.utc
    instance = override.recurrence_id.value
    if override.start.all_day != instance.all_day or override.start.to_utc(zone) != instance.to_utc(zone):
        return False
    if override.duration(zone) != series.duration(zone):
        return False
    expected = replace(
        series,
        start=override.start,
        end=override.end,
        recurrence=None,
        recurrence_id=override.recurrence_id,
        sequence=override.sequence,
        created_at=override.created_at,
        last_modified_at=override.last_modified_at,
    )
    return expected == override
