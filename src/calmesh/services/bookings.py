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

Seats: an event type with ``seatsPerSlot`` above one lets that many bookings share a slot. The
first holds the hosts' reservations; the others join it and share its meeting link. When the
holder leaves (cancelled, moved), its reservations pass to a booking still in the slot.

The meeting link and the organizer's calendar event (:mod:`calmesh.services.booking_links`)
follow each change as seed 004 says (PRODUCT.md M4):

* a new booking gets a new link — or, joining a slot another booking holds, that one's;
* a change that keeps the date and time keeps the link;
* a reschedule gets a new link, unless it joins a slot another booking holds (its link is
  reused); the old meeting is deleted unless another booking still uses it;
* a cancellation deletes the meeting unless another booking still uses it.

The link is made before the booking is written (an error there is the booking's error, and
nothing is written); if writing the booking then fails, the new meeting and calendar event are
taken back. ``booking.created`` and ``booking.rescheduled`` carry the link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
from calmesh.services import booking_links
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


class BookingConference(ApiModel):
    """How to join the booking's meeting."""

    service: str = Field(description="ZOOM, GOOGLE_MEET, or the service a custom link belongs to (WEBEX…, CUSTOM).")
    join_url: str | None = None
    meeting_id: str | None = None
    passcode: str | None = None
    dial_ins: list[str] = []


class BookingRead(ApiModel):
    id: str
    event_type_id: str
    status: str
    start: datetime
    end: datetime
    attendee: Attendee
    notes: str | None
    host_ids: list[str]
    conference: BookingConference | None = None
    #: The event in the organizing host's calendar (``/v1/events/{id}``), when they have one.
    calendar_event_id: str | None = None
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


async def _slot_sharers(
    uow: UnitOfWork, event_type_id: str, start: datetime, *, besides: str | None = None
) -> list[models.Booking]:
    """The confirmed bookings of the event type in the slot starting at ``start``, oldest first."""
    statement = select(models.Booking).where(
        models.Booking.event_type_id == event_type_id, models.Booking.start_at == start, models.Booking.status == "confirmed",
    )
    if besides is not None:
        statement = statement.where(models.Booking.id != besides)
    return list((await uow.session.scalars(statement.order_by(models.Booking.created_at, models.Booking.id))).all())


async def _seat_in(uow: UnitOfWork, event_type: LoadedEventType, start: datetime, besides: str | None = None) -> models.Booking | None:
    """The booking whose slot a new booking at ``start`` joins (seats), or None for a slot of its own."""
    seats = event_type.row.seats_per_slot
    if seats <= 1:
        return None
    sharers = await _slot_sharers(uow, event_type.row.id, start, besides=besides)
    if len(sharers) >= seats:
        raise SlotUnavailable(f"every seat of that slot is taken ({seats} bookings)")
    return sharers[0] if sharers else None


async def _leave_slot(uow: UnitOfWork, booking: models.Booking) -> None:
    """The booking stops taking its hosts' time; a booking still in its slot (seats) takes over
    its reservations."""
    stays = await _slot_sharers(uow, booking.event_type_id, booking.start_at, besides=booking.id)
    reservations = update(models.HostReservation).where(
        models.HostReservation.booking_id == booking.id, models.HostReservation.active.is_(True)
    )
    if stays:
        await uow.session.execute(reservations.values(booking_id=stays[0].id))
    else:
        await uow.session.execute(reservations.values(active=False))


async def _write_booking(
    runtime: Runtime, tenant_id: str, booking_id: str, hosts: Sequence[str], blocked: Interval, *,
    joins: str | None, seats: int, new_booking: models.Booking | None = None, changes: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    """Create (``new_booking``) or move (``changes``) the booking in one transaction, reserving
    ``blocked`` for ``hosts`` — or, when it ``joins`` another booking's slot, taking a seat there."""
    async with UnitOfWork(runtime) as uow:
        await _lock_hosts(uow, hosts, now)
        if joins is not None:
            holder = await uow.session.get(models.Booking, joins)
            if holder is None or holder.status != "confirmed":
                raise SlotUnavailable("the booking that held that slot was just cancelled: ask for the slot again")
            if len(await _slot_sharers(uow, holder.event_type_id, holder.start_at, besides=booking_id)) >= seats:
                raise SlotUnavailable(f"every seat of that slot is taken ({seats} bookings)")
        else:
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
            await _leave_slot(uow, booking)
            for field, value in (changes or {}).items():
                setattr(booking, field, value)
            booking.version += 1
        await uow.session.flush()
        await announce(uow, tenant_id, announcement, {**as_data(_read(booking)), **extra})
        if joins is None:
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
        notes=booking.notes, host_ids=list(booking.host_ids),
        conference=BookingConference.model_validate(booking.conference) if booking.conference else None,
        calendar_event_id=booking.calendar_event_id, created_at=booking.created_at, updated_at=booking.updated_at,
        cancelled_at=booking.cancelled_at, cancellation_reason=booking.cancellation_reason,
    )


async def _owned(uow: UnitOfWork, tenant_id: str, booking_id: str) -> models.Booking:
    booking = await uow.session.get(models.Booking, booking_id)
    if booking is None or booking.tenant_id != tenant_id:
        raise NotFound("no such booking")
    return booking


# --- use cases --------------------------------------------------------------------------------


def _title(event_type_title: str, attendee_name: str) -> str:
    return f"{event_type_title} with {attendee_name}"


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a booking at a start goes: its hosts, and the booking whose slot (and link) it
    joins when seats are shared."""

    hosts: list[str]
    joins: str | None
    shared: booking_links.BookingLink | None


async def _place(
    uow: UnitOfWork, tenant_id: str, event_type: LoadedEventType, start: datetime, now: datetime,
    *, moving: models.Booking | None = None,
) -> _Placement:
    holder = await _seat_in(uow, event_type, start, besides=moving.id if moving else None)
    if holder is not None:
        return _Placement(list(holder.host_ids), holder.id, booking_links.BookingLink(holder.conference, holder.meeting_id))
    free = await _check_start(uow, tenant_id, event_type, start, now, exclude_booking=moving.id if moving else None)
    return _Placement(await _choose_hosts(uow, event_type, free, keep=moving.host_ids if moving else ()), None, None)


async def create_booking(runtime: Runtime, tenant_id: str, data: BookingCreate, *, now: datetime | None = None) -> BookingRead:
    now = now or datetime.now(UTC)
    start = data.start.astimezone(UTC)
    async with UnitOfWork(runtime) as uow:
        event_type = await load_event_type(uow, tenant_id, data.event_type_id)
        placement = await _place(uow, tenant_id, event_type, start, now)
        hosts = placement.hosts
        participants = await booking_links.participants_of(uow, tenant_id, hosts, str(data.attendee.email), data.attendee.name)
        title, agenda = _title(event_type.row.title, data.attendee.name), event_type.row.description
        seats, event_type_id = event_type.row.seats_per_slot, event_type.row.id
    end = start + event_type.rules.duration
    booking_id = new_id("bkg")
    link = placement.shared or await booking_links.conference_link(
        runtime, tenant_id, event_type.location, participants, start, end, topic=title, agenda=agenda
    )
    calendar_event_id: str | None = None
    try:
        calendar_event_id, link = await booking_links.write_calendar_event(
            runtime, tenant_id, participants, link, title=title, start=start, end=end, notes=data.notes, event_id=None
        )
        booking = models.Booking(
            id=booking_id, tenant_id=tenant_id, event_type_id=event_type_id, status="confirmed",
            start_at=start, end_at=end, attendee_name=data.attendee.name, attendee_email=str(data.attendee.email),
            attendee_time_zone=data.attendee.time_zone, notes=data.notes, host_ids=hosts, version=1,
            conference=link.conference, meeting_id=link.meeting_id, calendar_event_id=calendar_event_id,
        )
        await _write_booking(
            runtime, tenant_id, booking_id, hosts, event_type.rules.blocked(start),
            joins=placement.joins, seats=seats, new_booking=booking, now=now,
        )
    except Exception:
        # Nothing of a booking that was not written stays behind: its event, its new meeting.
        await booking_links.remove_calendar_event(runtime, tenant_id, calendar_event_id)
        await booking_links.release_meeting(runtime, tenant_id, link.meeting_id, booking_id=booking_id)
        raise
    return await get_booking(runtime, tenant_id, booking_id)


async def update_booking(
    runtime: Runtime, tenant_id: str, booking_id: str, data: BookingUpdate, *, now: datetime | None = None
) -> BookingRead:
    now = now or datetime.now(UTC)
    async with UnitOfWork(runtime) as uow:
        booking = await _owned(uow, tenant_id, booking_id)
        if booking.status != "confirmed":
            raise InvalidState("a cancelled booking cannot be changed")
        event_type = await load_event_type(uow, tenant_id, booking.event_type_id)
        title, agenda = _title(event_type.row.title, booking.attendee_name), event_type.row.description
        seats = event_type.row.seats_per_slot
        before = _read(booking)
        new_start = data.start.astimezone(UTC) if data.start is not None else None
        if new_start == booking.start_at:
            new_start = None
        if new_start is not None:
            placement = await _place(uow, tenant_id, event_type, new_start, now, moving=booking)
            hosts = placement.hosts
            participants = await booking_links.participants_of(
                uow, tenant_id, hosts, booking.attendee_email, booking.attendee_name
            )
            old_meeting_id = booking.meeting_id
    if new_start is None:
        # Same date and time: the link stays; only the notes may change.
        return await _change_notes(runtime, tenant_id, before, data, title=title)
    new_end = new_start + event_type.rules.duration
    link = placement.shared or await booking_links.conference_link(
        runtime, tenant_id, event_type.location, participants, new_start, new_end, topic=title, agenda=agenda
    )
    if placement.shared is None and link.conference == {"service": "GOOGLE_MEET"} and before.host_ids[:1] == hosts[:1]:
        # Google keeps the Meet link with the event it moves.
        kept = before.conference.model_dump(mode="json", by_alias=True) if before.conference else None
        link = booking_links.BookingLink(kept, None)
    notes = data.notes if "notes" in data.model_fields_set else before.notes
    changes: dict[str, Any] = {
        "start_at": new_start, "end_at": new_end, "host_ids": hosts, "notes": notes,
        "conference": link.conference, "meeting_id": link.meeting_id,
    }
    try:
        await _write_booking(
            runtime, tenant_id, booking_id, hosts, event_type.rules.blocked(new_start),
            joins=placement.joins, seats=seats, changes=changes, now=now,
        )
    except Exception:
        if link.meeting_id != old_meeting_id:
            await booking_links.release_meeting(runtime, tenant_id, link.meeting_id, booking_id=booking_id)
        raise
    if old_meeting_id != link.meeting_id:
        await booking_links.release_meeting(runtime, tenant_id, old_meeting_id, booking_id=booking_id)
    await _follow_in_calendar(
        runtime, tenant_id, booking_id, before, participants, link, title=title, start=new_start, end=new_end, notes=notes
    )
    return await get_booking(runtime, tenant_id, booking_id)


async def _change_notes(runtime: Runtime, tenant_id: str, before: BookingRead, data: BookingUpdate, *, title: str) -> BookingRead:
    if "notes" not in data.model_fields_set or data.notes == before.notes:
        return before
    async with UnitOfWork(runtime) as uow:
        booking = await _owned(uow, tenant_id, before.id)
        booking.notes = data.notes
        booking.version += 1
        participants = await booking_links.participants_of(
            uow, tenant_id, list(booking.host_ids), booking.attendee_email, booking.attendee_name
        )
        kept = booking_links.BookingLink(booking.conference, booking.meeting_id)
        await uow.commit()
    await booking_links.write_calendar_event(
        runtime, tenant_id, participants, kept, title=title, start=before.start, end=before.end,
        notes=data.notes, event_id=before.calendar_event_id,
    )
    return await get_booking(runtime, tenant_id, before.id)


async def _follow_in_calendar(
    runtime: Runtime, tenant_id: str, booking_id: str, before: BookingRead, participants: booking_links.Participants,
    link: booking_links.BookingLink, *, title: str, start: datetime, end: datetime, notes: str | None,
) -> None:
    """Move the booking's calendar event (a new organizer: a new event in their calendar)."""
    event_id = before.calendar_event_id
    if before.host_ids[:1] != [participants.organizer_id]:
        await booking_links.remove_calendar_event(runtime, tenant_id, event_id)
        event_id = None
    event_id, link = await booking_links.write_calendar_event(
        runtime, tenant_id, participants, link, title=title, start=start, end=end, notes=notes, event_id=event_id
    )
    async with UnitOfWork(runtime) as uow:
        booking = await _owned(uow, tenant_id, booking_id)
        if (booking.calendar_event_id, booking.conference) != (event_id, link.conference):
            booking.calendar_event_id, booking.conference = event_id, link.conference
            await uow.commit()


async def cancel_booking(runtime: Runtime, tenant_id: str, booking_id: str, data: BookingCancel) -> BookingRead:
    """Cancel a booking, free its hosts' time, delete its calendar event and — unless another
    booking still uses it — its meeting. Cancelling twice changes nothing."""
    async with UnitOfWork(runtime) as uow:
        booking = await _owned(uow, tenant_id, booking_id)
        if booking.status == "cancelled":
            return _read(booking)
        await _leave_slot(uow, booking)
        booking.status, booking.cancelled_at = "cancelled", datetime.now(UTC)
        booking.cancellation_reason = data.reason
        booking.version += 1
        await uow.session.flush()
        cancelled = _read(booking)
        await announce(uow, tenant_id, EventType.BOOKING_CANCELLED, as_data(cancelled))
        meeting_id = booking.meeting_id
        await uow.commit()
    await booking_links.release_meeting(runtime, tenant_id, meeting_id, booking_id=booking_id)
    await booking_links.remove_calendar_event(runtime, tenant_id, cancelled.calendar_event_id)
    return cancelled


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
