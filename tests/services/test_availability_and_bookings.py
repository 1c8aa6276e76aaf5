"""Availability from the busy index, and bookings the database keeps from overlapping —
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from calmesh.domain.intervals import Interval
from calmesh.errors import InvalidInput, SlotUnavailable
from calmesh.ids import new_id
from calmesh.services import availability, bookings, event_types
from calmesh.services.bookings import Attendee, BookingCreate
from calmesh.services.event_types import EventTypeCreate
from calmesh.services.mirror import MirrorKey, delete_event
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from tests.mirror_helpers import make_calendar, make_tenant, make_user, put_events

UTC = timezone.utc
NOW = datetime.now(UTC)
MONDAY = (NOW + timedelta(days=14 - NOW.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


def ics_time(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


def week() -> Interval:
    return Interval(MONDAY, MONDAY + timedelta(days=7))


async def free_busy(runtime: Runtime, tenant_id: str, user_ids: list[str], window: Interval) -> availability.FreeBusyRead:
    return await availability.free_busy(runtime, tenant_id, user_ids=user_ids, calendar_ids=[], window=window, zone=ZoneInfo("UTC"))


def spans(items: list) -> list[tuple[datetime, datetime]]:  # type: ignore[type-arg]
    return [(i.start, i.end) for i in items]


async def test_busy_time_comes_from_series_overrides_and_skips_what_does_not_block(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    alice = await make_user(runtime, tenant, "alice@example.com")
    calendar = await make_calendar(runtime, tenant, alice, account_email="alice@example.com")
    await put_events(
        runtime, tenant, calendar,
        # Daily standup 09:00-09:30; Tuesday's moved to 11:00, Wednesday's cancelled.
        f"UID:standup\nSUMMARY:Standup\nDTSTART:{ics_time(at(9))}\nDTEND:{ics_time(at(9, 30))}\nRRULE:FREQ=DAILY;COUNT=5",
        f"UID:standup\nRECURRENCE-ID:{ics_time(at(9, day=1))}\nSUMMARY:Standup (moved)\nDTSTART:{ics_time(at(11, day=1))}\nDTEND:{ics_time(at(11, 30, day=1))}",
        f"UID:standup\nRECURRENCE-ID:{ics_time(at(9, day=2))}\nSTATUS:CANCELLED\nDTSTART:{ics_time(at(9, day=2))}\nDTEND:{ics_time(at(9, 30, day=2))}",
        f"UID:lunch\nSUMMARY:Lunch\nTRANSP:TRANSPARENT\nDTSTART:{ics_time(at(12))}\nDTEND:{ics_time(at(13))}",
        f"UID:declined\nSUMMARY:Optional\nDTSTART:{ics_time(at(15))}\nDTEND:{ics_time(at(16))}\nATTENDEE;PARTSTAT=DECLINED:mailto:Alice@Example.com",
        f"UID:offsite\nSUMMARY:Offsite\nDTSTART;VALUE=DATE:{at(0, day=4).strftime('%Y%m%d')}\nDTEND;VALUE=DATE:{at(0, day=5).strftime('%Y%m%d')}",
    )
    answer = await free_busy(runtime, tenant, [alice], week())
    assert spans(answer.busy) == [
        (at(9), at(9, 30)), (at(11, day=1), at(11, 30, day=1)), (at(9, day=3), at(9, 30, day=3)),
        (at(0, day=4), at(0, day=5)),
    ]
    assert [b.titles for b in answer.calendars[0].busy][:2] == [["Standup"], ["Standup (moved)"]]
    assert answer.unknown == [] and answer.free[0].start == MONDAY


async def test_changing_one_event_recomputes_only_its_series(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    alice = await make_user(runtime, tenant, "alice@example.com")
    calendar = await make_calendar(runtime, tenant, alice)
    await put_events(
        runtime, tenant, calendar,
        f"UID:a\nDTSTART:{ics_time(at(9))}\nDTEND:{ics_time(at(10))}\nRRULE:FREQ=DAILY;COUNT=3",
        f"UID:b\nDTSTART:{ics_time(at(14))}\nDTEND:{ics_time(at(15))}",
    )
    async with UnitOfWork(runtime) as uow:
        before = {(b.ical_uid, b.id, b.start_ts) for b in (await uow.session.scalars(select(models.BusyBlock))).all()}
    await put_events(runtime, tenant, calendar, f"UID:b\nDTSTART:{ics_time(at(16))}\nDTEND:{ics_time(at(17))}")
    async with UnitOfWork(runtime) as uow:
        after = {(b.ical_uid, b.id, b.start_ts) for b in (await uow.session.scalars(select(models.BusyBlock))).all()}
        await delete_event(uow, tenant, MirrorKey(calendar, "a", None))
        await uow.commit()
    assert {x for x in before if x[0] == "a"} <= after  # series a untouched: the same rows
    assert [x[2] for x in after if x[0] == "b"] == [int(at(16).timestamp())]  # series b recomputed
    answer = await free_busy(runtime, tenant, [alice], week())
    assert spans(answer.busy) == [(at(16), at(17))]


async def test_a_question_beyond_the_index_says_unknown_instead_of_free(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    alice = await make_user(runtime, tenant, "alice@example.com")
    await make_calendar(runtime, tenant, alice)
    far = NOW + timedelta(days=6 * 366)
    answer = await free_busy(runtime, tenant, [alice], Interval(far, far + timedelta(days=1)))
    assert spans(answer.unknown) == [(far, far + timedelta(days=1))] and answer.free == []
    # Within the horizon the index is extended on demand and answers.
    later = NOW + timedelta(days=3 * 366)
    assert (await free_busy(runtime, tenant, [alice], Interval(later, later + timedelta(days=1)))).unknown == []


async def _event_type(runtime: Runtime, tenant: str, hosts: list[str], **more: object) -> str:
    data = EventTypeCreate.model_validate({
        "title": "Intro call", "durationMinutes": 30, "hosts": hosts, "bookingWindowDays": 60,
        "schedule": {"timeZone": "UTC", "weeklyHours": {d: [{"start": "00:00", "end": "24:00"}] for d in
                     ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}},
        **more,
    })
    return (await event_types.create_event_type(runtime, tenant, data)).id


def booking(event_type_id: str, start: datetime, name: str = "Ann") -> BookingCreate:
    return BookingCreate(event_type_id=event_type_id, start=start, attendee=Attendee(name=name, email="ann@example.com"))


async def test_fifty_concurrent_overlapping_bookings_for_one_host_exactly_one_wins(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    host = await make_user(runtime, tenant, "host@example.com")
    event_type = await _event_type(runtime, tenant, [host], slotIntervalMinutes=5)
    # Fifty different starts, all within 25 minutes of each other: every pair overlaps.
    requests = [booking(event_type, at(10) + timedelta(minutes=5 * (i % 5)), name=f"guest {i}") for i in range(50)]
    results = await asyncio.gather(*(bookings.create_booking(runtime, tenant, r) for r in requests), return_exceptions=True)
    won = [r for r in results if isinstance(r, bookings.BookingRead)]
    lost = [r for r in results if isinstance(r, SlotUnavailable)]
    assert len(won) == 1 and len(lost) == 49, [r for r in results if not isinstance(r, (bookings.BookingRead, SlotUnavailable))]
    async with UnitOfWork(runtime) as uow:
        active = (await uow.session.scalars(select(models.HostReservation).where(models.HostReservation.active.is_(True)))).all()
    assert len(active) == 1


@pytest.mark.postgres
async def test_postgres_refuses_overlapping_reservations_even_without_the_service(postgres_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from calmesh.services.runtime import build_runtime
    from tests.conftest import make_settings

    runtime = build_runtime(make_settings(postgres_url, tmp_path))
    try:
        tenant = await make_tenant(runtime)
        host = await make_user(runtime, tenant, "host@example.com")
        event_type = await _event_type(runtime, tenant, [host])
        first = await bookings.create_booking(runtime, tenant, booking(event_type, at(10)))
        async with UnitOfWork(runtime) as uow:
            other = models.Booking(
                id=new_id("bkg"), tenant_id=tenant, event_type_id=event_type, start_at=at(10, 15), end_at=at(10, 45),
                attendee_name="x", attendee_email="x@example.com", attendee_time_zone="UTC", host_ids=[host],
            )
            uow.session.add(other)
            await uow.session.flush()
            uow.session.add(models.HostReservation(
                id=new_id("rsv"), tenant_id=tenant, booking_id=other.id, user_id=host,
                blocked_start_at=at(10, 15), blocked_end_at=at(10, 45), active=True,
            ))
            with pytest.raises(IntegrityError, match="ex_host_reservations_no_overlap"):
                await uow.commit()
        assert first.status == "confirmed"
    finally:
        await runtime.close()


async def test_bookings_block_buffers_reschedule_and_cancel(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    host = await make_user(runtime, tenant, "host@example.com")
    calendar = await make_calendar(runtime, tenant, host)
    await put_events(runtime, tenant, calendar, f"UID:focus\nSUMMARY:Focus\nDTSTART:{ics_time(at(14))}\nDTEND:{ics_time(at(15))}")
    event_type = await _event_type(runtime, tenant, [host], bufferBeforeMinutes=10, bufferAfterMinutes=10)

    with pytest.raises(SlotUnavailable) as clash:
        await bookings.create_booking(runtime, tenant, booking(event_type, at(15)))  # its before-buffer hits Focus
    assert clash.value.clashes[0]["title"] == "Focus" and clash.value.clashes[0]["source"] == "Work"

    made = await bookings.create_booking(runtime, tenant, booking(event_type, at(10)))
    with pytest.raises(SlotUnavailable):
        await bookings.create_booking(runtime, tenant, booking(event_type, at(10, 30)))  # buffers touch
    moved = await bookings.update_booking(runtime, tenant, made.id, bookings.BookingUpdate(start=at(11)))
    assert (moved.start, moved.end) == (at(11), at(11, 30))
    assert (await bookings.create_booking(runtime, tenant, booking(event_type, at(10)))).status == "confirmed"

    with pytest.raises(InvalidInput, match="slot grid|available hours"):
        await bookings.create_booking(runtime, tenant, booking(event_type, at(12, 7)))
    with pytest.raises(InvalidInput, match="too soon"):
        await bookings.create_booking(runtime, tenant, booking(event_type, NOW.replace(second=0, microsecond=0) - timedelta(hours=1)))

    cancelled = await bookings.cancel_booking(runtime, tenant, moved.id, bookings.BookingCancel(reason="ill"))
    assert cancelled.status == "cancelled" and cancelled.cancellation_reason == "ill"
    assert (await bookings.create_booking(runtime, tenant, booking(event_type, at(11)))).status == "confirmed"


async def test_round_robin_goes_to_the_free_host_booked_least_recently(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    a, b = await make_user(runtime, tenant, "a@example.com"), await make_user(runtime, tenant, "b@example.com")
    event_type = await _event_type(runtime, tenant, [a, b], hostPolicy="any")
    first = await bookings.create_booking(runtime, tenant, booking(event_type, at(9)))
    second = await bookings.create_booking(runtime, tenant, booking(event_type, at(10)))
    third = await bookings.create_booking(runtime, tenant, booking(event_type, at(11)))
    assert [first.host_ids, second.host_ids, third.host_ids] == [[a], [b], [a]]
    # Same slot again: only b is free, so b gets it although a is "due".
    also_nine = await bookings.create_booking(runtime, tenant, booking(event_type, at(9)))
    assert also_nine.host_ids == [b]
    with pytest.raises(SlotUnavailable):
        await bookings.create_booking(runtime, tenant, booking(event_type, at(9)))


async def test_bookings_announce_created_rescheduled_and_cancelled_with_the_change(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    host = await make_user(runtime, tenant, "host@example.com")
    event_type = await _event_type(runtime, tenant, [host])
    made = await bookings.create_booking(runtime, tenant, booking(event_type, at(10)))
    with pytest.raises(SlotUnavailable):  # refused: nothing happened, nothing announced
        await bookings.create_booking(runtime, tenant, booking(event_type, at(10)))
    await bookings.update_booking(runtime, tenant, made.id, bookings.BookingUpdate(notes="bring slides"))  # not a reschedule
    await bookings.update_booking(runtime, tenant, made.id, bookings.BookingUpdate(start=at(11)))
    await bookings.cancel_booking(runtime, tenant, made.id, bookings.BookingCancel(reason="ill"))
    await bookings.cancel_booking(runtime, tenant, made.id, bookings.BookingCancel(reason="ill"))  # twice: once

    async with UnitOfWork(runtime) as uow:
        rows = [
            (r.type, r.data, r.tenant_id)
            for r in (await uow.session.scalars(select(models.WebhookEvent).order_by(models.WebhookEvent.id))).all()
        ]
    assert [kind for kind, _, _ in rows] == ["booking.created", "booking.rescheduled", "booking.cancelled"]
    created, rescheduled, cancelled = (data for _, data, _ in rows)
    assert created["id"] == made.id and created["status"] == "confirmed" and created["hostIds"] == [host]
    assert datetime.fromisoformat(rescheduled["start"]) == at(11)
    assert datetime.fromisoformat(rescheduled["previousStart"]) == at(10)
    assert cancelled["status"] == "cancelled" and cancelled["cancellationReason"] == "ill"
    assert all(owner == tenant for _, _, owner in rows)
