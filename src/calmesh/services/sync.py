"""Syncing a connection: fetch the provider's changes, plan each item, apply the plan.

The decisions are :func:`calmesh.sync.plan.decide`'s; this module is the executor around it:

1. claim the connection's lease (one sync per connection at a time, across processes) and mark
   it SYNCING;
2. refresh its calendar list from the provider;
3. per selected calendar: ask for changes since the stored cursor (everything on a first or full
   sync, or when the provider forgot the cursor), read the mirror's fingerprints and the stored
   status, decide every item that may have changed, then apply — mirror-only decisions in
   batched transactions, provider writes one at a time, each followed by the transaction that
   records it;
4. store the new cursor last, in its own transaction, once every item it covers is applied.

Interrupted anywhere, the next sync starts from the old cursor and sees the same changes again;
every step is idempotent against the status (a pushed item whose status was never written comes
back as "the same event on both sides" and is recorded, not duplicated). ``checkpoint`` is
called between steps so tests can interrupt exactly there.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update

from calmesh.domain.events import Event
from calmesh.errors import (
    CalmeshError,
    InvalidState,
    NotFound,
    PartiallyWritten,
    PreconditionFailed,
    ProviderAuthFailed,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRefused,
    SyncCursorExpired,
    SyncHalted,
)
from calmesh.ids import new_id
from calmesh.providers.base import CalendarProvider, ChangeSet, ProviderConfig, RemoteItem
from calmesh.providers.registry import open_provider
from calmesh.services import mirror
from calmesh.services.announcements import announce
from calmesh.services.connection_events import announce_error, announce_token_expired, integration_data
from calmesh.services.credentials import load_credentials
from calmesh.services.meetings import CONFERENCING_SERVICES
from calmesh.services.oauth import OAUTH_PROVIDERS, connection_config
from calmesh.services.push import maintain_channels
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.database import insert_many
from calmesh.storage.event_rows import event_from_row
from calmesh.sync.fingerprint import combine_fingerprints, item_fingerprint
from calmesh.sync.outbound import TAG, completed_conferences, for_provider, merge_from_provider
from calmesh.sync.plan import (
    Action,
    Decision,
    LocalState,
    Origin,
    RemoteState,
    Side,
    Status,
    decide,
    mass_deletion_suspected,
)
from calmesh.sync.settings import ConflictPolicy, SyncSettings, calendar_selected
from calmesh.webhooks.catalogue import EventType

__all__ = [
    "CalendarSyncReport",
    "Checkpoint",
    "Progress",
    "SyncReport",
    "due_connections",
    "open_connection_provider",
    "push_series",
    "sync_connection",
]

log = logging.getLogger(__name__)

UTC = timezone.utc
#: How long a claimed sync may run before another worker may take the connection over.
LEASE = timedelta(minutes=15)
#: Mirror-only decisions applied per transaction.
BATCH = 500
#: How old the stored calendar list may be before a sync reads it from the provider again
#: (a listing costs some servers a scan of every calendar; a full sync always re-reads it).
CALENDAR_LIST_AGE = timedelta(hours=1)

Checkpoint = Callable[[str], Awaitable[None]]
#: Called with (calendar name, items done, items to do).
Progress = Callable[[str, int, int], None]


async def _no_checkpoint(step: str) -> None:
    return None


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CalendarSyncReport:
    calendar_id: str
    name: str
    full: bool = False
    #: Series pulled into the mirror: new ones (created) and changed ones (updated).
    pulled: int = 0
    created: int = 0
    updated: int = 0
    pushed: int = 0
    deleted_locally: int = 0
    deleted_remotely: int = 0
    conflicts: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)
    #: Why this calendar did not sync (the connection's other calendars still did).
    failure: CalmeshError | None = field(default=None, repr=False)
    fetch_seconds: float = 0.0
    store_seconds: float = 0.0

    @property
    def error(self) -> str | None:
        return self.failure.message if self.failure is not None else None


@dataclass
class SyncReport:
    connection_id: str
    calendars: list[CalendarSyncReport] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(int(getattr(c, name)) for c in self.calendars)

    @property
    def changed(self) -> bool:
        return any(self.total(name) for name in ("pulled", "pushed", "deleted_locally", "deleted_remotely", "conflicts"))

    def as_data(self, connection: models.Connection, full: bool) -> dict[str, Any]:
        """The ``integration.synced`` event's data."""

        def counts(items: list[CalendarSyncReport]) -> dict[str, int]:
            return {
                "created": sum(c.created for c in items),
                "updated": sum(c.updated for c in items),
                "deleted": sum(c.deleted_locally for c in items),
                "pushed": sum(c.pushed for c in items),
                "deletedAtProvider": sum(c.deleted_remotely for c in items),
                "conflicts": sum(c.conflicts for c in items),
            }

        return {
            **integration_data(connection),
            "fullSync": full,
            **counts(self.calendars),
            "calendars": [{"id": c.calendar_id, "name": c.name, "fullSync": c.full, **counts([c])} for c in self.calendars],
        }


# --- opening the provider -------------------------------------------------------------------


async def connection_provider_config(runtime: Runtime, uow: UnitOfWork, connection: models.Connection) -> ProviderConfig:
    """What a stored connection's adapter is opened with: its secrets from the vault, and for
    OAuth providers the operator's app and a token keeper that stores refreshed tokens."""
    secrets = dict((await load_credentials(uow, connection.tenant_id, connection.id)).items())
    if connection.provider in OAUTH_PROVIDERS:
        return connection_config(runtime, connection.tenant_id, connection.id, connection.provider, secrets)
    return ProviderConfig(
        account={k: str(v) for k, v in (connection.account or {}).items()},
        secrets=secrets,
        allow_private_network=runtime.settings.allow_private_network,
        timeout_seconds=runtime.settings.provider_timeout_seconds,
    )


async def open_connection_provider(runtime: Runtime, uow: UnitOfWork, connection: models.Connection) -> CalendarProvider:
    """The adapter for a stored connection."""
    return open_provider(connection.provider, await connection_provider_config(runtime, uow, connection))


# --- the lease ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Claim:
    """A claimed connection, and what it was before the claim (for the announcements)."""

    owner: str
    started_at: datetime
    previous_status: str
    requested: bool
    first_sync: bool


async def _claim(runtime: Runtime, connection_id: str) -> _Claim:
    now, owner = _now(), uuid.uuid4().hex
    async with UnitOfWork(runtime) as uow:
        before = (
            await uow.session.execute(
                select(
                    models.Connection.status, models.Connection.sync_requested, models.Connection.last_sync_at, models.Connection.provider
                ).where(models.Connection.id == connection_id)
            )
        ).one_or_none()
        if before is None:
            raise NotFound("no such integration")
        if before.provider in CONFERENCING_SERVICES:
            raise InvalidState(f"a {before.provider} integration has no calendars to sync")
        result = await uow.session.execute(
            update(models.Connection)
            .where(
                models.Connection.id == connection_id,
                models.Connection.status != "DISCONNECTED",
                or_(models.Connection.sync_lease_until.is_(None), models.Connection.sync_lease_until < now),
            )
            .values(sync_lease_owner=owner, sync_lease_until=now + LEASE, status="SYNCING")
        )
        await uow.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidState("this integration is already syncing, or it is disconnected")
    status, requested, last_sync_at, _ = before
    return _Claim(owner, now, status, bool(requested), last_sync_at is None)


async def _finish(
    runtime: Runtime, connection_id: str, claim: _Claim, *, error: CalmeshError | None, report: SyncReport | None = None, full: bool = False
) -> None:
    """Release the lease, set the state, the error and when to sync next, and announce the outcome."""
    now = _now()
    async with UnitOfWork(runtime) as uow:
        connection = await uow.session.get(models.Connection, connection_id)
        if connection is None or connection.sync_lease_owner != claim.owner:
            return
        settings = SyncSettings.model_validate(connection.settings or {})
        frequency = timedelta(minutes=settings.sync_frequency)
        # A resync asked for while this sync ran (or a schedule already later than its start)
        # is kept: finishing must not push a requested sync back by a whole frequency.
        requested = connection.next_sync_at if connection.next_sync_at and connection.next_sync_at >= claim.started_at else None
        connection.sync_lease_owner = connection.sync_lease_until = None
        connection.sync_requested = False
        if error is None:
            connection.status, connection.last_error = "ACTIVE", None
            connection.last_sync_at, connection.failure_count = now, 0
            connection.rate_limited_until = None
            connection.credentials_checked_at = now
            following = now + frequency
        elif isinstance(error, ProviderRateLimited):
            wait = timedelta(seconds=error.retry_after if error.retry_after is not None else 60)
            connection.status = "ACTIVE"
            connection.rate_limited_until = following = now + wait
            requested = None  # the provider's word beats a request
            connection.last_error, connection.last_error_at = error.message, now
        else:
            connection.status = "TOKEN_EXPIRED" if isinstance(error, ProviderAuthFailed) else "ERROR"
            connection.last_error, connection.last_error_at = error.message, now
            connection.failure_count += 1
            # Retry soon, then less often: 1, 2, 4… minutes, never later than the usual frequency.
            backoff = timedelta(minutes=2 ** min(connection.failure_count - 1, 10))
            following = now + min(backoff, frequency)
        connection.next_sync_at = min(following, requested) if requested else following
        await _announce_outcome(uow, connection, claim, error, report, full)
        await uow.commit()


async def _announce_outcome(
    uow: UnitOfWork, connection: models.Connection, claim: _Claim, error: CalmeshError | None, report: SyncReport | None, full: bool
) -> None:
    """integration.synced when there is news; integration.error and .token_expired once per episode."""
    if error is None:
        assert report is not None
        recovered = claim.previous_status in ("ERROR", "TOKEN_EXPIRED")
        if report.changed or full or claim.first_sync or claim.requested or recovered:
            await announce(uow, connection.tenant_id, EventType.INTEGRATION_SYNCED, report.as_data(connection, full))
    elif connection.status == "TOKEN_EXPIRED":
        if claim.previous_status != "TOKEN_EXPIRED":
            await announce_token_expired(uow, connection, error)
    elif connection.status == "ERROR" and claim.previous_status != "ERROR":
        await announce_error(uow, connection, error, connection.next_sync_at)


# --- syncing a connection -------------------------------------------------------------------


async def sync_connection(
    runtime: Runtime,
    connection_id: str,
    *,
    full: bool = False,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Sync every selected calendar of a connection. Raises what made the sync fail, after
    recording it on the connection (state ERROR or TOKEN_EXPIRED, ``lastError``)."""
    claim = await _claim(runtime, connection_id)
    report = SyncReport(connection_id)
    try:
        async with UnitOfWork(runtime) as uow:
            connection = await uow.session.get(models.Connection, connection_id)
            assert connection is not None
            settings = SyncSettings.model_validate(connection.settings or {})
            full = full or connection.full_sync_requested
            tenant_id, provider_name = connection.tenant_id, connection.provider
            refreshed_at = connection.calendars_refreshed_at
            provider = await open_connection_provider(runtime, uow, connection)
        try:
            if full or refreshed_at is None or _now() - refreshed_at > CALENDAR_LIST_AGE:
                calendars = await _refresh_calendars(runtime, provider, tenant_id, connection_id, settings)
            else:
                calendars = await _selected_calendars(runtime, provider, connection_id)
            run = _CalendarRun(runtime, provider, tenant_id, connection_id, settings, full, checkpoint or _no_checkpoint, progress)
            for calendar in calendars:
                report.calendars.append(await run.sync(calendar))
            await maintain_channels(runtime, provider, provider_name, connection_id, [(c.id, c.provider_id) for c in calendars])
        finally:
            await provider.aclose()
        failed = [c for c in report.calendars if c.failure is not None]
        if failed:
            names = "; ".join(f"{c.name}: {c.error}" for c in failed)
            first = failed[0].failure
            assert first is not None
            raise type(first)(f"{len(failed)} of {len(report.calendars)} calendars did not sync — {names}")
    except CalmeshError as error:
        await _finish(runtime, connection_id, claim, error=error)
        raise
    except BaseException:
        await _finish(runtime, connection_id, claim, error=CalmeshError("the sync failed unexpectedly; see the server log"))
        raise
    async with UnitOfWork(runtime) as uow:
        if full:
            await uow.session.execute(
                update(models.Connection).where(models.Connection.id == connection_id).values(full_sync_requested=False)
            )
            await uow.commit()
    await _finish(runtime, connection_id, claim, error=None, report=report, full=full)
    return report


@dataclass(frozen=True, slots=True)
class _CalendarRef:
    id: str
    provider_id: str
    name: str
    writable: bool


async def _refresh_calendars(
    runtime: Runtime, provider: CalendarProvider, tenant_id: str, connection_id: str, settings: SyncSettings
) -> list[_CalendarRef]:
    """Store the provider's calendar list; return the calendars to sync."""
    listed = await provider.list_calendars()
    async with UnitOfWork(runtime) as uow:
        rows = {
            row.provider_calendar_id: row
            for row in (
                await uow.session.scalars(select(models.Calendar).where(models.Calendar.connection_id == connection_id))
            ).all()
        }
        if not listed and rows:
            raise SyncHalted(
                f"the provider lists none of this account's {len(rows)} calendars; nothing was deleted."
                " Check the account, then resync"
            )
        chosen = []
        for remote in listed:
            row = rows.pop(remote.id, None)
            if row is None:
                row = models.Calendar(
                    id=new_id("cal"), tenant_id=tenant_id, connection_id=connection_id, provider_calendar_id=remote.id
                )
                uow.session.add(row)
            row.name, row.color, row.description = remote.name, remote.color, remote.description
            row.read_only, row.is_primary = remote.read_only, remote.is_primary
            row.time_zone = remote.time_zone or row.time_zone
            row.selected = calendar_selected(
                settings.calendars_to_sync, calendar_id=row.id, provider_id=remote.id, is_primary=remote.is_primary
            )
            if row.selected:
                writable = provider.capabilities.write and not remote.read_only
                chosen.append(_CalendarRef(row.id, remote.id, remote.name, writable))
        for gone in rows.values():
            await uow.session.delete(gone)
        await uow.session.execute(
            update(models.Connection).where(models.Connection.id == connection_id).values(calendars_refreshed_at=_now())
        )
        await uow.commit()
    return chosen


async def _selected_calendars(runtime: Runtime, provider: CalendarProvider, connection_id: str) -> list[_CalendarRef]:
    """The calendars to sync, as the stored calendar list has them."""
    async with UnitOfWork(runtime) as uow:
        rows = await uow.session.execute(
            select(models.Calendar.id, models.Calendar.provider_calendar_id, models.Calendar.name, models.Calendar.read_only)
            .where(models.Calendar.connection_id == connection_id, models.Calendar.selected.is_(True))
            .order_by(models.Calendar.id)
        )
        return [
            _CalendarRef(id_, provider_id, name, provider.capabilities.write and not read_only)
            for id_, provider_id, name, read_only in rows
        ]


# --- syncing one calendar -------------------------------------------------------------------


@dataclass
class _Local:
    hashes: list[str] = field(default_factory=list)
    origin: Origin = Origin.PROVIDER

    @property
    def digest(self) -> str:
        return combine_fingerprints(self.hashes)

    def state(self, outbound_hash: str | None = None, modified_at: datetime | None = None) -> LocalState:
        return LocalState(self.digest, outbound_hash or self.digest, self.origin, modified_at)


@dataclass
class _Step:
    uid: str
    decision: Decision
    status: Status | None
    remote: RemoteState | None
    local: LocalState | None
    item: RemoteItem | None


def _untouched(
    status: Status | None, item: RemoteItem | None, local: _Local | None, changes: ChangeSet, deleted: set[str]
) -> bool:
    """An item neither side touched since the last sync: most of them, skipped without planning."""
    if status is None or item is not None or local is None or changes.full or status.item_id in deleted:
        return False
    return local.digest == status.local_hash


def _remote_state(item: RemoteItem) -> RemoteState:
    stamps = [e.last_modified_at for e in item.events if e.last_modified_at is not None]
    return RemoteState(
        item.id, item.etag, item_fingerprint(item.events), TAG in item.events[0].x_properties, max(stamps, default=None)
    )


class _CalendarRun:
    def __init__(
        self,
        runtime: Runtime,
        provider: CalendarProvider,
        tenant_id: str,
        connection_id: str,
        settings: SyncSettings,
        full: bool,
        checkpoint: Checkpoint,
        progress: Progress | None,
    ) -> None:
        self.runtime, self.provider = runtime, provider
        self.tenant_id, self.connection_id = tenant_id, connection_id
        self.settings, self.full = settings, full
        self.checkpoint, self.progress = checkpoint, progress

    async def sync(self, calendar: _CalendarRef) -> CalendarSyncReport:
        report = CalendarSyncReport(calendar.id, calendar.name)
        try:
            await self._sync(calendar, report)
        except (ProviderRefused, ProviderProtocolError, SyncHalted) as error:
            # This calendar only: the others of the connection still sync.
            report.failure = error
            async with UnitOfWork(self.runtime) as uow:
                state = await self._state(uow, calendar.id)
                state.last_error = error.message
                await uow.commit()
        return report

    async def _state(self, uow: UnitOfWork, calendar_id: str) -> models.SyncState:
        state = await uow.session.get(models.SyncState, calendar_id)
        if state is None:
            state = models.SyncState(calendar_id=calendar_id, tenant_id=self.tenant_id, item_count=0, version=1)
            uow.session.add(state)
        return state

    async def _sync(self, calendar: _CalendarRef, report: CalendarSyncReport) -> None:
        async with UnitOfWork(self.runtime) as uow:
            state = await uow.session.get(models.SyncState, calendar.id)
            cursor = None if self.full or state is None else state.cursor
            known = models.SyncItem
            rows = await uow.session.execute(
                select(known.item_id, known.ical_uid, known.etag, known.remote_hash, known.local_hash, known.origin).where(
                    known.calendar_id == calendar.id
                )
            )
            statuses = {
                uid: Status(item_id, uid, etag, remote_hash, local_hash, Origin(origin))
                for item_id, uid, etag, remote_hash, local_hash, origin in rows
            }
        started = time.perf_counter()
        known_etags = {s.item_id: s.etag for s in statuses.values()}
        try:
            changes = await self.provider.changes(calendar.provider_id, cursor, known_etags)
        except SyncCursorExpired:
            log.info("sync cursor expired; listing everything", extra={"calendar_id": calendar.id})
            changes = await self.provider.changes(calendar.provider_id, None, known_etags)
        report.fetch_seconds = time.perf_counter() - started
        report.full = changes.full
        report.problems = [{"itemId": p.id, "message": p.message} for p in changes.problems]
        await self.checkpoint("fetched")

        started = time.perf_counter()
        remote_items: dict[str, RemoteItem] = {}
        for item in changes.items:
            if item.uid in remote_items:
                report.problems.append({"itemId": item.id, "message": f"another item already has the UID {item.uid!r}"})
                continue
            remote_items[item.uid] = item
        locals_ = await self._locals(calendar.id)

        if changes.full and not statuses and not locals_ and self.settings.pulls:
            await self._initial_import(calendar, remote_items, report)
        else:
            self._refuse_mass_deletion(calendar, changes, statuses, remote_items)
            steps = await self._plan(calendar, changes, statuses, remote_items, locals_)
            next_cursor = await self._apply(calendar, steps, report, changes.cursor)
            changes = ChangeSet(changes.items, changes.deleted, next_cursor, changes.full, changes.problems)
        await self._save_cursor(calendar, changes, report)
        report.store_seconds = time.perf_counter() - started

    async def _locals(self, calendar_id: str, uid: str | None = None) -> dict[str, _Local]:
        """The mirror's side of every series of the calendar (or of one)."""
        found: dict[str, _Local] = defaultdict(_Local)
        statement = select(models.Event.ical_uid, models.Event.content_hash, models.Event.origin).where(
            models.Event.calendar_id == calendar_id
        )
        if uid is not None:
            statement = statement.where(models.Event.ical_uid == uid)
        async with UnitOfWork(self.runtime) as uow:
            for row_uid, digest, origin in await uow.session.execute(statement):
                local = found[row_uid]
                local.hashes.append(digest or "")
                local.origin = Origin(origin)
        return dict(found)

    async def _modified_at(self, calendar_id: str, uid: str) -> datetime | None:
        """When calmesh last changed a series (only NEWEST_WINS asks, and only for conflicts)."""
        async with UnitOfWork(self.runtime) as uow:
            return await uow.session.scalar(
                select(func.max(models.Event.updated_at)).where(
                    models.Event.calendar_id == calendar_id, models.Event.ical_uid == uid
                )
            )

    def _refuse_mass_deletion(
        self,
        calendar: _CalendarRef,
        changes: ChangeSet,
        statuses: dict[str, Status],
        remote_items: dict[str, RemoteItem],
    ) -> None:
        if self.full:
            return  # the user asked for the provider's word to be taken as it is
        if changes.full:
            remaining = len(remote_items) + len(changes.problems)
        else:
            deleted = set(changes.deleted)
            remaining = sum(1 for s in statuses.values() if s.item_id not in deleted) + len(remote_items)
        if mass_deletion_suspected(len(statuses), remaining):
            raise SyncHalted(
                f"the calendar held {len(statuses)} events and the provider now lists none; nothing was"
                " deleted. If the calendar really is empty, run a full resync"
            )

    async def _plan(
        self,
        calendar: _CalendarRef,
        changes: ChangeSet,
        statuses: dict[str, Status],
        remote_items: dict[str, RemoteItem],
        locals_: dict[str, _Local],
    ) -> list[_Step]:
        deleted = set(changes.deleted)
        unreadable = {p.id for p in changes.problems}
        outbound = await self._outbound_hashes(calendar, remote_items, locals_)
        steps = []
        for uid in statuses.keys() | remote_items.keys() | locals_.keys():
            status, item = statuses.get(uid), remote_items.get(uid)
            if _untouched(status, item, locals_.get(uid), changes, deleted):
                continue
            remote: RemoteState | None
            if item is not None:
                remote = _remote_state(item)
            elif status is None:
                remote = None
            elif status.item_id in unreadable or not (changes.full or status.item_id in deleted):
                remote = RemoteState(status.item_id, status.etag, status.remote_hash)  # not changed
            else:
                remote = None
            local = None
            if uid in locals_:
                newest = self.settings.conflict_policy is ConflictPolicy.NEWEST_WINS and remote is not None
                modified_at = await self._modified_at(calendar.id, uid) if newest else None
                local = locals_[uid].state(outbound.get(uid), modified_at)
            decision = decide(
                status,
                remote,
                local,
                direction=self.settings.sync_direction,
                policy=self.settings.conflict_policy,
                writable=calendar.writable,
            )
            if decision.action not in (Action.NOTHING, Action.SKIP):
                steps.append(_Step(uid, decision, status, remote, local, item))
        return steps

    async def _outbound_hashes(
        self, calendar: _CalendarRef, remote_items: dict[str, RemoteItem], locals_: dict[str, _Local]
    ) -> dict[str, str]:
        """What the provider should hold for calmesh's own events that the provider mentioned."""
        uids = [uid for uid in remote_items if uid in locals_ and locals_[uid].origin is Origin.CALMESH]
        found = {}
        for uid in uids:
            events, calmesh_id = await self._mirror_series(calendar.id, uid)
            found[uid] = item_fingerprint(for_provider(events, self.settings, calmesh_id))
        return found

    async def _mirror_series(self, calendar_id: str, uid: str) -> tuple[tuple[Event, ...], str]:
        async with UnitOfWork(self.runtime) as uow:
            rows = (
                await uow.session.scalars(
                    select(models.Event)
                    .where(models.Event.calendar_id == calendar_id, models.Event.ical_uid == uid)
                    .order_by(models.Event.recurrence_id.is_not(None), models.Event.recurrence_id)
                )
            ).all()
            return tuple(event_from_row(row) for row in rows), rows[0].id if rows else ""

    # --- applying --------------------------------------------------------------------------

    async def _apply(
        self, calendar: _CalendarRef, steps: list[_Step], report: CalendarSyncReport, cursor: str | None
    ) -> str | None:
        pushes = {Action.PUSH_CREATE, Action.PUSH_UPDATE, Action.PUSH_DELETE}
        local_steps = [s for s in steps if s.decision.action not in pushes]
        push_steps = [s for s in steps if s.decision.action in pushes]
        total, done = len(steps), 0
        for start in range(0, len(local_steps), BATCH):
            batch = local_steps[start : start + BATCH]
            async with UnitOfWork(self.runtime) as uow:
                for step in batch:
                    await self._apply_locally(uow, calendar, step, report)
                await uow.commit()
            done += len(batch)
            self._progress(calendar, done, total)
            await self.checkpoint("committed")
        for step in push_steps:
            if not await self._push(calendar, step, report):
                cursor = None  # an item we could not place: list everything next time to match it
            done += 1
            self._progress(calendar, done, total)
        return cursor

    def _progress(self, calendar: _CalendarRef, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(calendar.name, done, total)

    async def _apply_locally(self, uow: UnitOfWork, calendar: _CalendarRef, step: _Step, report: CalendarSyncReport) -> None:
        action = step.decision.action
        if step.decision.conflict is not None:
            await self._record_conflict(uow, calendar, step)
            report.conflicts += 1
        if action is Action.PULL:
            assert step.remote is not None, "a pull has something to pull"
            item = step.item or await self.provider.get(calendar.provider_id, step.remote.item_id)
            if item is None:
                await self._delete_locally(uow, calendar, step.uid)
                report.deleted_locally += 1
                return
            await self._pull(uow, calendar, step, item)
            report.pulled += 1
            if step.local is None:
                report.created += 1
            else:
                report.updated += 1
        elif action is Action.DELETE_LOCAL:
            await self._delete_locally(uow, calendar, step.uid)
            report.deleted_locally += 1
        elif action is Action.RECORD:
            assert step.remote is not None and step.local is not None
            origin = step.status.origin if step.status else step.local.origin
            await self._record(uow, calendar.id, step.uid, step.remote.item_id, step.remote.etag, step.remote.hash, step.local.hash, origin)
        elif action is Action.FORGET:
            await self._forget(uow, calendar.id, step.uid)

    async def _pull(self, uow: UnitOfWork, calendar: _CalendarRef, step: _Step, item: RemoteItem) -> None:
        if step.status is not None:
            origin = step.status.origin
        elif step.local is not None:
            origin = step.local.origin
        else:
            origin = Origin.CALMESH if TAG in item.events[0].x_properties else Origin.PROVIDER
        events = item.events
        if origin is Origin.CALMESH and step.local is not None:
            before, _ = await self._mirror_series(calendar.id, step.uid)
            events = merge_from_provider(before, events, self.settings)
        await mirror.replace_series(
            uow, self.tenant_id, calendar.id, events, origin=origin.value, provider_event_id=item.id, etag=item.etag
        )
        await self._record(
            uow, calendar.id, step.uid, item.id, item.etag, item_fingerprint(item.events), item_fingerprint(events), origin
        )

    async def _delete_locally(self, uow: UnitOfWork, calendar: _CalendarRef, uid: str) -> None:
        await mirror.delete_series(uow, self.tenant_id, calendar.id, uid)
        await self._forget(uow, calendar.id, uid)

    async def _record(
        self,
        uow: UnitOfWork,
        calendar_id: str,
        uid: str,
        item_id: str,
        etag: str | None,
        remote_hash: str,
        local_hash: str,
        origin: Origin,
    ) -> None:
        await self._forget(uow, calendar_id, uid)
        await uow.session.execute(
            insert(models.SyncItem).values(
                calendar_id=calendar_id,
                item_id=item_id,
                tenant_id=self.tenant_id,
                ical_uid=uid,
                etag=etag,
                remote_hash=remote_hash,
                local_hash=local_hash,
                origin=origin.value,
            )
        )

    async def _forget(self, uow: UnitOfWork, calendar_id: str, uid: str) -> None:
        await uow.session.execute(
            delete(models.SyncItem).where(models.SyncItem.calendar_id == calendar_id, models.SyncItem.ical_uid == uid)
        )

    async def _record_conflict(self, uow: UnitOfWork, calendar: _CalendarRef, step: _Step) -> None:
        local_events, _ = await self._mirror_series(calendar.id, step.uid)
        remote_events = step.item.events if step.item else ()
        uow.session.add(
            models.SyncConflict(
                id=new_id("cfl"),
                tenant_id=self.tenant_id,
                connection_id=self.connection_id,
                calendar_id=calendar.id,
                item_id=step.remote.item_id if step.remote else (step.status.item_id if step.status else None),
                ical_uid=step.uid,
                policy=self.settings.conflict_policy.value,
                winner=(step.decision.conflict or Side.REMOTE).value,
                local_summary=local_events[0].summary if local_events else None,
                remote_summary=remote_events[0].summary if remote_events else None,
                detected_at=_now(),
            )
        )

    async def _push(self, calendar: _CalendarRef, step: _Step, report: CalendarSyncReport, retried: bool = False) -> bool:
        """One provider write, then the transaction recording it. False: the item could not be placed."""
        action = step.decision.action
        await self.checkpoint(f"before-{action.value}")
        try:
            if action is Action.PUSH_DELETE:
                assert step.status is not None
                # The listing's etag when the provider mentioned the item (a rewrite that changed
                # nothing but the etag must not block the deletion), else the status's.
                etag = step.remote.etag if step.remote is not None else step.status.etag
                await self.provider.delete(calendar.provider_id, step.status.item_id, etag)
                async with UnitOfWork(self.runtime) as uow:
                    await self._forget(uow, calendar.id, step.uid)
                    await uow.commit()
                report.deleted_remotely += 1
            else:
                await self._write(calendar, step, report)
        except PreconditionFailed:
            if retried or action is Action.PUSH_CREATE:
                # Someone else holds the item: the next full listing will show it and match it by UID.
                report.problems.append({"itemId": step.uid, "message": "changed at the provider while being written; retried next sync"})
                return False
            return await self._replan_after_precondition(calendar, step, report)
        await self.checkpoint(f"after-{action.value}")
        return True

    async def _write(self, calendar: _CalendarRef, step: _Step, report: CalendarSyncReport) -> None:
        assert step.local is not None
        events, calmesh_id = await self._mirror_series(calendar.id, step.uid)
        if not events:
            return  # deleted in calmesh since it was planned: the next sync deletes it
        origin = step.local.origin
        sent = for_provider(events, self.settings, calmesh_id) if origin is Origin.CALMESH else events
        try:
            if step.decision.action is Action.PUSH_CREATE:
                written = await self.provider.create(calendar.provider_id, sent)
            else:
                item_id = step.remote.item_id if step.remote else step.status.item_id if step.status else ""
                etag = step.remote.etag if step.remote else step.status.etag if step.status else None
                written = await self.provider.update(calendar.provider_id, item_id, sent, etag)
        except PartiallyWritten as partial:
            # The item exists at the provider: record it like any write, and say what is missing.
            written = partial.written
            report.problems.append({"itemId": step.uid, "message": partial.message})
        await self.checkpoint(f"written-{step.decision.action.value}")
        # What the provider stored is what the next listing shows: its fingerprint, not ours,
        # is the remote side's, so that its own additions do not read as a change later.
        remote_hash = item_fingerprint(written.events) if written.events else item_fingerprint(sent)
        completed = completed_conferences(events, written.events) if written.events else None
        async with UnitOfWork(self.runtime) as uow:
            if step.decision.conflict is not None:
                await self._record_conflict(uow, calendar, step)
                report.conflicts += 1
            local_hash = step.local.hash
            if completed is not None:  # the Meet link the provider made, into the mirror
                await mirror.replace_series(
                    uow, self.tenant_id, calendar.id, completed, origin=origin.value, provider_event_id=written.id, etag=written.etag
                )
                local_hash = item_fingerprint(completed)
            await self._record(uow, calendar.id, step.uid, written.id, written.etag, remote_hash, local_hash, origin)
            await uow.session.execute(
                update(models.Event)
                .where(models.Event.calendar_id == calendar.id, models.Event.ical_uid == step.uid)
                .values(provider_event_id=written.id, etag=written.etag)
            )
            await uow.commit()
        report.pushed += 1

    async def _replan_after_precondition(self, calendar: _CalendarRef, step: _Step, report: CalendarSyncReport) -> bool:
        """The provider's item changed under us: read it and decide again (a conflict, usually)."""
        known = step.status or step.remote
        assert known is not None, "a write with a precondition names an item the provider has"
        item = await self.provider.get(calendar.provider_id, known.item_id)
        remote = _remote_state(item) if item is not None else None
        decision = decide(
            step.status,
            remote,
            step.local,
            direction=self.settings.sync_direction,
            policy=self.settings.conflict_policy,
            writable=calendar.writable,
        )
        again = _Step(step.uid, decision, step.status, remote, step.local, item)
        if decision.action in (Action.PUSH_CREATE, Action.PUSH_UPDATE, Action.PUSH_DELETE):
            return await self._push(calendar, again, report, retried=True)
        if decision.action not in (Action.NOTHING, Action.SKIP):
            async with UnitOfWork(self.runtime) as uow:
                await self._apply_locally(uow, calendar, again, report)
                await uow.commit()
        return True

    async def _initial_import(
        self, calendar: _CalendarRef, remote_items: dict[str, RemoteItem], report: CalendarSyncReport
    ) -> None:
        """An empty calendar meets its first full listing: bulk insert, index once."""
        items = list(remote_items.values())
        if not self.settings.pulls:
            items = [i for i in items if TAG in i.events[0].x_properties]
        async with UnitOfWork(self.runtime) as uow:
            await mirror.load_events(
                uow,
                self.tenant_id,
                calendar.id,
                (event for item in items for event in item.events),
                provider_event_ids={item.uid: item.id for item in items},
                etags={item.uid: item.etag for item in items},
                origins={item.uid: "calmesh" for item in items if TAG in item.events[0].x_properties},
            )
            records = []
            for item in items:
                digest = item_fingerprint(item.events)
                origin = Origin.CALMESH if TAG in item.events[0].x_properties else Origin.PROVIDER
                records.append(
                    {
                        "calendar_id": calendar.id,
                        "item_id": item.id,
                        "tenant_id": self.tenant_id,
                        "ical_uid": item.uid,
                        "etag": item.etag,
                        "remote_hash": digest,
                        "local_hash": digest,
                        "origin": origin.value,
                    }
                )
            await insert_many(uow.session, models.SyncItem, records)
            await uow.commit()
        report.pulled = report.created = len(items)
        self._progress(calendar, len(items), len(items))
        await self.checkpoint("committed")

    async def _save_cursor(self, calendar: _CalendarRef, changes: ChangeSet, report: CalendarSyncReport) -> None:
        await self.checkpoint("before-cursor")
        now = _now()
        async with UnitOfWork(self.runtime) as uow:
            state = await self._state(uow, calendar.id)
            state.cursor = changes.cursor
            state.last_sync_at = now
            if changes.full:
                state.last_full_sync_at = now
            state.problems = report.problems or None
            state.last_error = None
            state.item_count = await uow.session.scalar(
                select(func.count()).select_from(models.SyncItem).where(models.SyncItem.calendar_id == calendar.id)
            ) or 0
            await uow.commit()


# --- one series, written through (the /v1/events API) ---------------------------------------


async def push_series(runtime: Runtime, tenant_id: str, calendar_id: str, uid: str) -> CalendarSyncReport:
    """Write one mirror series through to its provider now (create, update or delete), as the
    sync would: same decision, same preconditions, same status. Provider errors propagate; the
    series stays pending and the next sync retries it."""
    async with UnitOfWork(runtime) as uow:
        calendar = await uow.owned(models.Calendar, calendar_id, tenant_id, "no such calendar")
        connection = await uow.session.get(models.Connection, calendar.connection_id)
        assert connection is not None
        settings = SyncSettings.model_validate(connection.settings or {})
        provider = await open_connection_provider(runtime, uow, connection)
        ref = _CalendarRef(calendar.id, calendar.provider_calendar_id, calendar.name, provider.capabilities.write and not calendar.read_only)
        row = await uow.session.scalar(
            select(models.SyncItem).where(models.SyncItem.calendar_id == calendar_id, models.SyncItem.ical_uid == uid)
        )
        status = (
            Status(row.item_id, row.ical_uid, row.etag, row.remote_hash, row.local_hash, Origin(row.origin)) if row else None
        )
        connection_id = connection.id
    try:
        run = _CalendarRun(runtime, provider, tenant_id, connection_id, settings, False, _no_checkpoint, None)
        report = CalendarSyncReport(ref.id, ref.name)
        found = await run._locals(ref.id, uid)
        local = found[uid].state(modified_at=await run._modified_at(ref.id, uid)) if uid in found else None
        remote = RemoteState(status.item_id, status.etag, status.remote_hash) if status else None
        if status is None and local is None:
            return report
        decision = decide(status, remote, local, direction=settings.sync_direction, policy=settings.conflict_policy, writable=ref.writable)
        step = _Step(uid, decision, status, remote, local, None)
        if decision.action in (Action.PUSH_CREATE, Action.PUSH_UPDATE, Action.PUSH_DELETE):
            await run._push(ref, step, report)
        return report
    finally:
        await provider.aclose()



# --- scheduling -----------------------------------------------------------------------------


async def due_connections(runtime: Runtime, *, limit: int = 20) -> list[str]:
    """Connections whose next sync time has come and that nobody is syncing, oldest first."""
    now = _now()
    async with UnitOfWork(runtime) as uow:
        rows = await uow.session.scalars(
            select(models.Connection.id)
            .where(
                models.Connection.status.not_in(("DISCONNECTED", "TOKEN_EXPIRED")),
                models.Connection.provider.not_in(tuple(CONFERENCING_SERVICES)),  # they have nothing to sync
                or_(models.Connection.next_sync_at.is_(None), models.Connection.next_sync_at <= now),
                or_(models.Connection.sync_lease_until.is_(None), models.Connection.sync_lease_until < now),
            )
            .order_by(models.Connection.next_sync_at)
            .limit(limit)
        )
        return list(rows.all())
