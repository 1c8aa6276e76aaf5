"""Events: the unified mirror as an API (``/v1/events``), written through to the provider.

Reading never calls a provider: it answers from the mirror (:mod:`calmesh.services.mirror`).
Each mirror row is one VEVENT — a single event, a series' master or an override of one instance
— and is listed as such, unless ``expand`` asks for the occurrences of a window instead.

Shapes follow Google Calendar's where they overlap: ``start``/``end`` are
``{"dateTime", "timeZone"}`` for timed events and ``{"date"}`` for all-day ones (``end`` then
exclusive, as in iCalendar); ``recurrence`` is a list of ``RRULE:``/``RDATE``/``EXDATE`` lines;
an expanded instance has the id ``<masterId>_<original start>`` (``YYYYMMDDTHHMMSSZ`` in UTC,
``YYYYMMDD`` for all-day series, the wall time without ``Z`` for floating ones), with
``recurringEventId`` and ``originalStartTime``; attendees' ``responseStatus`` uses Google's
words (``needsAction``, ``accepted``…). Instance ids work wherever row ids do: GET shows the
instance, PATCH makes (or edits) its override, DELETE cancels it.

Writing changes the mirror first — through :func:`mirror.replace_series` and
:func:`mirror.delete_series`, which keep the busy index current — commits, and only then writes
the series to the provider (:func:`calmesh.services.sync.push_series`). So a provider that is
down never loses a change: the event stays in the mirror, pending, and the next sync pushes it.
What the write responses say about that:

* ``syncState: "SYNCED"`` — the provider holds this version now;
* ``syncState: "PENDING"`` with ``syncError`` — the provider could not be written (unreachable,
  refused, changed meanwhile); the response is still a success (201/200) because the change is
  kept, and the next sync of the integration retries it;
* ``syncState: "SYNCED"`` with ``syncError`` — the event had changed at the provider too; the
  integration's ``conflictPolicy`` settled it (so the change sent may have lost), the response
  shows what both sides now hold, and the conflict is listed under the integration;
* ``syncState`` and ``syncError`` are null on reads (GET and lists): they describe a write.

Conferencing (PRODUCT.md M1, M2): ``conference`` on a new event is ``{"service": "GOOGLE_MEET"}``
(Google makes the Meet when the event reaches a Google calendar; other calendars: 422),
``{"service": "ZOOM"}`` (a Zoom meeting scheduled with the calendar owner's Zoom connection),
``{"service": "CUSTOM", "customProviderId" | "url"}`` (a stable link) or ``{"service": "NONE"}``.
Without it, an event with at least one participant other than the calendar's own account gets
the default :func:`calmesh.services.conferencing.resolve_default` resolves for the calendar's
owner and calendar; "NONE" opts out. A Zoom meeting is made *before* the event is stored, and
cancelled again if storing fails (no orphan meetings); a meeting that cannot be made is an error
(409 without a Zoom connection, 429 with ``resetsAt`` when the day's allowance is used up, 502
when Zoom fails), never a silent fallback to another service. A Zoom or custom link goes where
every calendar carries it: the event's conference field, the location (when empty) and a short
"Join Zoom meeting: …" block at the end of the description (Google keeps only Meet in its own
conference field). ``conference`` in every read is what detection finds there; a Meet link of a
Google calendar opens with that calendar's account (``authuser``).

Writes are refused (409) where calmesh may not write: a read-only calendar, a provider that
cannot write (ICS feeds), an integration whose ``syncDirection`` is INBOUND, a calendar left out
of ``calendarsToSync`` (no sync would ever retry a failed push), and, under OUTBOUND, the
provider's own events (OUTBOUND leaves them alone).

Deleting an override cancels its instance as an EXDATE on the master (and removes the
override): every CalDAV server and client understands EXDATE, while a ``STATUS:CANCELLED``
override is shown struck through by some clients and dropped by others.

Every query is filtered by tenant: another tenant's event id is a 404 exactly like a missing one.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import EmailStr, Field, model_validator
from sqlalchemy import ColumnElement, and_, or_, select

from calmesh.conferencing import CUSTOM, join_instructions
from calmesh.domain.events import (
    Attendee,
    ConferenceData,
    Event,
    EventStatus,
    EventTime,
    Organizer,
    Recurrence,
    RecurrenceId,
    Reminder,
    Transparency,
    Visibility,
)
from calmesh.domain.intervals import Interval
from calmesh.domain.recurrence import Occurrence, expand_events
from calmesh.errors import (
    CalmeshError,
    InvalidCalendarData,
    InvalidInput,
    InvalidState,
    NotFound,
)
from calmesh.ical import parse_calendar
from calmesh.ids import new_id
from calmesh.schemas import ApiModel, Page
from calmesh.providers.base import MeetingRequest
from calmesh.services import conferencing, meetings, mirror, sync
from calmesh.services.availability import parse_instant, parse_window, resolve_zone
from calmesh.services.event_views import (
    FROM_PARTSTAT,
    AttendeeOut,
    EventRead,
    EventTimeOut,
    ResponseStatus,
    SyncState,
    event_read,
    ical_time,
    time_out,
)
from calmesh.services.pagination import decode_cursor, encode_cursor, paginate
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.event_rows import event_from_row
from calmesh.sync.settings import SyncDirection, SyncSettings, calendar_selected

__all__ = [
    "AttendeeIn",
    "AttendeeOut",
    "ConferenceIn",
    "EventCreate",
    "EventRead",
    "EventTimeIn",
    "EventTimeOut",
    "EventUpdate",
    "ReminderIn",
    "create_event",
    "delete_event",
    "get_event",
    "list_events",
    "update_event",
]

log = logging.getLogger(__name__)

UTC = timezone.utc

_TO_PARTSTAT = {word: status for status, word in FROM_PARTSTAT.items()}
_SETTLED = (
    "the event had changed at the provider meanwhile; the integration's conflictPolicy settled it"
    " (this response shows the result; see the integration's conflicts)"
)
#: Lines a ``recurrence`` list may hold (RFC 5545 §3.8.5; EXRULE is deprecated and not taken).
_RECURRENCE_LINE = re.compile(r"^(RRULE|RDATE|EXDATE)[;:]", re.IGNORECASE)


# --- shapes ---------------------------------------------------------------------------------


class EventTimeIn(ApiModel):
    """A start or end: ``dateTime`` (with an offset, or wall time read in ``timeZone``) or ``date``."""

    date_time: datetime | None = Field(default=None, description="e.g. 2026-03-30T09:00:00+02:00, or 2026-03-30T09:00:00 with timeZone.")
    date: dt.date | None = Field(default=None, description="An all-day event's day; an end date is exclusive.")
    time_zone: str | None = Field(default=None, description="IANA name; the event recurs in its wall-clock time.")

    @model_validator(mode="after")
    def _one_kind(self) -> EventTimeIn:
        if (self.date_time is None) == (self.date is None):
            raise ValueError("give either dateTime or date")
        return self


class AttendeeIn(ApiModel):
    email: EmailStr
    name: Annotated[str, Field(max_length=200)] | None = None
    response_status: ResponseStatus = "needsAction"


class ReminderIn(ApiModel):
    method: Literal["popup", "email"] = "popup"
    minutes: int = Field(ge=0, le=40320)


class ConferenceIn(ApiModel):
    """The new event's conferencing (see the module docs): ``GOOGLE_MEET`` (Google makes the link
    when the event reaches a Google calendar), ``ZOOM`` (a meeting made with the calendar
    owner's Zoom), ``CUSTOM`` with ``customProviderId`` or a stable ``url``, or ``NONE``."""

    service: Literal["GOOGLE_MEET", "ZOOM", "CUSTOM", "NONE"]
    custom_provider_id: str | None = Field(default=None, description="CUSTOM: a provider of the calendar's owner or of the tenant.")
    url: Annotated[str, Field(max_length=conferencing.MAX_LINK_LENGTH * 4)] | None = Field(
        default=None, description="CUSTOM: a stable http(s) link, e.g. https://acme.webex.com/meet/ada."
    )

    @model_validator(mode="after")
    def _complete(self) -> ConferenceIn:
        if self.service == CUSTOM:
            if (self.custom_provider_id is None) == (self.url is None):
                raise ValueError("CUSTOM needs either customProviderId or url")
        elif self.custom_provider_id is not None or self.url is not None:
            raise ValueError("customProviderId and url go with service CUSTOM only")
        return self


_Title = Annotated[str, Field(max_length=1000)]
_Text = Annotated[str, Field(max_length=100_000)]
_Recurrence = Annotated[list[Annotated[str, Field(max_length=2000)]], Field(max_length=100)]


class EventCreate(ApiModel):
    """A new event. ``calendarId``, or ``integrationId`` to use its ``createEventsIn`` calendar."""

    calendar_id: str | None = None
    integration_id: str | None = None
    title: _Title
    description: _Text | None = None
    location: _Title | None = None
    start: EventTimeIn
    end: EventTimeIn
    time_zone: str | None = Field(default=None, description="The zone of start and end when they name none.")
    recurrence: _Recurrence | None = Field(default=None, description='e.g. ["RRULE:FREQ=WEEKLY;BYDAY=MO"]')
    attendees: Annotated[list[AttendeeIn], Field(max_length=500)] = Field(default_factory=list)
    visibility: Visibility = Visibility.DEFAULT
    transparency: Transparency = Transparency.OPAQUE
    reminders: Annotated[list[ReminderIn], Field(max_length=20)] = Field(default_factory=list)
    conference: ConferenceIn | None = Field(
        default=None,
        description="Not given: the default conferencing, when the event has a participant other than the calendar's account.",
    )

    @model_validator(mode="after")
    def _where(self) -> EventCreate:
        if not self.calendar_id and not self.integration_id:
            raise ValueError("give calendarId, or integrationId to create the event in its createEventsIn calendar")
        return self


class EventUpdate(ApiModel):
    """Fields not sent stay as they are; null clears. A new ``start`` alone keeps the duration.
    On a series' master the change applies to the series; on an override, to that instance."""

    title: _Title | None = None
    description: _Text | None = None
    location: _Title | None = None
    start: EventTimeIn | None = None
    end: EventTimeIn | None = None
    time_zone: str | None = Field(default=None, description="The zone of start and end when they name none.")
    recurrence: _Recurrence | None = None
    attendees: Annotated[list[AttendeeIn], Field(max_length=500)] | None = None
    visibility: Visibility | None = None
    transparency: Transparency | None = None
    reminders: Annotated[list[ReminderIn], Field(max_length=20)] | None = None


# --- reading: rows to shapes ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Owner:
    """Whose calendar a row is in: the integration, and the Google account a Meet opens with."""

    integration_id: str
    #: The connection's account for Google calendars (Meet's ``authuser``); None elsewhere.
    google_account: str | None


async def _owners(uow: UnitOfWork, calendar_ids: Iterable[str]) -> dict[str, _Owner]:
    wanted = set(calendar_ids)
    if not wanted:
        return {}
    rows = await uow.session.execute(
        select(models.Calendar.id, models.Connection.id, models.Connection.provider, models.Connection.account_email)
        .join(models.Connection, models.Connection.id == models.Calendar.connection_id)
        .where(models.Calendar.id.in_(wanted))
    )
    return {
        calendar_id: _Owner(connection_id, account_email if provider == "GOOGLE" else None)
        for calendar_id, connection_id, provider, account_email in rows
    }


async def _master_ids(uow: UnitOfWork, rows: Sequence[models.Event]) -> dict[tuple[str, str], str]:
    """(calendar id, UID) → master row id, for the overrides among ``rows``."""
    overrides = [row for row in rows if row.recurrence_id is not None]
    if not overrides:
        return {}
    found = await uow.session.execute(
        select(models.Event.calendar_id, models.Event.ical_uid, models.Event.id).where(
            models.Event.calendar_id.in_({row.calendar_id for row in overrides}),
            models.Event.ical_uid.in_({row.ical_uid for row in overrides}),
            models.Event.recurrence_id.is_(None),
        )
    )
    return {(calendar_id, uid): master_id for calendar_id, uid, master_id in found}


async def _reads(uow: UnitOfWork, rows: Sequence[models.Event]) -> list[EventRead]:
    owners = await _owners(uow, (row.calendar_id for row in rows))
    masters = await _master_ids(uow, rows)
    return [
        event_read(
            row, event_from_row(row), owners[row.calendar_id].integration_id,
            masters.get((row.calendar_id, row.ical_uid)) if row.recurrence_id is not None else None,
            account_email=owners[row.calendar_id].google_account,
        )
        for row in rows
    ]


async def _owned_event(uow: UnitOfWork, tenant_id: str, event_id: str) -> models.Event:
    return await uow.owned(models.Event, event_id, tenant_id, "no such event")


async def get_event(runtime: Runtime, tenant_id: str, event_id: str) -> EventRead:
    """A mirror row by its id, or one instance of a series by its instance id."""
    async with UnitOfWork(runtime) as uow:
        row, instance = await _target(uow, tenant_id, event_id)
        if instance is None:
            return (await _reads(uow, [row]))[0]
        owners = await _owners(uow, [row.calendar_id])
        return _occurrence_read(instance.occurrence, instance.describing_row, row, owners[row.calendar_id])


# --- reading: lists -------------------------------------------------------------------------


def _wall(instant: datetime, zone: tzinfo) -> datetime:
    """``instant``'s wall time in ``zone``, stored the mirror's way for all-day and floating rows."""
    return instant.astimezone(zone).replace(tzinfo=UTC)


def _recurs() -> ColumnElement[bool]:
    return and_(
        models.Event.recurrence_id.is_(None), or_(models.Event.rrule.is_not(None), models.Event.rdates.is_not(None))
    )


def _in_window(low: datetime | None, high: datetime | None, zone: tzinfo) -> ColumnElement[bool]:
    """Rows that may overlap ``[low, high)``: timed rows by their instants, all-day and floating
    rows by their wall times in ``zone``, recurring masters when they start before ``high``."""
    event = models.Event
    timed: list[ColumnElement[bool]] = [event.all_day.is_(False), event.floating.is_(False)]
    walls: list[ColumnElement[bool]] = [or_(event.all_day.is_(True), event.floating.is_(True))]
    recurring: list[ColumnElement[bool]] = [_recurs()]
    if high is not None:
        timed.append(event.start_at < high)
        walls.append(event.start_at < _wall(high, zone))
        recurring.append(event.start_at < max(high, _wall(high, zone)))
    if low is not None:
        timed.append(event.end_at > low)
        walls.append(event.end_at > _wall(low, zone))
    return or_(and_(*timed), and_(*walls), and_(*recurring))


async def _check_calendar(uow: UnitOfWork, tenant_id: str, calendar_id: str) -> None:
    await uow.owned(models.Calendar, calendar_id, tenant_id, "no such calendar")


async def list_events(
    runtime: Runtime,
    tenant_id: str,
    *,
    calendar_id: str | None = None,
    start: str | datetime | dt.date | None = None,
    end: str | datetime | dt.date | None = None,
    updated_since: str | datetime | dt.date | None = None,
    expand: bool = False,
    time_zone: str | None = None,
    limit: int,
    cursor: str | None,
) -> Page[EventRead]:
    """Mirror rows (ordered by id), or with ``expand`` the occurrences of a window (by start).

    ``start``/``end`` are ISO instants or dates (dates and naive times in ``time_zone``, UTC by
    default; an ``end`` date is inclusive). ``updatedSince`` keeps rows changed since then — with
    ``expand``, the series that have such a row. Deleted events are not reported.
    """
    zone = resolve_zone(time_zone or "UTC")
    filters: list[ColumnElement[bool]] = [models.Event.tenant_id == tenant_id]
    if updated_since is not None:
        filters.append(models.Event.updated_at >= parse_instant(updated_since, zone, "updatedSince"))
    if expand:
        if start is None or end is None:
            raise InvalidInput("expand=true needs start and end", field="start" if start is None else "end")
        window = parse_window(start, end, zone)
        return await _list_occurrences(runtime, tenant_id, calendar_id, filters, window, zone, limit, cursor)
    low = parse_instant(start, zone, "start") if start is not None else None
    high = parse_instant(end, zone, "end", end=True) if end is not None else None
    if low is not None and high is not None and high <= low:
        raise InvalidInput("start must be before end", field="end")
    if low is not None or high is not None:
        filters.append(_in_window(low, high, zone))
    async with UnitOfWork(runtime) as uow:
        if calendar_id is not None:
            await _check_calendar(uow, tenant_id, calendar_id)
            filters.append(models.Event.calendar_id == calendar_id)
        page = await paginate(
            uow.session, select(models.Event).where(*filters), models.Event.id, lambda row: row, limit=limit, cursor=cursor
        )
        return Page[EventRead](data=await _reads(uow, page.data), next_cursor=page.next_cursor)


_OFFSET = re.compile(r"offset:(\d{1,9})")


def _encode_offset(offset: int) -> str:
    return encode_cursor(f"offset:{offset}")


def _decode_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    match = _OFFSET.fullmatch(decode_cursor(cursor, _OFFSET))
    assert match is not None
    return int(match[1])


async def _list_occurrences(
    runtime: Runtime, tenant_id: str, calendar_id: str | None, filters: list[ColumnElement[bool]],
    window: Interval, zone: ZoneInfo, limit: int, cursor: str | None,
) -> Page[EventRead]:
    """Every occurrence in the window, sorted by start, one page of it (an encoded offset:
    expanding is bounded by the window, so each page recomputes it)."""
    offset = _decode_offset(cursor)
    async with UnitOfWork(runtime) as uow:
        if calendar_id is not None:
            await _check_calendar(uow, tenant_id, calendar_id)
            filters = [*filters, models.Event.calendar_id == calendar_id]
        # The series with a row in the window, then all their rows: an override moved out of
        # the window still replaces its instance, and a THISANDFUTURE one changes later ones.
        series = (
            select(models.Event.calendar_id, models.Event.ical_uid)
            .where(*filters, _in_window(window.start, window.end, zone))
            .distinct()
            .subquery()
        )
        rows = (
            await uow.session.scalars(
                select(models.Event)
                .join(series, and_(models.Event.calendar_id == series.c.calendar_id, models.Event.ical_uid == series.c.ical_uid))
                .where(models.Event.tenant_id == tenant_id)
            )
        ).all()
        owners = await _owners(uow, (row.calendar_id for row in rows))
        # Inside the unit of work: leaving it expires the rows.
        found = _occurrence_reads(rows, owners, window, zone)
    found.sort(key=lambda pair: (pair[0], pair[1].id))
    page = [read for _, read in found[offset : offset + limit]]
    more = len(found) > offset + limit
    return Page[EventRead](data=page, next_cursor=_encode_offset(offset + limit) if more else None)


def _occurrence_reads(
    rows: Sequence[models.Event], owners: dict[str, _Owner], window: Interval, zone: ZoneInfo
) -> list[tuple[datetime, EventRead]]:
    by_calendar: dict[str, list[models.Event]] = defaultdict(list)
    for row in rows:
        by_calendar[row.calendar_id].append(row)
    found = []
    for calendar_id, calendar_rows in by_calendar.items():
        # Expanded per calendar: the same UID in two calendars is two series.
        events = [(event_from_row(row), row) for row in calendar_rows]
        row_of = {id(event): row for event, row in events}
        masters = {row.ical_uid: row for row in calendar_rows if row.recurrence_id is None}

        occurrences = expand_events(
            [event for event, _ in events], window.start, window.end, local_zone=zone, on_invalid=_skip_series
        )
        for occurrence in occurrences:
            if occurrence.event.status is EventStatus.CANCELLED:
                continue
            row = row_of[id(occurrence.event)]
            read = _occurrence_read(occurrence, row, masters.get(row.ical_uid), owners[calendar_id])
            found.append((occurrence.start_at, read))
    return found


def _skip_series(uid: str, error: InvalidCalendarData) -> None:
    # One unreadable series must not hide the others; the sync reported it when it arrived.
    log.warning("a series cannot be expanded", extra={"uid": uid, "error": error.message})


def _instance_stamp(original: datetime | dt.date) -> str:
    if not isinstance(original, datetime):
        return original.strftime("%Y%m%d")
    if original.tzinfo is None:
        return original.strftime("%Y%m%dT%H%M%S")
    return original.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _occurrence_read(occurrence: Occurrence, row: models.Event, master: models.Event | None, owner: _Owner) -> EventRead:
    """One occurrence: described by its row (master or override), at its own time."""
    event = occurrence.event
    master_id = master.id if master is not None else None
    read = event_read(
        row, event, owner.integration_id, master_id if row.recurrence_id is not None else None, account_email=owner.google_account
    )
    if occurrence.recurrence_id is None or master is None:
        return read  # a single event, or an override whose master we do not have
    original_zone = master.time_zone
    return read.model_copy(
        update={
            "id": f"{master.id}_{_instance_stamp(occurrence.recurrence_id)}",
            "start": time_out(occurrence.start, row.time_zone),
            "end": time_out(occurrence.end, row.end_time_zone or row.time_zone),
            "recurrence": None,
            "recurring_event_id": master.id,
            "original_start_time": time_out(occurrence.recurrence_id, original_zone),
        }
    )


# --- instances of a series, by their ids -------------------------------------------------------

_INSTANCE_ID = re.compile(r"^(?P<master>[a-z]{2,8}_[0-9a-z]{26})_(?P<stamp>\d{8}(?:T\d{6}Z?)?)$")
#: How far from its original start an instance's occurrence is looked for: far enough for the
#: moves of THISANDFUTURE overrides met in practice.
_INSTANCE_REACH = timedelta(days=15)


@dataclass
class _Instance:
    """One instance of a series, named by ``<masterId>_<original start>``."""

    rows: list[models.Event]
    events: list[Event]
    occurrence: Occurrence
    #: The index (in ``rows``/``events``) of the override of exactly this instance, if any.
    override: int | None

    @property
    def describing_row(self) -> models.Event:
        return self.rows[next(i for i, event in enumerate(self.events) if event is self.occurrence.event)]


def _original_start(stamp: str) -> datetime | dt.date:
    if "T" not in stamp:
        return datetime.strptime(stamp, "%Y%m%d").date()
    if stamp.endswith("Z"):
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S")


def _same_instance(value: datetime | dt.date, original: datetime | dt.date) -> bool:
    """RECURRENCE-ID values name instants: aware ones are equal across zones."""
    if isinstance(value, datetime) != isinstance(original, datetime):
        return False
    if isinstance(value, datetime) and isinstance(original, datetime) and (value.tzinfo is None) != (original.tzinfo is None):
        return False
    return value == original


async def _instance(uow: UnitOfWork, tenant_id: str, event_id: str) -> tuple[models.Event, _Instance]:
    """The master and the instance an instance id names; NotFound for instances that do not
    exist (an EXDATE, a cancelled override, past the series' end)."""
    match = _INSTANCE_ID.match(event_id)
    if match is None:
        raise NotFound("no such event")
    master = await _owned_event(uow, tenant_id, match["master"])
    try:
        original = _original_start(match["stamp"])
    except ValueError:
        raise NotFound("no such event") from None
    if master.recurrence_id is not None:
        raise NotFound("no such event")
    rows = await _series(uow, master)
    events = [event_from_row(row) for row in rows]
    override = next(
        (i for i, e in enumerate(events) if e.recurrence_id and _same_instance(e.recurrence_id.value.value, original)), None
    )
    anchor = events[override].start.to_utc() if override is not None else EventTime(original).to_utc()
    occurrences = expand_events(events, anchor - _INSTANCE_REACH, anchor + _INSTANCE_REACH, on_invalid=_skip_series)
    occurrence = next(
        (
            o for o in occurrences
            if o.recurrence_id is not None and _same_instance(o.recurrence_id, original) and o.event.status is not EventStatus.CANCELLED
        ),
        None,
    )
    if occurrence is None or occurrence.recurrence_id is None:
        raise NotFound("no such event")
    return master, _Instance(rows, events, occurrence, override)


async def _target(uow: UnitOfWork, tenant_id: str, event_id: str) -> tuple[models.Event, _Instance | None]:
    """A row by its id; else, for an instance id, the series' master and the instance."""
    row = await uow.session.get(models.Event, event_id)
    if row is not None:
        if row.tenant_id != tenant_id:
            raise NotFound("no such event")
        return row, None
    return await _instance(uow, tenant_id, event_id)


def _as_time(value: datetime | dt.date) -> EventTime:
    zone = value.tzinfo if isinstance(value, datetime) else None
    return EventTime(value, zone.key if isinstance(zone, ZoneInfo) else None)


def _edited_instance(instance: _Instance, data: EventUpdate) -> list[Event]:
    """The series with one instance changed: its override edited, or a new override made."""
    events = list(instance.events)
    if instance.override is not None:
        events[instance.override] = _edited(events[instance.override], data)
        return events
    occurrence = instance.occurrence
    assert occurrence.recurrence_id is not None
    # The instance as it is now (the master's, or a THISANDFUTURE override's, description).
    base = replace(
        occurrence.event,
        recurrence=None,
        recurrence_id=RecurrenceId(_as_time(occurrence.recurrence_id)),
        start=_as_time(occurrence.start),
        end=_as_time(occurrence.end),
    )
    edited = _edited(base, data)
    return events if edited == base else [*events, edited]


# --- writing: input to domain ---------------------------------------------------------------


def _event_time(value: EventTimeIn, default_zone: str | None, field: str) -> EventTime:
    if value.date is not None:
        return EventTime(value.date)
    assert value.date_time is not None
    moment = value.date_time
    zone_name = value.time_zone or default_zone
    if zone_name is not None:
        zone = resolve_zone(zone_name, f"{field}.timeZone" if value.time_zone else "timeZone")
        local = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
        return EventTime(local, zone.key)
    if moment.tzinfo is None:
        raise InvalidInput("give the time with its UTC offset, or a timeZone", field=f"{field}.dateTime")
    # An offset and no zone: the instant is kept, in UTC (an offset is not a zone to recur in).
    return EventTime(moment.astimezone(ZoneInfo("UTC")), "UTC")


def _check_times(start: EventTime, end: EventTime) -> None:
    if start.all_day != end.all_day:
        raise InvalidInput("start and end must both be dates or both be date-times", field="end")
    if start.floating != end.floating:
        raise InvalidInput("start and end must both name a zone or both be floating", field="end")
    if start.all_day:
        if end.value <= start.value:
            raise InvalidInput("end must be after start (an all-day end date is exclusive)", field="end")
    elif end.to_utc() <= start.to_utc():
        raise InvalidInput("end must be after start", field="end")


def _parse_recurrence(lines: Sequence[str], start: EventTime) -> Recurrence | None:
    """``RRULE:``/``RDATE``/``EXDATE`` lines, read by the iCalendar parser against ``start``."""
    if not lines:
        return None
    for line in lines:
        if "\r" in line or "\n" in line or not _RECURRENCE_LINE.match(line):
            raise InvalidInput(f"{line[:60]!r} is not an RRULE, RDATE or EXDATE line", field="recurrence")
    params, text = ical_time(start.value)
    body = "\n".join(["BEGIN:VEVENT", "UID:recurrence", "DTSTAMP:20260101T000000Z", f"DTSTART{params}:{text}", *lines, "END:VEVENT"])
    parsed = parse_calendar(f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//calmesh//api//EN\n{body}\nEND:VCALENDAR\n")
    if parsed.problems:
        raise InvalidInput(f"recurrence: {parsed.problems[0].message}", field="recurrence")
    if len(parsed.events) != 1 or parsed.events[0].recurrence is None:
        raise InvalidInput("recurrence could not be read", field="recurrence")
    recurrence = parsed.events[0].recurrence
    probe = replace(parsed.events[0], start=start, end=start)
    try:
        # Builds the series once: rules the expander cannot follow are refused now, not at read time.
        low = start.to_utc()
        expand_events([probe], low, low + timedelta(seconds=1))
    except InvalidCalendarData as exc:
        raise InvalidInput(f"recurrence: {exc.message}", field="recurrence") from None
    return recurrence


def _attendees(items: Sequence[AttendeeIn]) -> tuple[Attendee, ...]:
    return tuple(Attendee(str(a.email), a.name, _TO_PARTSTAT[a.response_status]) for a in items)


def _reminders(items: Sequence[ReminderIn]) -> tuple[Reminder, ...]:
    return tuple(Reminder(r.minutes, r.method) for r in items)


def _new_event(data: EventCreate, uid: str, organizer_email: str | None) -> Event:
    start = _event_time(data.start, data.time_zone, "start")
    end = _event_time(data.end, data.time_zone or _zone_name_of(start), "end")
    _check_times(start, end)
    attendees = _attendees(data.attendees)
    return Event(
        uid=uid,
        start=start,
        end=end,
        summary=data.title,
        description=data.description,
        location=data.location,
        transparency=data.transparency,
        visibility=data.visibility,
        recurrence=_parse_recurrence(data.recurrence or (), start),
        # RFC 5545 §3.8.4.3: an event with attendees has an organizer; it is the account's owner.
        organizer=Organizer(organizer_email) if attendees and organizer_email else None,
        attendees=attendees,
        reminders=_reminders(data.reminders),
    )


def _zone_name_of(value: EventTime) -> str | None:
    moment = value.value
    if isinstance(moment, datetime) and isinstance(moment.tzinfo, ZoneInfo):
        return moment.tzinfo.key
    return None


# --- writing: where, and whether ------------------------------------------------------------


def _refuse_unwritable(calendar: models.Calendar, connection: models.Connection, origin: str) -> None:
    """InvalidState (409) where calmesh may not write this calendar (see the module docs)."""
    settings = SyncSettings.model_validate(connection.settings or {})
    if connection.provider == "ICS" or (connection.permissions or {}).get("calendar") == "read":
        raise InvalidState(f"a {connection.provider} integration is read-only: calmesh cannot write events to it")
    if calendar.read_only:
        raise InvalidState("this calendar is read-only at the provider")
    if settings.sync_direction is SyncDirection.INBOUND:
        raise InvalidState("this integration's syncDirection is INBOUND: calmesh does not write to it")
    if settings.sync_direction is SyncDirection.OUTBOUND and origin != "calmesh":
        raise InvalidState("this integration's syncDirection is OUTBOUND: the provider's own events are left alone")
    if not calendar.selected:
        raise InvalidState("this calendar is not synced (calendarsToSync), so calmesh does not write to it")


async def _calendar_and_connection(uow: UnitOfWork, calendar_id: str) -> tuple[models.Calendar, models.Connection]:
    calendar = await uow.session.get(models.Calendar, calendar_id)
    assert calendar is not None
    connection = await uow.session.get(models.Connection, calendar.connection_id)
    assert connection is not None
    return calendar, connection


async def _target_calendar(uow: UnitOfWork, tenant_id: str, data: EventCreate) -> tuple[models.Calendar, models.Connection]:
    """``calendarId``, or the calendar the integration's ``createEventsIn`` names."""
    if data.calendar_id:
        await _check_calendar(uow, tenant_id, data.calendar_id)
        calendar, connection = await _calendar_and_connection(uow, data.calendar_id)
        if data.integration_id and data.integration_id != connection.id:
            raise InvalidInput("that calendar is not one of that integration's", field="calendarId")
        return calendar, connection
    assert data.integration_id is not None
    owner = await uow.owned(models.Connection, data.integration_id, tenant_id, "no such integration")
    return await _create_events_in(uow, owner)


async def _create_events_in(uow: UnitOfWork, connection: models.Connection) -> tuple[models.Calendar, models.Connection]:
    chosen = SyncSettings.model_validate(connection.settings or {}).create_events_in
    if not chosen:
        raise InvalidInput("this integration has no createEventsIn calendar: give calendarId", field="calendarId")
    calendars = (
        await uow.session.scalars(
            select(models.Calendar).where(models.Calendar.connection_id == connection.id).order_by(models.Calendar.id)
        )
    ).all()
    for calendar in calendars:
        if calendar_selected([chosen], calendar_id=calendar.id, provider_id=calendar.provider_calendar_id, is_primary=calendar.is_primary):
            return calendar, connection
    raise InvalidInput(f"this integration's createEventsIn ({chosen!r}) names none of its calendars", field="integrationId")


async def _write_through(runtime: Runtime, tenant_id: str, calendar_id: str, uid: str) -> tuple[SyncState, str | None]:
    """Push the committed series to its provider now; a failure leaves it for the next sync.

    Any calmesh error is caught, not only a ``ProviderError``: the mirror change is committed
    already, and an error answer would make the client retry a create that in fact happened.
    """
    try:
        report = await sync.push_series(runtime, tenant_id, calendar_id, uid)
    except CalmeshError as exc:
        log.warning("write-through failed; the next sync retries", extra={"calendar_id": calendar_id, "uid": uid, "error": exc.message})
        return "PENDING", exc.message
    if report.problems:
        return "PENDING", report.problems[0]["message"]
    if report.conflicts:
        # Both sides agree again, but perhaps on the provider's version rather than this change.
        return "SYNCED", _SETTLED
    return "SYNCED", None


async def _written(runtime: Runtime, tenant_id: str, event_id: str, calendar_id: str, uid: str) -> EventRead:
    state, error = await _write_through(runtime, tenant_id, calendar_id, uid)
    read = await get_event(runtime, tenant_id, event_id)
    return read.model_copy(update={"sync_state": state, "sync_error": error})


# --- writing: use cases ---------------------------------------------------------------------


async def create_event(runtime: Runtime, tenant_id: str, data: EventCreate) -> EventRead:
    """Create an event (origin "calmesh") with its conferencing and write it to the provider.
    See the module docs for ``conference`` and ``syncState``; the response is the created event
    either way."""
    async with UnitOfWork(runtime) as uow:
        calendar, connection = await _target_calendar(uow, tenant_id, data)
        _refuse_unwritable(calendar, connection, "calmesh")
        # The input is checked in full before any meeting is made for it.
        event = _new_event(data, f"{new_id('ical')}@calmesh", connection.account_email)
        plan = await _conference_plan(uow, tenant_id, data.conference, event, calendar, connection)
        calendar_id = calendar.id
    # No transaction is held open while Zoom is asked; the meeting exists before the event.
    meeting = await _schedule(runtime, tenant_id, plan.zoom_connection_id, event) if plan.zoom_connection_id else None
    try:
        conference = _meeting_conference(meeting) if meeting is not None else plan.conference
        if conference is not None:
            event = _with_conference(event, conference)
        async with UnitOfWork(runtime) as uow:
            rows = await mirror.replace_series(uow, tenant_id, calendar_id, [event], origin="calmesh")
            event_id = rows[0].id
            await uow.commit()
    except BaseException:
        if meeting is not None:
            await _cancel_orphan(runtime, tenant_id, meeting)
        raise
    return await _written(runtime, tenant_id, event_id, calendar_id, event.uid)


# --- writing: conferencing ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ConferencePlan:
    """What a new event gets: a conference to store as it is (a Meet for Google to make, a
    stable link), or a Zoom meeting to schedule with ``zoom_connection_id`` first; or nothing."""

    conference: ConferenceData | None = None
    zoom_connection_id: str | None = None


def _has_other_participant(event: Event, own_email: str | None) -> bool:
    """PRODUCT.md M2: defaults apply to events with at least one participant besides the
    calendar's own account (its organizer)."""
    own = (own_email or "").strip().lower()
    return any(attendee.email.strip().lower() != own for attendee in event.attendees)


async def _conference_plan(
    uow: UnitOfWork, tenant_id: str, wanted: ConferenceIn | None, event: Event,
    calendar: models.Calendar, connection: models.Connection,
) -> _ConferencePlan:
    owner = connection.user_id
    where = "conference"
    service: str
    if wanted is not None:
        service = wanted.service
        if wanted.url is not None:
            link = conferencing.checked_link(wanted.url, "conference.url")
            return _ConferencePlan(conferencing.link_conference(link))
        if wanted.custom_provider_id is not None:
            choice = await conferencing.custom_provider_choice(
                uow, tenant_id, wanted.custom_provider_id, owner, field="conference.customProviderId"
            )
            return _ConferencePlan(conferencing.stable_link_conference(choice))
    else:
        if not _has_other_participant(event, connection.account_email):
            return _ConferencePlan()
        choice = await conferencing.resolve_default(uow, tenant_id, owner, calendar.id)
        service, where = choice.service, f"the default conferencing ({choice.source})"
        if service == CUSTOM:
            return _ConferencePlan(conferencing.stable_link_conference(choice))
    if service == "NONE":
        return _ConferencePlan()
    if service == "GOOGLE_MEET":
        if connection.provider != "GOOGLE":
            raise InvalidInput(
                f"Meet links are made by Google calendars; this calendar is {connection.provider}'s ({where})", field="conference"
            )
        return _ConferencePlan(ConferenceData(service="GOOGLE_MEET"))
    if service == "ZOOM":
        return _ConferencePlan(zoom_connection_id=await _zoom_connection(uow, tenant_id, owner, where))
    raise InvalidState(
        f"{where} is Microsoft Teams, whose links are made by Microsoft 365 calendars; calmesh cannot write to those yet"
        ' (send conference {"service": "NONE"}, or choose another default)'
    )


async def _zoom_connection(uow: UnitOfWork, tenant_id: str, owner: str | None, where: str) -> str:
    """The calendar owner's ACTIVE Zoom connection, or InvalidState saying why there is none."""
    if owner is None:
        raise InvalidState(
            f"{where} is Zoom, but this calendar's integration belongs to no user (userId), so there is no Zoom account to make the meeting with"
        )
    found = await meetings.conferencing_connection(uow, tenant_id, owner)
    if found is None:
        raise InvalidState(
            f"{where} is Zoom, but the calendar's owner has no active Zoom connection: they have to connect their"
            ' own Zoom account first (or send conference {"service": "NONE"})'
        )
    return found


def _meeting_request(event: Event) -> MeetingRequest:
    """The Zoom meeting of a new event: its title, first start and length (a series gets one
    meeting at its first occurrence; its link stays valid for the later ones)."""
    start, end = event.start.to_utc(), event.end.to_utc()
    minutes = max(1, math.ceil((end - start).total_seconds() / 60))
    return MeetingRequest(
        topic=(event.summary or "Meeting")[:200], start=start, duration_minutes=minutes,
        time_zone=_zone_name_of(event.start) or "UTC",
    )


async def _schedule(runtime: Runtime, tenant_id: str, connection_id: str, event: Event) -> meetings.ScheduledMeeting:
    return await meetings.schedule_meeting(runtime, tenant_id, connection_id, _meeting_request(event))


def _meeting_conference(meeting: meetings.ScheduledMeeting) -> ConferenceData:
    return ConferenceData(
        service=meeting.service, join_url=meeting.join_url, meeting_id=meeting.meeting_id,
        passcode=meeting.passcode, dial_ins=meeting.dial_ins,
    )


_HTML_TAG = re.compile(r"<(?:br|p|div|a|span|b|i|ul|ol|li|table|html|body)\b", re.IGNORECASE)


def _with_conference(event: Event, conference: ConferenceData) -> Event:
    """``event`` with its conference, and — for a link calmesh has — that link where every
    calendar carries it: the location when empty, and a "Join … meeting" block at the end of
    the description (Google writes only Meet into its own conference field)."""
    if conference.join_url is None:
        return replace(event, conference=conference)  # a Meet Google makes
    block = join_instructions(
        conference.service, conference.join_url,
        meeting_id=conference.meeting_id, passcode=conference.passcode, dial_ins=conference.dial_ins,
    )
    description = event.description
    if description and description.strip():
        html = _HTML_TAG.search(description) is not None
        gap, joined = ("<br><br>", block.replace("\n", "<br>")) if html else ("\n\n", block)
        description = description.rstrip() + gap + joined
    else:
        description = block
    location = event.location if event.location and event.location.strip() else conference.join_url
    return replace(event, conference=conference, description=description, location=location)


async def _cancel_orphan(runtime: Runtime, tenant_id: str, meeting: meetings.ScheduledMeeting) -> None:
    """The event was not stored: its meeting must not outlive it."""
    try:
        await meetings.cancel_meeting(runtime, tenant_id, meeting.id)
    except CalmeshError as exc:
        log.error(
            "a meeting made for an event that was not stored could not be cancelled",
            extra={"meeting_id": meeting.id, "error": exc.message},
        )


async def _series(uow: UnitOfWork, row: models.Event) -> list[models.Event]:
    """Every row of ``row``'s series, master first."""
    return list(
        (
            await uow.session.scalars(
                select(models.Event)
                .where(models.Event.calendar_id == row.calendar_id, models.Event.ical_uid == row.ical_uid)
                .order_by(models.Event.recurrence_id.is_not(None), models.Event.recurrence_id)
            )
        ).all()
    )


async def update_event(runtime: Runtime, tenant_id: str, event_id: str, data: EventUpdate) -> EventRead:
    """Change an event — a master: its series; an override or an instance id: that instance —
    keep its origin, and write the series to the provider; ``syncState`` as for
    :func:`create_event`. A master moved in time takes its exceptions along (:func:`_follow_master`)."""
    async with UnitOfWork(runtime) as uow:
        target, instance = await _target(uow, tenant_id, event_id)
        calendar, connection = await _calendar_and_connection(uow, target.calendar_id)
        _refuse_unwritable(calendar, connection, target.origin)
        if instance is not None:
            events = _edited_instance(instance, data)
        else:
            events = _edited_row(await _series(uow, target), target, data)
        await mirror.replace_series(
            uow, tenant_id, calendar.id, events, origin=target.origin,
            provider_event_id=target.provider_event_id, etag=target.etag,
        )
        await uow.commit()
        calendar_id, uid = calendar.id, target.ical_uid
    return await _written(runtime, tenant_id, event_id, calendar_id, uid)


def _edited_row(rows: list[models.Event], target: models.Event, data: EventUpdate) -> list[Event]:
    """The series with ``target``'s row changed (a master takes its overrides along)."""
    events = [event_from_row(row) for row in rows]
    index = next(i for i, row in enumerate(rows) if row.id == target.id)
    changed = _edited(events[index], data)
    if target.recurrence_id is not None:
        events[index] = changed
        return events
    return [changed, *_follow_master(events[index], changed, [e for i, e in enumerate(events) if i != index])]


def _edited(event: Event, data: EventUpdate) -> Event:
    """``event`` with the sent fields of ``data`` applied; SEQUENCE goes up when anything changed."""
    sent = data.model_fields_set
    changes: dict[str, Any] = {}
    for field, attribute in (("title", "summary"), ("description", "description"), ("location", "location")):
        if field in sent:
            changes[attribute] = getattr(data, field)
    for field in ("visibility", "transparency"):
        if getattr(data, field) is not None:
            changes[field] = getattr(data, field)
    if "attendees" in sent:
        changes["attendees"] = _attendees(data.attendees or ())
    if "reminders" in sent:
        changes["reminders"] = _reminders(data.reminders or ())
    start, end = _edited_times(event, data)
    changes["start"], changes["end"] = start, end
    if "recurrence" in sent:
        if event.recurrence_id is not None:
            raise InvalidInput("an override is one instance: change the recurrence on the series' master", field="recurrence")
        changes["recurrence"] = _parse_recurrence(data.recurrence or (), start)
    elif event.recurrence is not None and start != event.start:
        changes["recurrence"] = _moved_recurrence(event.recurrence, event.start, start)
    edited = replace(event, **changes)
    return replace(edited, sequence=event.sequence + 1) if edited != event else event


def _edited_times(event: Event, data: EventUpdate) -> tuple[EventTime, EventTime]:
    sent = data.model_fields_set
    if ("start" in sent and data.start is None) or ("end" in sent and data.end is None):
        raise InvalidInput("start and end cannot be cleared", field="start" if data.start is None else "end")
    if data.start is None and data.end is None:
        return event.start, event.end
    start = _event_time(data.start, data.time_zone or _zone_name_of(event.start), "start") if data.start else event.start
    if data.end is not None:
        end = _event_time(data.end, data.time_zone or _zone_name_of(start), "end")
    elif start.all_day != event.start.all_day:
        raise InvalidInput("changing between all-day and timed needs both start and end", field="end")
    else:
        end = _shifted(start, event.duration())
    _check_times(start, end)
    return start, end


def _shifted(start: EventTime, duration: timedelta) -> EventTime:
    """The end ``duration`` after a new ``start`` (whole days for all-day events)."""
    value = start.value
    if not isinstance(value, datetime):
        return EventTime(value + timedelta(days=max(1, duration.days)))
    if value.tzinfo is None:
        return EventTime(value + duration)
    return EventTime((start.to_utc() + duration).astimezone(value.tzinfo), start.tzid)


# --- a series follows its master ------------------------------------------------------------


def _wall_delta(old: EventTime, new: EventTime) -> timedelta:
    """How far the master moved, in wall-clock time of its new zone (whole days when all-day)."""
    old_value, new_value = old.value, new.value
    if not isinstance(old_value, datetime) or not isinstance(new_value, datetime):
        return timedelta(days=(_date_of(new_value) - _date_of(old_value)).days)
    if old_value.tzinfo is not None and new_value.tzinfo is not None:
        old_value = old_value.astimezone(new_value.tzinfo)
    return new_value.replace(tzinfo=None) - old_value.replace(tzinfo=None)


def _date_of(value: datetime | dt.date) -> dt.date:
    return value.date() if isinstance(value, datetime) else value


def _moved(moment: EventTime, delta: timedelta, start: EventTime) -> EventTime:
    """``moment`` moved by a wall-clock ``delta``, in the kind of time of ``start``."""
    value = moment.value
    target = start.value
    if not isinstance(target, datetime):
        return EventTime(_date_of(value) + timedelta(days=delta.days))
    if not isinstance(value, datetime):
        value = datetime.combine(value, target.timetz() if target.tzinfo else target.time())
    if target.tzinfo is not None:
        value = value.astimezone(target.tzinfo) if value.tzinfo else value.replace(tzinfo=target.tzinfo)
        return EventTime((value.replace(tzinfo=None) + delta).replace(tzinfo=target.tzinfo), start.tzid)
    return EventTime(value.replace(tzinfo=None) + delta)


def _moved_recurrence(recurrence: Recurrence, old_start: EventTime, new_start: EventTime) -> Recurrence:
    delta = _wall_delta(old_start, new_start)
    return replace(
        recurrence,
        rdates=tuple(_moved(t, delta, new_start) for t in recurrence.rdates),
        exdates=tuple(_moved(t, delta, new_start) for t in recurrence.exdates),
    )


def _follow_master(old: Event, new: Event, overrides: list[Event]) -> list[Event]:
    """The overrides after their master changed.

    A series that no longer recurs has no instances to override: its overrides go. A series
    moved in time takes its exceptions along (as Thunderbird does): each override's
    RECURRENCE-ID and own times, and — unless the request set the recurrence itself — the
    EXDATEs and RDATEs (done in :func:`_edited`), move by the same wall-clock distance.
    """
    if not new.is_recurring:
        return []
    if old.start == new.start:
        return overrides
    delta = _wall_delta(old.start, new.start)
    if delta == timedelta(0) and old.start.all_day == new.start.all_day:
        return overrides
    moved = []
    for override in overrides:
        assert override.recurrence_id is not None
        recurrence_id = replace(override.recurrence_id, value=_moved(override.recurrence_id.value, delta, new.start))
        start = _moved(override.start, delta, new.start)
        end = _moved(override.end, delta, new.start) if new.all_day == old.all_day else _shifted(start, new.duration())
        moved.append(replace(override, recurrence_id=recurrence_id, start=start, end=end, sequence=override.sequence + 1))
    return moved


# --- deleting -------------------------------------------------------------------------------


def _excluded(events: list[Event], original: EventTime) -> list[Event]:
    """The series with the instance at ``original`` cancelled by an EXDATE on its master."""
    master = next((e for e in events if e.recurrence_id is None), None)
    if master is None or master.recurrence is None:
        return events  # overrides without their master: nothing to exclude them from
    exdates = (*master.recurrence.exdates, original)
    cancelled = replace(master, recurrence=replace(master.recurrence, exdates=exdates), sequence=master.sequence + 1)
    return [cancelled if e is master else e for e in events]


def _without_override(events: list[Event], index: int) -> list[Event]:
    """The series with override ``index`` removed and its instance cancelled."""
    override = events[index]
    assert override.recurrence_id is not None
    return _excluded([e for i, e in enumerate(events) if i != index], override.recurrence_id.value)


def _without_instance(instance: _Instance) -> list[Event]:
    if instance.override is not None:
        return _without_override(instance.events, instance.override)
    assert instance.occurrence.recurrence_id is not None
    return _excluded(instance.events, _as_time(instance.occurrence.recurrence_id))


async def delete_event(runtime: Runtime, tenant_id: str, event_id: str) -> None:
    """Delete a master (its whole series), or cancel one instance (an override's, or one named by
    its instance id) with an EXDATE, then write that to the provider. The mirror change stands even when the provider cannot be reached: the next
    sync deletes it there."""
    async with UnitOfWork(runtime) as uow:
        target, instance = await _target(uow, tenant_id, event_id)
        calendar, connection = await _calendar_and_connection(uow, target.calendar_id)
        _refuse_unwritable(calendar, connection, target.origin)
        calendar_id, uid = calendar.id, target.ical_uid
        remaining: list[Event] = []
        if instance is not None:
            remaining = _without_instance(instance)
        elif target.recurrence_id is not None:
            rows = await _series(uow, target)
            index = next(i for i, row in enumerate(rows) if row.id == target.id)
            remaining = _without_override([event_from_row(row) for row in rows], index)
        if remaining:
            await mirror.replace_series(
                uow, tenant_id, calendar_id, remaining, origin=target.origin,
                provider_event_id=target.provider_event_id, etag=target.etag,
            )
        else:
            await mirror.delete_series(uow, tenant_id, calendar_id, uid)
        await uow.commit()
    await _write_through(runtime, tenant_id, calendar_id, uid)
