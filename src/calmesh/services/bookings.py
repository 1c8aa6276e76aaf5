"""Bookings: create, reschedule, cancel — and never two overlapping bookings for one host
(PRODUCT.md A4).

A booking is decided in two steps. First, outside any write transaction, the requested start
is checked like a slot (schedule, notice, window, daily limit, hosts' calendars and bookings);
this gives the 422 or 409 answers with their reasons. Then the hosts' reservations are written
in one transaction that the database itself keeps from overlapping:

* PostgreSQL: the ``ex_host_reservations_no_overlap`` exclusion constraint; the loser of a race
  gets an integrity error, answered as 409.
* SQLite: the transaction's first statement writes the hosts' ``host_locks`` rows, which takes
  SQLite's write lock before anything is read; concurrent bookings wait their turn (busy
  timeout) and then see each other's reservations.

Round robin ("any") picks, among the free hosts, the one booked least recently (never booked
first, then the event type's host order); "n" picks the n least recently booked free hosts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import AwareDatetime, EmailStr, Field
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from calmesh.availability.slots import HostBusy, PolicyKind, find_slots
from calmesh.domain.intervals import Interval
from calmesh.errors import InvalidInput, InvalidState, NotFound, SlotUnavailable
from calmesh.ids import new_id
from calmesh.schemas import ApiModel, Page, TimeZoneName
from calmesh.services.announcements import announce, as_data
from calmesh.services.availability import (
    BusyItem,
    booking_counts,
    compute_slots,
    host_busy_items,
)
from calmesh.services.event_types import LoadedEventType, load_event_type
from calmesh.services.pagination import paginate
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.webhooks.catalogue import EventType

__all__ = [
    "Attendee",
    "BookingCancel",
    "BookingCreate",
    "BookingRead",
    "BookingUpdate",
    "cancel_booking",
    "create_booking",
    "get_booking",
    "list_bookings",
    "update_booking",
]

UTC = timezone.utc
_INSTANT = timedelta(microseconds=1)


class Attendee(ApiModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
    time_zone: TimeZoneName = "UTC"


class BookingCreate(ApiModel):
    event_type_id: str
    start: AwareDatetime = Field(description="With its UTC offset, e.g. 2026-03-30T09:00:00+02:00.")
    attendee: Attendee
    notes: Annotated[str, Field(max_length=5000)] | None = None


class BookingUpdate(ApiModel):
    """A new start reschedules; notes may change alone. Fields not sent stay as they are."""

    start: AwareDatetime | None = None
    notes: Annotated[str, Field(max_length=5000)] | None = None


class BookingCancel(ApiModel):
    reason: Annotated[str, Field(max_length=2000)] | None = None


class BookingRead(ApiModel):
    id: str
    event_type_id: str
    status: str
    start: datetime
    end: datetime
    attendee: Attendee
    notes: str | None
    host_ids: list[str]
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    cancellation_reason: str | None


def _clash(item: BusyItem) -> dict[str, Any]:
    return {
        "startTime": item.interval.start.isoformat(), "endTime": item.interval.end.isoformat(),
        "source": item.source, "title": item.title, "hostId": item.host_id,
    }


# --- deciding -------------------------------------------------------------------------------


def _why_not_bookable(event_type: LoadedEventType, start: datetime, now: datetime, counts: dict[Any, int]) -> str:
    rules = event_type.rules
    if start < now + rules.minimum_notice:
        return f"that is too soon: this event type needs {int(rules.minimum_notice.total_seconds() // 60)} minutes' notice"
    if start >= now + rules.booking_window:
        return f"that is too far ahead: bookings open {rules.booking_window.days} days in advance"
    if rules.daily_limit is not None and counts.get(event_type.schedule.local_date(start), 0) >= rules.daily_limit:
        return f"that day is full: at most {rules.daily_limit} bookings a day"
    return "that time is outside the event type's available hours or not on its slot grid"


async def _check_start(
    uow: UnitOfWork, tenant_id: str, event_type: LoadedEventType, start: datetime, now: datetime,
    *, exclude_booking: str | None = None,
) -> tuple[str, ...]:
    """The hosts free to take a booking at ``start``; raises with the reason when there are none."""
    if not event_type.host_ids:
        raise InvalidState("this event type has no hosts")
    window = Interval(start, start + _INSTANT)
    found = await compute_slots(uow, tenant_id, event_type, window, now=now, exclude_booking=exclude_booking)
    slot = next((s for s in found if s.start == start), None)
    if slot is not None:
        return slot.host_ids
    counts = await booking_counts(uow, event_type, window)
    everyone_free = [HostBusy(host, []) for host in event_type.host_ids]
    bookable = find_slots(event_type.schedule, event_type.rules, everyone_free, event_type.policy, window,
                          now=now, bookings_per_day=counts)
    if not bookable:
        raise InvalidInput(_why_not_bookable(event_type, start, now, counts), field="start")
    blocked = event_type.rules.blocked(start)
    items, unknown = await host_busy_items(uow, tenant_id, event_type.host_ids, blocked, exclude_booking=exclude_booking)
    clashes = [_clash(i) for host in event_type.host_ids for i in items.get(host, []) if i.interval.overlaps(blocked)]
    clashes += [
        {"startTime": u.start.isoformat(), "endTime": u.end.isoformat(), "source": "unknown",
         "title": "calendar not synced that far", "hostId": host}
        for host, intervals in unknown.items() for u in intervals if u.overlaps(blocked)
    ]
    raise SlotUnavailable("the hosts are busy at that time", clashes=clashes)


async def _least_recently_booked(uow: UnitOfWork, event_type: LoadedEventType, free: Sequence[str]) -> list[str]:
    last = dict((await uow.session.execute(
        select(models.HostLock.user_id, models.HostLock.last_booked_at).where(models.HostLock.user_id.in_(free))
    )).all())
    never = datetime.min.replace(tzinfo=UTC)
    order = {host: i for i, host in enumerate(event_type.host_ids)}
    return sorted(free, key=lambda host: (last.get(host) or never, order[host]))


async def _choose_hosts(uow: UnitOfWork, event_type: LoadedEventType, free: tuple[str, ...], keep: Sequence[str] = ()) -> list[str]:
    if event_type.policy.kind is PolicyKind.ALL:
        return list(event_type.host_ids)
    needed = event_type.policy.needed(len(event_type.host_ids))
    if keep and set(keep) <= set(free) and len(keep) == needed:
        return list(keep)  # a reschedule keeps its hosts when they are free
    return (await _least_recently_booked(uow, event_type, free))[:needed]


# --- writing --------------------------------------------------------------------------------


async def _lock_hosts(uow: UnitOfWork, hosts: Sequence[str], booked_at: datetime) -> None:
    """Write the hosts' lock rows: on SQLite this must be the transaction's first statement."""
    dialect = uow.runtime.engine.dialect.name
    make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await uow.session.execute(
        make_insert(models.HostLock).values([{"user_id": h, "bookings_made": 0} for h in hosts]).on_conflict_do_nothing()
    )
    await uow.session.execute(
        update(models.HostLock)
        .where(models.HostLock.user_id.in_(hosts))
        .values(bookings_made=models.HostLock.bookings_made + 1, last_booked_at=booked_at)
    )


async def _reservation_clashes(uow: UnitOfWork, hosts: Sequence[str], blocked: Interval, exclude_booking: str | None) -> list[dict[str, Any]]:
    statement = select(models.HostReservation).where(
        models.HostReservation.user_id.in_(hosts), models.HostReservation.active.is_(True),
        models.HostReservation.blocked_start_at < blocked.end, models.HostReservation.blocked_end_at > blocked.start,
    )
    if exclude_booking:
        statement = statement.where(models.HostReservation.booking_id != exclude_booking)
    return [
        {"startTime": r.blocked_start_at.isoformat(), "endTime": r.blocked_end_at.isoformat(),
         "source": "booking", "title": "another booking", "hostId": r.user_id}
        for r in (await uow.session.scalars(statement)).all()
    ]


async def _write_reservations(
    runtime: Runtime, tenant_id: str, booking_id: str, hosts: Sequence[str], blocked: Interval,
    *, new_booking: models.Booking | None = None, changes: dict[str, Any] | None = None, now: datetime,
) -> None:
    """Reserve ``blocked`` for ``hosts`` and create (``new_booking``) or move (``changes``) the booking."""
    async with UnitOfWork(runtime) as uow:
        await _lock_hosts(uow, hosts, now)
        clashes = await _reservation_clashes(uow, hosts, blocked, None if new_booking else booking_id)
        if clashes:
            raise SlotUnavailable("another booking holds that time", clashes=clashes)
        if new_booking is not None:
            uow.session.add(new_booking)
            booking, announcement, extra = new_booking, EventType.BOOKING_CREATED, {}
        else:
            booking = await _owned(uow, tenant_id, booking_id)
            if booking.status != "confirmed":
                raise InvalidState("a cancelled booking cannot be changed")
            announcement = EventType.BOOKING_RESCHEDULED
            extra = {"previousStart": booking.start_at.isoformat(), "previousEnd": booking.end_at.isoformat()}
            for field, value in (changes or {}).items():
                setattr(booking, field, value)
            booking.version += 1
            await uow.session.execute(
                update(models.HostReservation).where(models.HostReservation.booking_id == booking_id).values(active=False)
            )
        await uow.session.flush()
        await announce(uow, tenant_id, announcement, {**as_data(_read(booking)), **extra})
        uow.session.add_all(
            models.HostReservation(
                id=new_id("rsv"), tenant_id=tenant_id, booking_id=booking_id, user_id=host,
                blocked_start_at=blocked.start, blocked_end_at=blocked.end, active=True,
            )
            for host in hosts
        )
        try:
            await uow.commit()
        except IntegrityError as exc:
            # PostgreSQL's exclusion constraint: a concurrent booking won the race.
            raise SlotUnavailable("another booking took that time just now") from exc


def _read(booking: models.Booking) -> BookingRead:
    return BookingRead(
        id=booking.id, event_type_id=booking.event_type_id, status=booking.status,
        start=booking.start_at, end=booking.end_at,
        attendee=Attendee(name=booking.attendee_name, email=booking.attendee_email, time_zone=booking.attendee_time_zone),
        notes=booking.notes, host_ids=list(booking.host_ids), created_at=booking.created_at, updated_at=booking.updated_at,
        cancelled_at=booking.cancelled_at, cancellation_reason=booking.cancellation_reason,
    )


async def _owned(uow: UnitOfWork, tenant_id: str, booking_id: str) -> models.Booking:
    booking = await uow.session.get(models.Booking, booking_id)
    if booking is None or booking.tenant_id != tenant_id:
        raise NotFound("no such booking")
    return booking


# --- use cases --------------------------------------------------------------------------------


async def create_booking(runtime: Runtime, tenant_id: str, data: BookingCreate, *, now: datetime | None = None) -> BookingRead:
    now = now or datetime.now(UTC)
    start = data.start.astimezone(UTC)
    async with UnitOfWork(runtime) as uow:
        event_type = await load_event_type(uow, tenant_id, data.event_type_id)
        free = await _check_start(uow, tenant_id, event_type, start, now)
        hosts = await _choose_hosts(uow, event_type, free)
        booking = models.Booking(
            id=new_id("bkg"), tenant_id=tenant_id, event_type_id=event_type.row.id, status="confirmed",
            start_at=start, end_at=start + event_type.rules.duration,
            attendee_name=data.attendee.name, attendee_email=str(data.attendee.email),
            attendee_time_zone=data.attendee.time_zone, notes=data.notes, host_ids=hosts, version=1,
        )
    blocked = event_type.rules.blocked(start)
    await _write_reservations(runtime, tenant_id, booking.id, hosts, blocked, new_booking=booking, now=now)
    return await get_booking(runtime, tenant_id, booking.id)


async def update_booking(
    runtime: Runtime, tenant_id: str, booking_id: str, data: BookingUpdate, *, now: datetime | None = None
) -> BookingRead:
    now = now or datetime.now(UTC)
    async with UnitOfWork(runtime) as uow:
        booking = await _owned(uow, tenant_id, booking_id)
        if booking.status != "confirmed":
            raise InvalidState("a cancelled booking cannot be changed")
        new_start = data.start.astimezone(UTC) if data.start is not None else None
        if new_start is None or new_start == booking.start_at:
            if "notes" in data.model_fields_set:
                booking.notes = data.notes
                booking.version += 1
                await uow.commit()
            return _read(booking)
        event_type = await load_event_type(uow, tenant_id, booking.event_type_id)
        free = await _check_start(uow, tenant_id, event_type, new_start, now, exclude_booking=booking.id)
        hosts = await _choose_hosts(uow, event_type, free, keep=booking.host_ids)
    changes: dict[str, Any] = {"start_at": new_start, "end_at": new_start + event_type.rules.duration, "host_ids": hosts}
    if "notes" in data.model_fields_set:
        changes["notes"] = data.notes
    await _write_reservations(
        runtime, tenant_id, booking_id, hosts, event_type.rules.blocked(new_start), changes=changes, now=now
    )
    return await get_booking(runtime, tenant_id, booking_id)


async def cancel_booking(runtime: Runtime, tenant_id: str, booking_id: str, data: BookingCancel) -> BookingRead:
    """Cancel a booking and free its hosts' time. Cancelling twice changes nothing."""
    async with UnitOfWork(runtime) as uow:
        booking = await _owned(uow, tenant_id, booking_id)
        if booking.status != "cancelled":
            booking.status, booking.cancelled_at = "cancelled", datetime.now(UTC)
            booking.cancellation_reason = data.reason
            booking.version += 1
            await uow.session.execute(
                update(models.HostReservation).where(models.HostReservation.booking_id == booking.id).values(active=False)
            )
            await uow.session.flush()
            await announce(uow, tenant_id, EventType.BOOKING_CANCELLED, as_data(_read(booking)))
            await uow.commit()
        return _read(booking)


async def get_booking(runtime: Runtime, tenant_id: str, booking_id: str) -> BookingRead:
    async with UnitOfWork(runtime) as uow:
        return _read(await _owned(uow, tenant_id, booking_id))


async def list_bookings(
    runtime: Runtime, tenant_id: str, *, event_type_id: str | None, limit: int, cursor: str | None
) -> Page[BookingRead]:
    async with UnitOfWork(runtime) as uow:
        statement = select(models.Booking).where(models.Booking.tenant_id == tenant_id)
        if event_type_id:
            statement = statement.where(models.Booking.event_type_id == event_type_id)
        page = await paginate(uow.session, statement, models.Booking.id, lambda row: row, limit=limit, cursor=cursor)
        return Page[BookingRead](data=[_read(row) for row in page.data], next_cursor=page.next_cursor)
