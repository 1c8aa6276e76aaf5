"""Meetings at connected conferencing services (PRODUCT.md M3, M5): the use cases every caller
(events, bookings) schedules, moves and cancels Zoom meetings through.

Public API:

* :class:`ScheduledMeeting` — a stored meeting and how to join it (``conference()``: the
  camelCase dict events and bookings show).
* :func:`conferencing_connection` ``(uow, tenant_id, user_id, service="ZOOM") -> str | None``
  — the user's ACTIVE connection of that service.
* :func:`schedule_meeting` ``(runtime, tenant_id, connection_id, request) -> ScheduledMeeting`` —
  made with the connection's ``defaultMeetingSettings`` and stored as a
  :class:`~calmesh.storage.models.Meeting` row.
* :func:`reschedule_meeting` ``(runtime, tenant_id, meeting_row_id, request)`` — the same link,
  moved; :func:`cancel_meeting` ``(runtime, tenant_id, meeting_row_id)`` — deleted at the
  service (never a personal room), idempotent; :func:`get_meeting`.
* :func:`open_conferencing_connection`, :func:`conferencing_config` (for a connection already known
  to be a conferencing one), :func:`meeting_quota`, :func:`meeting_settings`,
  :func:`forget_connection_data`, :data:`CONFERENCING_SERVICES` — for
  :mod:`calmesh.services.integrations` and the Zoom notifications.

The daily allowance of a connection's meeting requests (M5: Zoom allows 100 creates, updates and
deletes per user per UTC day) is its ``meeting_gate``, :class:`_DatabaseMeetingGate`.

The allowance is counted in the database (``meeting_quotas``: one row per connection and UTC
day), so that every process sees one count: a request takes its place with one conditional
``UPDATE … SET used = used + 1 WHERE used < limit`` before it is sent. The day's row is
inserted first, in the same transaction — which on SQLite takes the write lock before anything
is read, and on PostgreSQL makes the concurrent inserts of a new day meet at the primary key.
A 429 from the service (``blocked``) stores when it asked us to wait, and nothing is sent before
then. calmesh refuses with :class:`~calmesh.errors.MeetingQuotaExhausted` (``resets_at``: the
next 00:00 UTC, or the service's own time) before the service is asked anything.

Refused credentials move the connection to TOKEN_EXPIRED (``integration.token_expired``, once),
as a sync of a calendar connection does; the user reconnects Zoom to go on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, timezone
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from calmesh.conferencing import SERVICE_NAMES
from calmesh.errors import (
    InvalidInput,
    InvalidState,
    MeetingQuotaExhausted,
    NotFound,
    ProviderAuthFailed,
    ProviderRateLimited,
)
from calmesh.ids import new_id
from calmesh.providers.base import ConferencingProvider, CreatedMeeting, MeetingDefaults, MeetingRequest, ProviderConfig
from calmesh.providers.registry import CONFERENCING_PROVIDERS, open_conferencing_provider
from calmesh.services.connection_events import mark_token_expired
from calmesh.services.credentials import delete_credentials, load_credentials
from calmesh.services.oauth import connection_config
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.sync.settings import MeetingSettings, SyncSettings

__all__ = [
    "CONFERENCING_SERVICES",
    "ScheduledMeeting",
    "cancel_meeting",
    "conferencing_config",
    "conferencing_connection",
    "forget_connection_data",
    "get_meeting",
    "meeting_quota",
    "meeting_settings",
    "open_conferencing_connection",
    "reschedule_meeting",
    "schedule_meeting",
]

#: Providers whose connections make meetings rather than sync calendars.
CONFERENCING_SERVICES = frozenset(CONFERENCING_PROVIDERS)

log = logging.getLogger(__name__)
T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _day(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).date().isoformat()


def _next_reset(moment: datetime) -> datetime:
    """The next 00:00 UTC after ``moment``: when a day's allowance is renewed."""
    return datetime.combine(moment.astimezone(timezone.utc).date() + timedelta(days=1), time(0), tzinfo=timezone.utc)


def _name(service: str) -> str:
    return SERVICE_NAMES.get(service, service.title())


# --- values ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduledMeeting:
    """A meeting calmesh made at a conferencing service, as stored."""

    #: The Meeting row's id (``mtg_…``).
    id: str
    #: The service, as the API spells it (``ZOOM``).
    service: str
    connection_id: str
    #: The service's id of the meeting (Zoom's numeric id, as text).
    meeting_id: str
    join_url: str
    passcode: str | None
    dial_ins: tuple[str, ...]
    #: The user's personal meeting room (Zoom PMI): never deleted at the service.
    personal: bool

    def conference(self) -> dict[str, Any]:
        """How events and bookings show it (camelCase, ready for JSON)."""
        return {
            "service": self.service,
            "joinUrl": self.join_url,
            "meetingId": self.meeting_id,
            "passcode": self.passcode,
            "dialIns": list(self.dial_ins),
        }


def _scheduled(row: models.Meeting) -> ScheduledMeeting:
    return ScheduledMeeting(
        id=row.id,
        service=row.service,
        connection_id=row.connection_id,
        meeting_id=row.provider_meeting_id,
        join_url=row.join_url,
        passcode=row.passcode,
        dial_ins=tuple(row.dial_ins or ()),
        personal=row.personal,
    )


@dataclass(frozen=True, slots=True)
class QuotaState:
    """Today's meeting requests of a connection (``GET …/sync-status`` shows it)."""

    used: int
    limit: int
    #: The next 00:00 UTC.
    resets_at: datetime
    #: The service answered 429 and asked calmesh to wait until then (None: it did not).
    blocked_until: datetime | None

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit

    @property
    def limited(self) -> bool:
        return self.exhausted or self.blocked_until is not None

    @property
    def limited_until(self) -> datetime | None:
        """When requests are allowed again, if they are not now."""
        waits = [w for w in (self.blocked_until, self.resets_at if self.exhausted else None) if w is not None]
        return max(waits) if waits else None


# --- the daily allowance --------------------------------------------------------------------


async def _ensure_day(uow: UnitOfWork, connection_id: str, day: str) -> bool:
    """Insert the day's row if it is missing (True when this call inserted it).

    The first statement of every quota transaction: a write, so that SQLite takes its write lock
    before the count is read (a deferred transaction that read first could not write later)."""
    dialect = uow.runtime.engine.dialect.name
    make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await uow.session.execute(
        make_insert(models.MeetingQuota).values(connection_id=connection_id, day=day, used=0).on_conflict_do_nothing()
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def meeting_quota(uow: UnitOfWork, connection: models.Connection, now: datetime | None = None) -> QuotaState:
    """Today's count and any wait the service asked for (reads only)."""
    now = now or _now()
    row = await uow.session.get(models.MeetingQuota, (connection.id, _day(now)))
    waits = [w for w in (row.blocked_until if row else None, connection.rate_limited_until) if w is not None and w > now]
    return QuotaState(
        used=row.used if row else 0,
        limit=uow.runtime.settings.zoom_daily_meeting_requests,
        resets_at=_next_reset(now),
        blocked_until=max(waits) if waits else None,
    )


def _exhausted(service: str, state: QuotaState) -> MeetingQuotaExhausted:
    until = state.limited_until or state.resets_at
    if state.blocked_until is not None and until == state.blocked_until:
        return MeetingQuotaExhausted(
            f"{_name(service)} asked calmesh to make no more meeting requests for this user until"
            f" {until.isoformat()}; try again then",
            resets_at=until,
        )
    return MeetingQuotaExhausted(
        f"this {_name(service)} user's {state.limit} meeting requests for today (creates, updates and deletes;"
        f" {_name(service)} allows {state.limit} a day) are used up; they reset at {until.isoformat()} (00:00 UTC)",
        resets_at=until,
    )


class _DatabaseMeetingGate:
    """A connection's :class:`~calmesh.providers.base.MeetingRequestGate`, counted in the database
    so that every process shares it (see the module docstring)."""

    def __init__(self, runtime: Runtime, connection_id: str, service: str = "ZOOM") -> None:
        self._runtime, self.connection_id, self.service = runtime, connection_id, service

    async def admit(self) -> None:
        now = _now()
        day, limit = _day(now), self._runtime.settings.zoom_daily_meeting_requests
        quota = models.MeetingQuota
        async with UnitOfWork(self._runtime) as uow:
            if await _ensure_day(uow, self.connection_id, day):
                # A new day: yesterday's counts are of no further use.
                await uow.session.execute(delete(quota).where(quota.connection_id == self.connection_id, quota.day < day))
            connection = await uow.session.get(models.Connection, self.connection_id)
            if connection is None:
                raise NotFound("no such integration")
            waiting = connection.rate_limited_until is not None and connection.rate_limited_until > now
            if not waiting:
                taken = await uow.session.execute(
                    update(quota)
                    .where(
                        quota.connection_id == self.connection_id,
                        quota.day == day,
                        quota.used < limit,
                        (quota.blocked_until.is_(None)) | (quota.blocked_until <= now),
                    )
                    .values(used=quota.used + 1)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    await uow.commit()
                    return
            state = await meeting_quota(uow, connection, now)
            await uow.commit()  # keeps the day's row (and yesterday's removal)
        raise _exhausted(self.service, state)

    async def blocked(self, until: datetime) -> None:
        now = _now()
        async with UnitOfWork(self._runtime) as uow:
            await _ensure_day(uow, self.connection_id, _day(now))
            row = await uow.session.get(models.MeetingQuota, (self.connection_id, _day(now)))
            assert row is not None
            row.blocked_until = max(row.blocked_until or until, until)
            connection = await uow.session.get(models.Connection, self.connection_id)
            if connection is not None:
                connection.rate_limited_until = max(connection.rate_limited_until or until, until)
            await uow.commit()
        log.warning(
            "the conferencing service asked calmesh to wait", extra={"connection_id": self.connection_id, "until": until.isoformat()}
        )


# --- opening a connection -------------------------------------------------------------------


async def conferencing_config(runtime: Runtime, uow: UnitOfWork, connection: models.Connection) -> ProviderConfig:
    """What a stored conferencing connection's adapter is opened with: its tokens through the
    database-backed keeper, its meeting requests through its :class:`_DatabaseMeetingGate`.
    The caller has checked that ``connection`` is a conferencing one (:data:`CONFERENCING_SERVICES`)."""
    secrets = dict((await load_credentials(uow, connection.tenant_id, connection.id)).items())
    config = connection_config(runtime, connection.tenant_id, connection.id, connection.provider, secrets)
    return replace(
        config,
        account={k: str(v) for k, v in (connection.account or {}).items() if v is not None},
        meeting_gate=_DatabaseMeetingGate(runtime, connection.id, connection.provider),
    )


async def open_conferencing_connection(runtime: Runtime, uow: UnitOfWork, connection: models.Connection) -> ConferencingProvider:
    """The adapter of a stored conferencing connection (see :func:`conferencing_config`)."""
    return open_conferencing_provider(connection.provider, await conferencing_config(runtime, uow, connection))


def meeting_settings(connection: models.Connection) -> MeetingSettings:
    """The connection's stored ``defaultMeetingSettings`` (the defaults when it has none)."""
    return SyncSettings.model_validate(connection.settings or {}).default_meeting_settings or MeetingSettings()


def _meeting_defaults(connection: models.Connection) -> MeetingDefaults:
    """The connection's ``defaultMeetingSettings`` as the adapter takes them."""
    return MeetingDefaults(**meeting_settings(connection).model_dump())


def _refuse_unusable(connection: models.Connection) -> None:
    """InvalidState unless the connection can make meetings now."""
    name = _name(connection.provider)
    if connection.status == "TOKEN_EXPIRED":
        raise InvalidState(
            f"{name} no longer accepts this integration's credentials: reconnect {name} (POST /v1/integrations/auth-url"
            f" with connectionId {connection.id}) to schedule meetings"
        )
    if connection.status == "DISCONNECTED":
        raise InvalidState(f"this {name} integration is disconnected: connect {name} again to schedule meetings")
    if connection.status != "ACTIVE":
        raise InvalidState(f"this {name} integration is {connection.status}, not ACTIVE")


@dataclass(frozen=True, slots=True)
class _Opened:
    provider: ConferencingProvider
    #: The adapter's own gate (its ``meeting_gate``).
    gate: _DatabaseMeetingGate
    defaults: MeetingDefaults

    @property
    def service(self) -> str:
        return self.gate.service

    @property
    def connection_id(self) -> str:
        return self.gate.connection_id


async def _open(runtime: Runtime, uow: UnitOfWork, connection: models.Connection) -> _Opened:
    """Check the connection and today's allowance (refused before the service is asked
    anything), then open its adapter."""
    if connection.provider not in CONFERENCING_SERVICES:
        raise InvalidInput(f"this is a {connection.provider} calendar integration, not a conferencing one", field="connectionId")
    _refuse_unusable(connection)
    state = await meeting_quota(uow, connection)
    if state.limited:
        raise _exhausted(connection.provider, state)
    config = await conferencing_config(runtime, uow, connection)
    gate = config.meeting_gate
    assert isinstance(gate, _DatabaseMeetingGate)
    return _Opened(open_conferencing_provider(connection.provider, config), gate, _meeting_defaults(connection))


async def _calling(runtime: Runtime, opened: _Opened, call: Callable[[], Awaitable[T]]) -> T:
    """Run one adapter call, recording on the connection what the service said about it."""
    try:
        return await call()
    except ProviderAuthFailed as error:
        await _token_expired(runtime, opened.connection_id, error)
        raise
    except MeetingQuotaExhausted:
        raise
    except ProviderRateLimited as error:
        if error.retry_after is None:
            raise
        # The adapter has told the gate when Zoom said to come back; one that could not (no
        # Retry-After time) gets the wait it computed, so that nothing is sent before then.
        async with UnitOfWork(runtime) as uow:
            connection = await uow.session.get(models.Connection, opened.connection_id)
            blocked = (await meeting_quota(uow, connection)).blocked_until if connection is not None else None
        if blocked is None:
            blocked = _now() + timedelta(seconds=error.retry_after)
            await opened.gate.blocked(blocked)
        raise MeetingQuotaExhausted(
            f"{_name(opened.service)} refused more meeting requests for this user until {blocked.isoformat()} ({error.message})",
            resets_at=blocked,
        ) from error
    finally:
        await opened.provider.aclose()


async def _token_expired(runtime: Runtime, connection_id: str, error: ProviderAuthFailed) -> None:
    async with UnitOfWork(runtime) as uow:
        connection = await uow.session.get(models.Connection, connection_id)
        if connection is None or connection.status == "DISCONNECTED":
            return
        if await mark_token_expired(uow, connection, error, _now()):
            connection.version += 1
            await uow.commit()


# --- the use cases --------------------------------------------------------------------------


async def conferencing_connection(uow: UnitOfWork, tenant_id: str, user_id: str, service: str = "ZOOM") -> str | None:
    """The user's ACTIVE connection of ``service`` (the newest, should there be several), or None."""
    table = models.Connection
    return await uow.session.scalar(
        select(table.id)
        .where(table.tenant_id == tenant_id, table.user_id == user_id, table.provider == service, table.status == "ACTIVE")
        .order_by(table.created_at.desc(), table.id.desc())
        .limit(1)
    )


async def schedule_meeting(runtime: Runtime, tenant_id: str, connection_id: str, request: MeetingRequest) -> ScheduledMeeting:
    """Make a meeting through the connection, with its ``defaultMeetingSettings``, and store it.

    InvalidState unless the connection is ACTIVE (TOKEN_EXPIRED: reconnect Zoom);
    MeetingQuotaExhausted before anything is sent when today's allowance is used up."""
    async with UnitOfWork(runtime) as uow:
        connection = await uow.owned(models.Connection, connection_id, tenant_id, "no such integration")
        opened = await _open(runtime, uow, connection)
    created: CreatedMeeting = await _calling(runtime, opened, lambda: opened.provider.create_meeting(request, opened.defaults))
    async with UnitOfWork(runtime) as uow:
        row = models.Meeting(
            id=new_id("mtg"),
            tenant_id=tenant_id,
            connection_id=connection_id,
            service=opened.service,
            provider_meeting_id=str(created.id),
            join_url=created.join_url,
            passcode=created.passcode,
            personal=created.personal,
            dial_ins=list(created.dial_ins),
            start_at=request.start,
            end_at=request.start + timedelta(minutes=request.duration_minutes),
            created_at=_now(),
        )
        uow.session.add(row)
        await uow.session.execute(
            update(models.Connection).where(models.Connection.id == connection_id).values(credentials_checked_at=_now())
        )
        await uow.commit()
        return _scheduled(row)


async def _meeting_row(uow: UnitOfWork, tenant_id: str, meeting_row_id: str) -> models.Meeting:
    return await uow.owned(models.Meeting, meeting_row_id, tenant_id, "no such meeting")


async def _prepare(uow: UnitOfWork, tenant_id: str, meeting_row_id: str) -> tuple[str, _Opened | None] | None:
    """The meeting's id at the service and, unless it is a personal room (nothing is sent for
    one), its connection's adapter; None when the meeting is deleted already."""
    row = await _meeting_row(uow, tenant_id, meeting_row_id)
    if row.deleted_at is not None:
        return None
    if row.personal:
        return row.provider_meeting_id, None
    connection = await uow.owned(models.Connection, row.connection_id, tenant_id, "no such integration")
    return row.provider_meeting_id, await _open(uow.runtime, uow, connection)


async def reschedule_meeting(runtime: Runtime, tenant_id: str, meeting_row_id: str, request: MeetingRequest) -> ScheduledMeeting:
    """Move (or retitle) a meeting at the service; its link stays. A personal room has no time at
    the service: only the stored times change."""
    async with UnitOfWork(runtime) as uow:
        prepared = await _prepare(uow, tenant_id, meeting_row_id)
        if prepared is None:
            raise InvalidState("this meeting was deleted (in calmesh or at the service); schedule a new one")
    provider_meeting_id, opened = prepared
    if opened is not None:
        ready = opened
        await _calling(runtime, ready, lambda: ready.provider.update_meeting(provider_meeting_id, request, ready.defaults))
    async with UnitOfWork(runtime) as uow:
        row = await _meeting_row(uow, tenant_id, meeting_row_id)
        row.start_at = request.start
        row.end_at = request.start + timedelta(minutes=request.duration_minutes)
        await uow.commit()
        return _scheduled(row)


async def cancel_meeting(runtime: Runtime, tenant_id: str, meeting_row_id: str) -> None:
    """Delete a meeting at the service (never a personal room) and mark it deleted. Cancelling a
    meeting already deleted — here, or in Zoom — does nothing."""
    async with UnitOfWork(runtime) as uow:
        prepared = await _prepare(uow, tenant_id, meeting_row_id)
    if prepared is None:
        return
    provider_meeting_id, opened = prepared
    if opened is not None:
        ready = opened
        await _calling(runtime, ready, lambda: ready.provider.delete_meeting(provider_meeting_id))
    async with UnitOfWork(runtime) as uow:
        await uow.session.execute(
            update(models.Meeting)
            .where(models.Meeting.id == meeting_row_id, models.Meeting.deleted_at.is_(None))
            .values(deleted_at=_now())
            .execution_options(synchronize_session=False)
        )
        await uow.commit()


async def get_meeting(runtime: Runtime, tenant_id: str, meeting_row_id: str) -> ScheduledMeeting:
    """A stored meeting (one since deleted too: its row keeps how it was joined)."""
    async with UnitOfWork(runtime) as uow:
        return _scheduled(await _meeting_row(uow, tenant_id, meeting_row_id))


async def forget_connection_data(uow: UnitOfWork, connection: models.Connection) -> None:
    """Forget what calmesh stored for a connection that is going away: its sealed credentials and
    its meetings (see :func:`_forget_meetings`). Does not commit."""
    await delete_credentials(uow, connection.tenant_id, connection.id)
    await _forget_meetings(uow, connection.id)


async def _forget_meetings(uow: UnitOfWork, connection_id: str) -> int:
    """Delete a connection's stored meetings and take them off the bookings that used them
    (no meeting, no conference). Does not commit; returns how many meetings there were."""
    ids = select(models.Meeting.id).where(models.Meeting.connection_id == connection_id)
    await uow.session.execute(
        update(models.Booking)
        .where(models.Booking.meeting_id.in_(ids))
        .values(meeting_id=None, conference=None, version=models.Booking.version + 1)
        .execution_options(synchronize_session=False)
    )
    result = await uow.session.execute(
        delete(models.Meeting).where(models.Meeting.connection_id == connection_id).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
