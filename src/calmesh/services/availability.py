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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

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
    "booking_counts",
    "compute_slots",
    "conflicts",
    "free_busy",
    "host_busy",
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


def resolve_zone(name: str, field: str = "timeZone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimeZone(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'", field=field) from None


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


def parse_instant(value: str | datetime | date, zone: tzinfo, field: str, *, end: bool = False) -> datetime:
    """One API time bound as a UTC instant: a date is its midnight in ``zone`` (an ``end`` date is
    inclusive, so the next midnight); a naive date-time is wall time in ``zone``."""
    return _as_instant(parse_when(value, field) if isinstance(value, str) else value, zone, end=end)


def parse_window(
    start: str | datetime | date, end: str | datetime | date, zone: tzinfo, *, names: tuple[str, str] = ("start", "end")
) -> Interval:
    """The half-open UTC window for API inputs: dates (``end`` inclusive) or date-times
    (``end`` exclusive; naive ones read in ``zone``)."""
    window_start = parse_instant(start, zone, names[0])
    window_end = parse_instant(end, zone, names[1], end=True)
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


# --- busy time with its sources -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BusyItem:
    """One thing that makes a host busy, for showing why (clashes, conflicts)."""

    interval: Interval
    source: str
    title: str | None
    calendar_id: str | None = None
    host_id: str | None = None
    booking_id: str | None = None


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _merge_seconds(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Canonical union of [start, end) second pairs (touching ones joined), as intervals.merge."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        elif end > start:
            merged.append((start, end))
    return merged


def _intervals(spans: Iterable[tuple[int, int]]) -> list[Interval]:
    return [Interval(_instant(start), _instant(end)) for start, end in spans]


@dataclass
class _Sources:
    """What the busy index and the bookings say about some calendars and hosts in a window."""

    calendars: list[_CalendarInfo]
    blocks: list[busy_index.IndexedBlock]
    #: Per calendar id: the part of the window its index does not cover.
    unknown: dict[str, list[Interval]]
    reservations: list[BusyItem]
    #: Per calendar id: whether its connection lets titles show.
    titles_visible: dict[str, bool] = field(default_factory=dict)

    def title(self, block: busy_index.IndexedBlock) -> str:
        if block.title is not None and self.titles_visible[block.calendar_id]:
            return block.title
        return HIDDEN_TITLE

    def blocks_by_calendar(self) -> dict[str, list[busy_index.IndexedBlock]]:
        grouped: dict[str, list[busy_index.IndexedBlock]] = defaultdict(list)
        for block in self.blocks:
            grouped[block.calendar_id].append(block)
        return grouped


async def _sources(
    uow: UnitOfWork, tenant_id: str, window: Interval, *, user_ids: Sequence[str] = (),
    calendar_ids: Sequence[str] = (), exclude_booking: str | None = None,
) -> _Sources:
    calendars = await _calendars(uow, tenant_id, user_ids=user_ids, calendar_ids=calendar_ids)
    unknown: dict[str, list[Interval]] = {}
    extended = False
    for info in calendars:
        before = (info.row.busy_indexed_from, info.row.busy_indexed_until)
        covered = await busy_index.ensure_coverage(uow, info.row, window)
        extended |= before != (info.row.busy_indexed_from, info.row.busy_indexed_until)
        unknown[info.row.id] = subtract([window], [covered])
    if extended:
        await uow.commit()
    blocks = await busy_index.blocks_in_window(uow, [info.row.id for info in calendars], window)
    reservations = await _reservation_items(uow, user_ids, window, exclude_booking=exclude_booking) if user_ids else []
    return _Sources(calendars, blocks, unknown, reservations, {i.row.id: i.titles_visible for i in calendars})


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
    """Each host's busy items (calendar events and bookings) and unknown time in ``window``."""
    found = await _sources(uow, tenant_id, window, user_ids=host_ids, exclude_booking=exclude_booking)
    owner = {info.row.id: info for info in found.calendars}
    items: dict[str, list[BusyItem]] = defaultdict(list)
    for block in found.blocks:
        info = owner[block.calendar_id]
        assert info.user_id is not None
        items[info.user_id].append(BusyItem(
            Interval(_instant(block.start), _instant(block.end)), info.row.name, found.title(block),
            calendar_id=info.row.id, host_id=info.user_id,
        ))
    for item in found.reservations:
        assert item.host_id is not None
        items[item.host_id].append(item)
    unknown: dict[str, list[Interval]] = defaultdict(list)
    for info in found.calendars:
        assert info.user_id is not None
        unknown[info.user_id] += found.unknown[info.row.id]
    return items, {host: merge(intervals) for host, intervals in unknown.items()}


async def host_busy(
    uow: UnitOfWork, tenant_id: str, host_ids: Sequence[str], window: Interval, *, exclude_booking: str | None = None
) -> dict[str, list[Interval]]:
    """Each host's merged busy time in ``window``, unknown time counted as busy.

    The slot finder's input: merged in whole seconds first, so tens of thousands of blocks
    become a few hundred intervals before any object is made.
    """
    found = await _sources(uow, tenant_id, window, user_ids=host_ids, exclude_booking=exclude_booking)
    owner = {info.row.id: info.user_id for info in found.calendars}
    seconds: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for block in found.blocks:
        host = owner[block.calendar_id]
        assert host is not None
        seconds[host].append((block.start, block.end))
    for item in found.reservations:
        assert item.host_id is not None
        seconds[item.host_id].append((busy_index.epoch(item.interval.start), busy_index.epoch(item.interval.end)))
    for info in found.calendars:
        assert info.user_id is not None
        # Offering time nobody can vouch for could double-book: unknown counts as busy.
        seconds[info.user_id] += [(busy_index.epoch(u.start), busy_index.epoch(u.end)) for u in found.unknown[info.row.id]]
    return {host: _intervals(_merge_seconds(seconds.get(host, []))) for host in host_ids}


def _shown(instant: datetime, zone: tzinfo) -> datetime:
    return instant.astimezone(zone)


# --- free/busy -------------------------------------------------------------------------------


class TimeSpan(ApiModel):
    start: datetime
    end: datetime


class BusySpan(TimeSpan):
    #: What makes this stretch busy, where privacy allows ("Busy" where it does not).
    titles: list[str]


class CalendarBusy(ApiModel):
    calendar_id: str
    user_id: str | None
    name: str
    #: The calendar's own busy time, overlapping events merged.
    busy: list[BusySpan]
    unknown: list[TimeSpan]


class FreeBusyRead(ApiModel):
    time_zone: str
    start: datetime
    end: datetime
    calendars: list[CalendarBusy]
    #: Merged busy time of everything asked about, bookings of the users included.
    busy: list[TimeSpan]
    #: Time no calendar is busy and every calendar's index covers.
    free: list[TimeSpan]
    #: Time some calendar's index does not cover: neither busy nor free.
    unknown: list[TimeSpan]


# Answers are built from values this module computed itself, already typed and checked, so
# they skip pydantic's validation: a busy month of fifty calendars is thousands of spans.


def _span(interval: Interval, zone: tzinfo) -> TimeSpan:
    return TimeSpan.model_construct(start=interval.start.astimezone(zone), end=interval.end.astimezone(zone))


def _calendar_spans(found: _Sources, blocks: list[busy_index.IndexedBlock], zone: tzinfo) -> list[BusySpan]:
    """One calendar's blocks (sorted by start) merged, each stretch with its titles."""
    if not blocks:
        return []
    visible = found.titles_visible[blocks[0].calendar_id]
    stretches: list[tuple[int, int, dict[str, None]]] = []
    start, end = blocks[0].start, blocks[0].end
    titles: dict[str, None] = {}
    for block in blocks:
        if block.start > end:
            stretches.append((start, end, titles))
            start, end, titles = block.start, block.end, {}
        elif block.end > end:
            end = block.end
        titles[block.title if visible and block.title is not None else HIDDEN_TITLE] = None
    stretches.append((start, end, titles))
    return [
        BusySpan.model_construct(
            start=datetime.fromtimestamp(first, zone), end=datetime.fromtimestamp(last, zone), titles=list(names)
        )
        for first, last, names in stretches
    ]


async def free_busy(
    runtime: Runtime, tenant_id: str, *, user_ids: Sequence[str], calendar_ids: Sequence[str],
    window: Interval, zone: ZoneInfo,
) -> FreeBusyRead:
    if not user_ids and not calendar_ids:
        raise InvalidInput("name at least one user or calendar", field="userIds")
    async with UnitOfWork(runtime) as uow:
        if user_ids:
            await _check_users(uow, tenant_id, user_ids)
        found = await _sources(uow, tenant_id, window, user_ids=user_ids, calendar_ids=calendar_ids)
        booked = [(busy_index.epoch(c.start), busy_index.epoch(c.end))
                  for item in found.reservations if (c := item.interval.clip(window)) is not None]
        all_busy = _intervals(_merge_seconds([(b.start, b.end) for b in found.blocks] + booked))
        unknown = merge(u for intervals in found.unknown.values() for u in intervals)
        by_calendar = found.blocks_by_calendar()
        return FreeBusyRead(
            time_zone=zone.key, start=_shown(window.start, zone), end=_shown(window.end, zone),
            calendars=[
                CalendarBusy(
                    calendar_id=info.row.id, user_id=info.user_id, name=info.row.name,
                    busy=_calendar_spans(found, by_calendar.get(info.row.id, []), zone),
                    unknown=[_span(u, zone) for u in found.unknown[info.row.id]],
                )
                for info in found.calendars
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
    #: Time some host's calendars cannot vouch for (beyond the busy index) offers no slots.
    slots: list[SlotRead]


async def booking_counts(uow: UnitOfWork, event_type: LoadedEventType, window: Interval) -> dict[date, int]:
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
) -> list[Slot]:
    """The slots of ``event_type`` in ``window`` (time no calendar vouches for is never offered)."""
    busy = await host_busy(uow, tenant_id, event_type.host_ids, _padded(window, event_type), exclude_booking=exclude_booking)
    hosts = [HostBusy(host, busy[host]) for host in event_type.host_ids]
    counts = await booking_counts(uow, event_type, window)
    return find_slots(event_type.schedule, event_type.rules, hosts, event_type.policy, window, now=now, bookings_per_day=counts)


async def slots(runtime: Runtime, tenant_id: str, event_type_id: str, window: Interval, zone: ZoneInfo) -> SlotsRead:
    async with UnitOfWork(runtime) as uow:
        event_type = await load_event_type(uow, tenant_id, event_type_id)
        found = await compute_slots(uow, tenant_id, event_type, window, now=datetime.now(UTC))
    return SlotsRead(
        event_type_id=event_type_id, time_zone=zone.key,
        slots=[SlotRead(start=_shown(s.start, zone), end=_shown(s.end, zone), host_ids=list(s.host_ids)) for s in found],
    )


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
