"""The busy index: each calendar's busy time, materialised from the mirror (PRODUCT.md A1).

Availability answers read ``busy_blocks`` instead of expanding recurrences on every question.
Each calendar records the window its index covers (``busy_indexed_from``/``until``): by
default from 30 days back to 18 months ahead, extended on demand up to
:data:`MAX_HORIZON` ahead. Time outside the covered window is *unknown*, and answers say so
rather than calling it free.

A block never spans more than :data:`MAX_BLOCK` (longer busy time is stored in pieces), so a
window query can use the (calendar, start) index with a bounded look-back; merging at query
time joins the pieces again. Blocks are whole UTC epoch seconds (see
:class:`calmesh.storage.models.BusyBlock`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, NamedTuple

from sqlalchemy import delete, select

from calmesh.availability.busy import busy_intervals
from calmesh.domain.events import Event, Visibility
from calmesh.domain.intervals import Interval
from calmesh.domain.recurrence import expand_events
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.database import insert_many
from calmesh.storage.event_rows import event_from_row, zone_named

__all__ = [
    "DEFAULT_HORIZON",
    "MAX_BLOCK",
    "MAX_HORIZON",
    "IndexedBlock",
    "blocks_in_window",
    "epoch",
    "ensure_coverage",
    "reindex_calendar",
    "reindex_series",
]

UTC = timezone.utc
DEFAULT_PAST = timedelta(days=30)
DEFAULT_HORIZON = timedelta(days=548)  # about 18 months
MAX_HORIZON = timedelta(days=5 * 366)
MAX_BLOCK = timedelta(days=1)


def _now() -> datetime:
    return datetime.now(UTC)


def epoch(instant: datetime) -> int:
    return int(instant.timestamp())


class IndexedBlock(NamedTuple):
    """A busy block of a calendar, clipped to the window asked about, in epoch seconds."""

    calendar_id: str
    start: int
    end: int
    #: The event's summary; None when the event is private or confidential.
    title: str | None


async def _owner(uow: UnitOfWork, calendar: models.Calendar) -> tuple[str | None, tzinfo]:
    """Whose declines count on this calendar, and the zone their all-day events are read in."""
    connection = await uow.session.get(models.Connection, calendar.connection_id)
    user = await uow.session.get(models.User, connection.user_id) if connection and connection.user_id else None
    email = (connection.account_email if connection else None) or (user.email if user else None)
    return email, zone_named(calendar.time_zone or (user.time_zone if user else None))


def _pieces(interval: Interval) -> Iterable[tuple[int, int]]:
    # Whole seconds, rounded outwards: a block never claims less than the event takes.
    start, last = int(interval.start.timestamp()), -int(-interval.end.timestamp() // 1)
    step = int(MAX_BLOCK.total_seconds())
    while start < last:
        yield start, min(start + step, last)
        start += step


#: Events with the id of the mirror row describing each: (row id, event).
Described = Sequence[tuple[str, Event]]


def _described(rows: Sequence[models.Event]) -> Described:
    return [(row.id, event_from_row(row)) for row in rows]


async def _index(uow: UnitOfWork, calendar: models.Calendar, described: Described) -> None:
    assert calendar.busy_indexed_from is not None and calendar.busy_indexed_until is not None
    owner, zone = await _owner(uow, calendar)
    events = [event for _, event in described]
    row_of = {id(event): row_id for row_id, event in described}
    skipped: list[str] = []
    occurrences = expand_events(
        events, calendar.busy_indexed_from, calendar.busy_indexed_until, local_zone=zone,
        # A series whose RRULE cannot be read must not take the calendar's other busy time with it.
        on_invalid=lambda uid, _error: skipped.append(uid),
    )
    records: list[dict[str, Any]] = []
    for busy in busy_intervals(occurrences, owner_email=owner, all_day_zone=zone):
        event = busy.event
        title = None if event.visibility in (Visibility.PRIVATE, Visibility.CONFIDENTIAL) else event.summary
        for start, end in _pieces(busy.interval):
            records.append({
                "tenant_id": calendar.tenant_id, "calendar_id": calendar.id, "event_id": row_of[id(event)],
                "ical_uid": event.uid, "start_ts": start, "end_ts": end, "title": title,
            })
    await insert_many(uow.session, models.BusyBlock, records)


def _default_coverage(calendar: models.Calendar) -> None:
    if calendar.busy_indexed_from is None or calendar.busy_indexed_until is None:
        now = _now()
        calendar.busy_indexed_from = now - DEFAULT_PAST
        calendar.busy_indexed_until = now + DEFAULT_HORIZON


async def reindex_series(
    uow: UnitOfWork, calendar: models.Calendar, ical_uid: str, described: Described | None = None
) -> None:
    """Recompute the busy blocks of one series (or single event) of ``calendar``. No commit.

    ``described`` is the whole series as the caller just wrote it, which saves reading it back.
    """
    _default_coverage(calendar)
    await uow.session.execute(
        delete(models.BusyBlock).where(models.BusyBlock.calendar_id == calendar.id, models.BusyBlock.ical_uid == ical_uid)
    )
    if described is None:
        rows = await uow.session.scalars(
            select(models.Event).where(models.Event.calendar_id == calendar.id, models.Event.ical_uid == ical_uid)
        )
        described = _described(rows.all())
    await _index(uow, calendar, described)


async def reindex_calendar(uow: UnitOfWork, calendar: models.Calendar, described: Described | None = None) -> None:
    """Recompute every busy block of ``calendar`` over its covered window. No commit.

    ``described`` is every event of the calendar as the caller just wrote it (a bulk import).
    """
    _default_coverage(calendar)
    await uow.session.execute(delete(models.BusyBlock).where(models.BusyBlock.calendar_id == calendar.id))
    if described is None:
        rows = await uow.session.scalars(select(models.Event).where(models.Event.calendar_id == calendar.id))
        described = _described(rows.all())
    await _index(uow, calendar, described)


async def ensure_coverage(uow: UnitOfWork, calendar: models.Calendar, window: Interval) -> Interval:
    """Extend the calendar's index to cover ``window`` as far as allowed; return what is covered.

    Extending recomputes the calendar's blocks over the new window, in the caller's transaction.
    """
    _default_coverage(calendar)
    assert calendar.busy_indexed_from is not None and calendar.busy_indexed_until is not None
    wanted_from = min(calendar.busy_indexed_from, window.start)
    wanted_until = min(max(calendar.busy_indexed_until, window.end), _now() + MAX_HORIZON)
    if wanted_from < calendar.busy_indexed_from or wanted_until > calendar.busy_indexed_until:
        calendar.busy_indexed_from, calendar.busy_indexed_until = wanted_from, wanted_until
        await reindex_calendar(uow, calendar)
    return Interval(calendar.busy_indexed_from, max(calendar.busy_indexed_from, calendar.busy_indexed_until))


async def blocks_in_window(uow: UnitOfWork, calendar_ids: Sequence[str], window: Interval) -> list[IndexedBlock]:
    """The busy blocks of ``calendar_ids`` overlapping ``window``, clipped to it, by start.

    A booking's own calendar event is left out: the booking's reservation already holds that
    time (buffers included), and moving the booking must not clash with its old event.
    """
    if not calendar_ids:
        return []
    low, high = epoch(window.start), -int(-window.end.timestamp() // 1)
    block = models.BusyBlock
    booked = select(models.Booking.id).where(
        models.Booking.calendar_event_id == block.event_id, models.Booking.status == "confirmed"
    )
    rows = await uow.session.execute(
        select(block.calendar_id, block.start_ts, block.end_ts, block.title)
        .where(
            block.calendar_id.in_(calendar_ids),
            # Bounded look-back: no block is longer than MAX_BLOCK.
            block.start_ts >= low - int(MAX_BLOCK.total_seconds()),
            block.start_ts < high,
            block.end_ts > low,
            ~booked.exists(),
        )
        .order_by(block.start_ts)
    )
    return [IndexedBlock(c, max(s, low), min(e, high), t) for c, s, e, t in rows]
