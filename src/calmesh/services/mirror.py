"""The local mirror: domain events in and out of the ``events`` table.

Everything that changes the mirror — the sync engine, the API's ``/v1/events`` writes, tests —
goes through these functions (:func:`replace_series` for a whole series, :func:`upsert_event`
for one event, :func:`delete_series`/:func:`delete_event`, :func:`load_events` for an import),
which keep the busy index of the series current and announce each row that appeared, changed
or went (``event.created``/``event.updated``/``event.deleted``) in the same transaction. An
initial import is announced once, by the sync's ``integration.synced``, not row by row.
Rows follow :mod:`calmesh.storage.event_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from calmesh.domain.events import Event
from calmesh.ids import new_id
from calmesh.services import busy_index
from calmesh.services.announcements import announce
from calmesh.services.event_views import webhook_event_data
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.database import insert_many
from calmesh.storage.event_rows import row_values
from calmesh.sync.fingerprint import event_fingerprint
from calmesh.sync.settings import SyncSettings
from calmesh.webhooks.catalogue import EventType

__all__ = ["MirrorKey", "delete_event", "delete_series", "load_events", "replace_series", "upsert_event"]


@dataclass(frozen=True, slots=True)
class MirrorKey:
    """How the mirror finds an event: its calendar, UID and RECURRENCE-ID text (None for a master)."""

    calendar_id: str
    ical_uid: str
    recurrence_id: str | None


async def _calendar(uow: UnitOfWork, tenant_id: str, calendar_id: str) -> models.Calendar:
    return await uow.owned(models.Calendar, calendar_id, tenant_id, "no such calendar")


async def _announce_written(
    uow: UnitOfWork, calendar: models.Calendar, written: list[tuple[models.Event, Event, bool]], master_id: str | None
) -> None:
    """Announce ``(row, event, is_new)`` of one series (whose master row is ``master_id``),
    privacy settings applied."""
    if not written:
        return
    connection = await uow.session.get(models.Connection, calendar.connection_id)
    settings = SyncSettings.model_validate(connection.settings if connection else {})
    for row, event, is_new in written:
        data = webhook_event_data(row, event, calendar.connection_id, master_id if row.recurrence_id is not None else None, settings)
        await announce(uow, calendar.tenant_id, EventType.EVENT_CREATED if is_new else EventType.EVENT_UPDATED, data)


async def _announce_deleted(uow: UnitOfWork, calendar: models.Calendar, row: models.Event) -> None:
    data = {"id": row.id, "calendarId": calendar.id, "integrationId": calendar.connection_id, "icalUid": row.ical_uid}
    await announce(uow, calendar.tenant_id, EventType.EVENT_DELETED, data)


def _fill(row: models.Event, event: Event, values: dict[str, Any]) -> None:
    """Write ``event`` (as ``values``, its row values) into ``row``, with its fingerprint."""
    for field, value in values.items():
        setattr(row, field, value)
    row.content_hash = event_fingerprint(event)


async def upsert_event(
    uow: UnitOfWork,
    tenant_id: str,
    calendar_id: str,
    event: Event,
    *,
    provider_event_id: str | None = None,
    etag: str | None = None,
    raw: str | None = None,
) -> models.Event:
    """Insert or update the mirror row of ``event`` and re-index its series. Does not commit."""
    calendar = await _calendar(uow, tenant_id, calendar_id)
    values = row_values(event)
    row = await uow.session.scalar(
        select(models.Event).where(
            models.Event.calendar_id == calendar_id,
            models.Event.ical_uid == event.uid,
            models.Event.recurrence_id.is_(None)
            if values["recurrence_id"] is None
            else models.Event.recurrence_id == values["recurrence_id"],
        )
    )
    is_new = row is None
    if row is None:
        row = models.Event(id=new_id("evt"), tenant_id=tenant_id, calendar_id=calendar_id, version=1)
        uow.session.add(row)
    else:
        row.version += 1
    before = row.content_hash
    _fill(row, event, values)
    row.provider_event_id = provider_event_id or row.provider_event_id
    row.etag, row.raw = etag, raw
    await uow.session.flush()
    await busy_index.reindex_series(uow, calendar, event.uid)
    if is_new or row.content_hash != before:
        master_id = row.id if row.recurrence_id is None else await uow.session.scalar(
            select(models.Event.id).where(
                models.Event.calendar_id == calendar_id, models.Event.ical_uid == event.uid, models.Event.recurrence_id.is_(None)
            )
        )
        await _announce_written(uow, calendar, [(row, event, is_new)], master_id)
    return row


async def delete_event(uow: UnitOfWork, tenant_id: str, key: MirrorKey) -> None:
    """Remove one mirror row (a master takes its overrides with it) and re-index. Does not commit."""
    calendar = await _calendar(uow, tenant_id, key.calendar_id)
    statement = select(models.Event).where(
        models.Event.calendar_id == key.calendar_id, models.Event.ical_uid == key.ical_uid
    )
    if key.recurrence_id is not None:
        statement = statement.where(models.Event.recurrence_id == key.recurrence_id)
    for row in (await uow.session.scalars(statement)).all():
        await _announce_deleted(uow, calendar, row)
        await uow.session.delete(row)
    await uow.session.flush()
    await busy_index.reindex_series(uow, calendar, key.ical_uid)


async def replace_series(
    uow: UnitOfWork,
    tenant_id: str,
    calendar_id: str,
    events: Sequence[Event],
    *,
    origin: str = "provider",
    provider_event_id: str | None = None,
    etag: str | None = None,
) -> list[models.Event]:
    """Make the mirror hold exactly ``events`` for their UID (a series: master and overrides).

    Rows are updated in place (ids stay stable for the API), missing overrides removed, and the
    series re-indexed once. Does not commit.
    """
    calendar = await _calendar(uow, tenant_id, calendar_id)
    uid = events[0].uid
    existing = {
        row.recurrence_id: row
        for row in (
            await uow.session.scalars(
                select(models.Event).where(models.Event.calendar_id == calendar_id, models.Event.ical_uid == uid)
            )
        ).all()
    }
    rows, described, written = [], [], []
    for event in events:
        values = row_values(event)
        row = existing.pop(values["recurrence_id"], None)
        is_new = row is None
        if row is None:
            row = models.Event(id=new_id("evt"), tenant_id=tenant_id, calendar_id=calendar_id, version=0)
            uow.session.add(row)
        row.version += 1
        before = row.content_hash
        _fill(row, event, values)
        if is_new or row.content_hash != before:
            written.append((row, event, is_new))
        row.origin = origin
        # Left as they were unless given: an edit in calmesh does not move the provider's copy.
        row.provider_event_id = provider_event_id or row.provider_event_id
        row.etag = etag or row.etag
        rows.append(row)
        described.append((row.id, event))
    for stale in existing.values():
        await _announce_deleted(uow, calendar, stale)
        await uow.session.delete(stale)
    await uow.session.flush()
    await busy_index.reindex_series(uow, calendar, uid, described)
    master_id = next((row.id for row in rows if row.recurrence_id is None), None)
    await _announce_written(uow, calendar, written, master_id)
    return rows


async def delete_series(uow: UnitOfWork, tenant_id: str, calendar_id: str, uid: str) -> None:
    """Remove a whole series (every row of ``uid``) and its busy blocks. Does not commit."""
    await delete_event(uow, tenant_id, MirrorKey(calendar_id, uid, None))


async def load_events(
    uow: UnitOfWork,
    tenant_id: str,
    calendar_id: str,
    events: Iterable[Event],
    *,
    provider_event_ids: dict[str, str] | None = None,
    etags: dict[str, str | None] | None = None,
    origins: dict[str, str] | None = None,
) -> int:
    """Bulk-insert events into an empty calendar and index it once (an initial import). No commit.

    ``provider_event_ids``, ``etags`` and ``origins`` map a UID to its item at the provider and
    to where it came from ("provider" unless said).
    """
    calendar = await _calendar(uow, tenant_id, calendar_id)
    item_ids, item_etags, item_origins = provider_event_ids or {}, etags or {}, origins or {}
    was_empty = await uow.session.scalar(select(models.Event.id).where(models.Event.calendar_id == calendar_id).limit(1)) is None
    described = [(new_id("evt"), event) for event in events]
    records = [
        {
            **row_values(event),
            "id": row_id,
            "tenant_id": tenant_id,
            "calendar_id": calendar_id,
            "version": 1,
            "content_hash": event_fingerprint(event),
            "origin": item_origins.get(event.uid, "provider"),
            "provider_event_id": item_ids.get(event.uid),
            "etag": item_etags.get(event.uid),
        }
        for row_id, event in described
    ]
    await insert_many(uow.session, models.Event, records)
    # Indexing what was just inserted saves reading it back, when it is all the calendar holds.
    await busy_index.reindex_calendar(uow, calendar, described if was_empty else None)
    return len(records)
