"""Availability answers from the mirror's busy index and the bookings (PRODUCT.md A1, A2).

Never a live provider call: what the index does not cover is reported as unknown, not free.

Which calendars block a user's time: the selected calendars of the user's connections, unless
the connection's settings say ``blockBusyTime: false``; with ``busyCalendars`` set, only those
(by our id, the provider's id, or ``"primary"``). Titles are shown only when the event is not
private or confidential and the connection's ``eventPrivacy.showTitle`` and
``showEventDetails`` do not hide them; hidden titles read "Busy".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from calmesh.availability.slots import HostBusy, Slot, find_slots
from calmesh.domain.intervals import Interval, gaps, merge, subtract
from calmesh.errors import InvalidInput, InvalidTimeZone, NotFound
from calmesh.schemas import ApiModel
from calmesh.services import busy_index
from calmesh.services.event_types import LoadedEventType, load_event_type
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models

__all__ = [
    "MAX_WINDOW",
    "BusyItem",
    "ConflictRead",
    "FreeBusyRead",
    "SlotsRead",
    "conflicts",
    "free_busy",
    "host_busy_items",
    "parse_when",
    "parse_window",
    "resolve_zone",
    "slots",
    "tenant_owning",
]

UTC = timezone.utc
#: The longest window one availability question may ask about.
MAX_WINDOW = timedelta(days=92)
HIDDEN_TITLE = "Busy"
BOOKING_SOURCE = "booking"


def resolve_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimeZone(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'", field="timeZone") from None


def _as_instant(value: datetime | date, zone: tzinfo, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)
    # A date means the whole day: an end date is inclusive, so it ends at the next midnight.
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(), zone).astimezone(UTC)


def parse_when(text: str, field: str) -> datetime | date:
    """An ISO 8601 date (``2026-03-30``) or date-time (``2026-03-30T09:00+02:00``)."""
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field} must be an ISO date or date-time, got {text!r}", field=field) from None


def parse_window(
    start: str | datetime | date, end: str | datetime | date, zone: tzinfo, *, names: tuple[str, str] = ("start", "end")
) -> Interval:
    """The half-open UTC window for API inputs: dates (``end`` inclusive) or date-times
    (``end`` exclusive; naive ones read in ``zone``)."""
    start = parse_when(start, names[0]) if isinstance(start, str) else start
    end = parse_when(end, names[1]) if isinstance(end, str) else end
    window_start, window_end = _as_instant(start, zone, end=False), _as_instant(end, zone, end=True)
    if window_end <= window_start:
        raise InvalidInput(f"{names[0]} must be before {names[1]}", field=names[1])
    if window_end - window_start > MAX_WINDOW:
        raise InvalidInput(f"the window may be at most {MAX_WINDOW.days} days long", field=names[1])
    return Interval(window_start, window_end)


# --- which calendars block whom ----------------------------------------------------------


@dataclass
class _CalendarInfo:
    row: models.Calendar
    user_id: str | None
    titles_visible: bool


def _blocks_for_user(calendar: models.Calendar, settings: dict[str, Any]) -> bool:
    if settings.get("blockBusyTime") is False:
        return False
    chosen = settings.get("busyCalendars")
    if not chosen:
        return True
    return any(c in (calendar.id, calendar.provider_calendar_id) or (c == "primary" and calendar.is_primary) for c in chosen)


def _titles_visible(settings: dict[str, Any]) -> bool:
    privacy = settings.get("eventPrivacy") or {}
    return settings.get("showEventDetails") is not False and privacy.get("showTitle") is not False


async def _calendars(
    uow: UnitOfWork, tenant_id: str, *, user_ids: Sequence[str] = (), calendar_ids: Sequence[str] = ()
) -> list[_CalendarInfo]:
    found: dict[str, _CalendarInfo] = {}
    statement = (
        select(models.Calendar, models.Connection)
        .join(models.Connection, models.Connection.id == models.Calendar.connection_id)
        .where(models.Calendar.tenant_id == tenant_id)
    )
    if user_ids:
        for calendar, connection in await uow.session.execute(
            statement.where(models.Connection.user_id.in_(user_ids), models.Calendar.selected.is_(True))
        ):
            if _blocks_for_user(calendar, connection.settings or {}):
                found[calendar.id] = _CalendarInfo(calendar, connection.user_id, _titles_visible(connection.settings or {}))
    if calendar_ids:
        rows = (await uow.session.execute(statement.where(models.Calendar.id.in_(calendar_ids)))).all()
        missing = set(calendar_ids) - {calendar.id for calendar, _ in rows}
        if missing:
            raise NotFound(f"no such calendar: {', '.join(sorted(missing))}")
        for calendar, connection in rows:
            found[calendar.id] = _CalendarInfo(calendar, connection.user_id, _titles_visible(connection.settings or {}))
    return list(found.values())


async def _check_users(uow: UnitOfWork, tenant_id: str, user_ids: Sequence[str]) -> None:
    known = set((await uow.session.scalars(
        select(models.User.id).where(models.User.tenant_id == tenant_id, models.User.id.in_(user_ids))
    )).all())
    missing = sorted(set(user_ids) - known)
    if missing:
        raise NotFound(f"no such user: {', '.join(missing)}")


# --- busy items with their sources ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BusyItem:
    interval: Interval
    source: str
    title: str | None
    calendar_id: str | None = None
    host_id: str | None = None
    booking_id: str | None = None


@dataclass
class _Busy:
    items: list[BusyItem] = field(default_factory=list)
    unknown: list[Interval] = field(default_factory=list)


async def _calendar_busy(uow: UnitOfWork, calendars: Sequence[_CalendarInfo], window: Interval) -> dict[str, _Busy]:
    """Per calendar id: its busy items in ``window`` and the part of it the index cannot answer."""
    result: dict[str, _Busy] = {}
    extended = False
    for info in calendars:
        before = (info.row.busy_indexed_from, info.row.busy_indexed_until)
        covered = await busy_index.ensure_coverage(uow, info.row, window)
        extended |= before != (info.row.busy_indexed_from, info.row.busy_indexed_until)
        result[info.row.id] = _Busy(unknown=subtract([window], [covered]))
    if extended:
        await uow.commit()
    blocks = await busy_index.blocks_in_window(uow, [info.row.id for info in calendars], window)
    # Only the two columns a title needs, not whole event rows: this is the hot path.
    titles: dict[str, tuple[str | None, str]] = {}
    if blocks:
        rows = await uow.session.execute(
            select(models.Event.id, models.Event.summary, models.Event.visibility)
            .where(models.Event.id.in_({b.event_id for b in blocks}))
        )
        titles = {event_id: (summary, visibility) for event_id, summary, visibility in rows}
    by_id = {info.row.id: info for info in calendars}
    for block in blocks:
        info = by_id[block.calendar_id]
        summary, visibility = titles[block.event_id]
        visible = info.titles_visible and visibility not in ("private", "confidential")
        result[block.calendar_id].items.append(
            BusyItem(block.interval, info.row.name, summary if visible else HIDDEN_TITLE,
                     calendar_id=info.row.id, host_id=info.user_id)
        )
    return result


async def _reservation_items(
    uow: UnitOfWork, host_ids: Sequence[str], window: Interval, *, exclude_booking: str | None = None
) -> list[BusyItem]:
    statement = (
        select(models.HostReservation.user_id, models.HostReservation.blocked_start_at,
               models.HostReservation.blocked_end_at, models.Booking.id, models.Booking.attendee_name)
        .join(models.Booking, models.Booking.id == models.HostReservation.booking_id)
        .where(
            models.HostReservation.user_id.in_(host_ids),
            models.HostReservation.active.is_(True),
            models.HostReservation.blocked_start_at < window.end,
            models.HostReservation.blocked_end_at > window.start,
        )
    )
    if exclude_booking:
        statement = statement.where(models.HostReservation.booking_id != exclude_booking)
    return [
        BusyItem(Interval(start, end), BOOKING_SOURCE, f"Booking with {attendee}", host_id=user_id, booking_id=booking_id)
        for user_id, start, end, booking_id, attendee in await uow.session.execute(statement)
    ]


async def host_busy_items(
    uow: UnitOfWork, tenant_id: str, host_ids: Sequence[str], window: Interval, *, exclude_booking: str | None = None
) -> tuple[dict[str, list[BusyItem]], dict[str, list[Interval]]]:
    """Each host's busy items (calendars and bookings) and unknown time in ``window``."""
    calendars = await _calendars(uow, tenant_id, user_ids=host_ids)
    per_calendar = await _calendar_busy(uow, calendars, window)
    items: dict[str, list[BusyItem]] = defaultdict(list)
    unknown: dict[str, list[Interval]] = defaultdict(list)
    for info in calendars:
        assert info.user_id is not None
        items[info.user_id] += per_calendar[info.row.id].items
        unknown[info.user_id] += per_calendar[info.row.id].unknown
    for item in await _reservation_items(uow, host_ids, window, exclude_booking=exclude_booking):
        assert item.host_id is not None
        items[item.host_id].append(item)
    return items, {host: merge(intervals) for host, intervals in unknown.items()}


def _shown(instant: datetime, zone: tzinfo) -> datetime:
    return instant.astimezone(zone)


# --- free/busy -------------------------------------------------------------------------------


class TimeSpan(ApiModel):
    start: datetime
    end: datetime


class BusySpan(TimeSpan):
    title: str | None = None


class CalendarBusy(ApiModel):
    calendar_id: str
    user_id: str | None
    name: str
    busy: list[BusySpan]
    unknown: list[TimeSpan]


class FreeBusyRead(ApiModel):
    time_zone: str
    start: datetime
    end: datetime
    calendars: list[CalendarBusy]
    #: Merged busy time of everything asked about.
    busy: list[TimeSpan]
    #: Time no calendar is busy and every calendar's index covers.
    free: list[TimeSpan]
    #: Time some calendar's index does not cover: neither busy nor free.
    unknown: list[TimeSpan]


def _span(interval: Interval, zone: tzinfo) -> TimeSpan:
    return TimeSpan(start=_shown(interval.start, zone), end=_shown(interval.end, zone))


async def free_busy(
    runtime: Runtime, tenant_id: str, *, user_ids: Sequence[str], calendar_ids: Sequence[str],
    window: Interval, zone: ZoneInfo,
) -> FreeBusyRead:
    if not user_ids and not calendar_ids:
        raise InvalidInput("name at least one user or calendar", field="userIds")
    async with UnitOfWork(runtime) as uow:
        if user_ids:
            await _check_users(uow, tenant_id, user_ids)
        calendars = await _calendars(uow, tenant_id, user_ids=user_ids, calendar_ids=calendar_ids)
        per_calendar = await _calendar_busy(uow, calendars, window)
        booked = [
            clipped
            for item in (await _reservation_items(uow, user_ids, window) if user_ids else [])
            if (clipped := item.interval.clip(window)) is not None
        ]
        all_busy = merge([item.interval for b in per_calendar.values() for item in b.items] + booked)
        unknown = merge(u for b in per_calendar.values() for u in b.unknown)
        return FreeBusyRead(
            time_zone=zone.key, start=_shown(window.start, zone), end=_shown(window.end, zone),
            calendars=[
                CalendarBusy(
                    calendar_id=info.row.id, user_id=info.user_id, name=info.row.name,
                    busy=[BusySpan(start=_shown(i.interval.start, zone), end=_shown(i.interval.end, zone), title=i.title)
                          for i in per_calendar[info.row.id].items],
                    unknown=[_span(u, zone) for u in per_calendar[info.row.id].unknown],
                )
                for info in calendars
            ],
            busy=[_span(i, zone) for i in all_busy],
            free=[_span(i, zone) for i in subtract(gaps(all_busy, window), unknown)],
            unknown=[_span(i, zone) for i in unknown],
        )


# --- conflicts -------------------------------------------------------------------------------


class ConflictRead(ApiModel):
    start_time: datetime
    end_time: datetime
    source: str
    title: str | None
    host_id: str | None = None
    calendar_id: str | None = None


async def conflicts(runtime: Runtime, tenant_id: str, event_type_id: str, start: date, end: date) -> list[ConflictRead]:
    """Everything of the event type's hosts that takes time out of its bookable hours.

    Dates are read in the event type's schedule zone, ``end`` inclusive. Each busy item that
    overlaps the schedule's open hours is one conflict, with its own start and end.
    """
    async with UnitOfWork(runtime) as uow:
        event_type = await load_event_type(uow, tenant_id, event_type_id)
        zone = event_type.schedule.zone
        window = parse_window(start, end, zone, names=("startDate", "endDate"))
        items, _unknown = await host_busy_items(uow, tenant_id, event_type.host_ids, window)
    open_hours = event_type.schedule.open_intervals(window)
    found = [
        item
        for host_items in items.values()
        for item in host_items
        if any(item.interval.overlaps(hours) for hours in open_hours)
    ]
    found.sort(key=lambda item: (item.interval.start, item.interval.end, item.source))
    return [
        ConflictRead(
            start_time=_shown(item.interval.start, zone), end_time=_shown(item.interval.end, zone),
            source=item.source, title=item.title, host_id=item.host_id, calendar_id=item.calendar_id,
        )
        for item in found
    ]


# --- slots -----------------------------------------------------------------------------------


class SlotRead(ApiModel):
    start: datetime
    end: datetime
    host_ids: list[str]


class SlotsRead(ApiModel):
    event_type_id: str
    time_zone: str
    slots: list[SlotRead]
    #: Parts of the window some host's calendars cannot answer for: no slots are offered there.
    unknown: list[TimeSpan]


async def _booking_counts(uow: UnitOfWork, event_type: LoadedEventType, window: Interval) -> dict[date, int]:
    zone = event_type.schedule.zone
    rows = await uow.session.scalars(
        select(models.Booking.start_at).where(
            models.Booking.event_type_id == event_type.row.id,
            models.Booking.status == "confirmed",
            models.Booking.start_at >= window.start - timedelta(days=1),
            models.Booking.start_at < window.end + timedelta(days=1),
        )
    )
    counts: dict[date, int] = defaultdict(int)
    for start_at in rows:
        counts[start_at.astimezone(zone).date()] += 1
    return counts


def _padded(window: Interval, event_type: LoadedEventType) -> Interval:
    """The window widened by what a slot in it can reach: its length and both buffers."""
    rules = event_type.rules
    return Interval(window.start - rules.buffer_before, window.end + rules.duration + rules.buffer_after)


async def compute_slots(
    uow: UnitOfWork, tenant_id: str, event_type: LoadedEventType, window: Interval, *, now: datetime,
    exclude_booking: str | None = None,
) -> tuple[list[Slot], list[Interval]]:
    """The slots of ``event_type`` in ``window`` and the time no slot can be offered for lack of data."""
    padded = _padded(window, event_type)
    items, unknown = await host_busy_items(uow, tenant_id, event_type.host_ids, padded, exclude_booking=exclude_booking)
    hosts = [
        # Unknown time counts as busy: offering it could double-book.
        HostBusy.of(host, [i.interval for i in items.get(host, [])] + unknown.get(host, []))
        for host in event_type.host_ids
    ]
    counts = await _booking_counts(uow, event_type, window)
    found = find_slots(event_type.schedule, event_type.rules, hosts, event_type.policy, window, now=now, bookings_per_day=counts)
    return found, merge(u for host in unknown.values() for u in host)


async def slots(runtime: Runtime, tenant_id: str, event_type_id: str, window: Interval, zone: ZoneInfo) -> SlotsRead:
    async with UnitOfWork(runtime) as uow:
        event_type = await load_event_type(uow, tenant_id, event_type_id)
        found, unknown = await compute_slots(uow, tenant_id, event_type, window, now=datetime.now(UTC))
    return SlotsRead(
        event_type_id=event_type_id, time_zone=zone.key,
        slots=[SlotRead(start=_shown(s.start, zone), end=_shown(s.end, zone), host_ids=list(s.host_ids)) for s in found],
        unknown=[_span(u, zone) for u in (i.clip(window) for i in unknown) if u is not None],
    )


async def count_bookings(uow: UnitOfWork, user_ids: Sequence[str]) -> dict[str, int]:
    rows = await uow.session.execute(
        select(models.HostReservation.user_id, func.count())
        .where(models.HostReservation.user_id.in_(user_ids), models.HostReservation.active.is_(True))
        .group_by(models.HostReservation.user_id)
    )
    return {user_id: int(count) for user_id, count in rows}


async def tenant_owning(runtime: Runtime, *, calendar_ids: Sequence[str] = (), event_type_id: str | None = None) -> str:
    """The one tenant the named calendars or event type belong to (for operator tools, the CLI)."""
    async with UnitOfWork(runtime) as uow:
        tenants: set[str] = set()
        if calendar_ids:
            rows = (await uow.session.execute(
                select(models.Calendar.id, models.Calendar.tenant_id).where(models.Calendar.id.in_(calendar_ids))
            )).all()
            missing = sorted(set(calendar_ids) - {row.id for row in rows})
            if missing:
                raise NotFound(f"no such calendar: {', '.join(missing)}")
            tenants |= {row.tenant_id for row in rows}
        if event_type_id:
            event_type = await uow.session.get(models.EventType, event_type_id)
            if event_type is None:
                raise NotFound(f"no such event type: {event_type_id}")
            tenants.add(event_type.tenant_id)
        if len(tenants) != 1:
            raise InvalidInput("the calendars belong to different tenants: ask about one tenant at a time")
        return tenants.pop()
