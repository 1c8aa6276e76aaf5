"""Integrations (connections) as the API and the CLI see them: connect, configure, list, delete,
their calendars, resync requests and sync status (PRODUCT.md C1-C5, S1, S5, M3, M5; seed 001).

Connecting proves the credentials first — the provider lists the account's calendars — and only
then stores anything: the connection, its sealed secrets and its calendars in one transaction.
Secrets never come back out: views show the account without its password, and a feed's secret
address only as its scheme and host.

Conferencing integrations (Zoom) belong to a calmesh user and have no calendars: they are proven
by asking who the tokens act as, never synced, and their settings are only
``defaultMeetingSettings`` (the meetings they make: :mod:`calmesh.services.meetings`). Their sync
status shows the day's meeting requests (``meetingQuota``) and any wait Zoom asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from sqlalchemy import func, or_, select

from calmesh.errors import CalmeshError, InvalidInput, InvalidState, NotFound, ProviderAuthFailed
from calmesh.ids import new_id
from calmesh.providers.base import CalendarProvider, ConferencingProvider, ProviderConfig, RemoteCalendar
from calmesh.providers.registry import open_conferencing_provider, open_provider
from calmesh.schemas import ApiModel, Page
from calmesh.services import oauth
from calmesh.services.connection_events import announce_disconnected, mark_token_expired
from calmesh.services.credentials import store_credentials
from calmesh.services.meetings import (
    CONFERENCING_SERVICES,
    conferencing_config,
    forget_connection_data,
    meeting_quota,
    meeting_settings,
    open_conferencing_connection,
)
from calmesh.services.oauth import OAUTH_PROVIDERS
from calmesh.services.pagination import paginate
from calmesh.services.push import stop_channels
from calmesh.services.runtime import Runtime
from calmesh.services.sync import connection_provider_config, open_connection_provider
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.sync.settings import MeetingSettings, SyncDirection, SyncSettings, calendar_selected

__all__ = [
    "CalendarRead",
    "ConflictRead",
    "IntegrationCreate",
    "IntegrationRead",
    "MeetingQuotaRead",
    "ResyncRequest",
    "SyncStatusRead",
    "configure",
    "connect",
    "connect_or_reauthenticate",
    "check_credentials",
    "disconnect",
    "due_credential_checks",
    "get_integration",
    "list_calendars",
    "list_conflicts",
    "list_integrations",
    "overview",
    "refresh",
    "request_resync",
    "sync_status",
]

CALDAV_PRESETS = ("icloud", "fastmail", "nextcloud")
#: How long credentials may go unproven before the health check asks the provider.
CREDENTIAL_CHECK_INTERVAL = timedelta(days=1)

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- shapes ---------------------------------------------------------------------------------


class IntegrationCreate(ApiModel):
    """``integrations.connect``.

    GOOGLE: the ``code`` the provider sent to the redirect URI, with that ``redirectUri`` and
    the ``state`` (from ``POST /v1/integrations/auth-url``; without it, the tenant's latest
    sign-in for that redirect URI is meant).
    CALDAV: ``serverUrl`` (or a ``preset``: icloud, fastmail, nextcloud — Nextcloud still needs
    ``serverUrl``), ``username`` and ``password`` (an app-specific password for iCloud; both
    may be left out for a server without authentication).
    ICS: ``url`` of the feed (``webcal://`` too).
    ZOOM: as GOOGLE, and the ``userId`` of the calmesh user whose meetings it makes (or the one
    given to ``auth-url``); ``settings`` may hold only ``defaultMeetingSettings``.
    """

    provider: Literal["GOOGLE", "CALDAV", "ICS", "ZOOM"]
    code: str | None = Field(default=None, max_length=4000, repr=False, description="OAuth providers: the authorization code.")
    redirect_uri: str | None = Field(default=None, max_length=2000, description="OAuth providers: the redirect URI the code was sent to.")
    state: str | None = Field(default=None, max_length=128, description="OAuth providers: the state the code came back with.")
    server_url: str | None = Field(default=None, max_length=2000)
    username: str | None = Field(default=None, max_length=320)
    password: str | None = Field(default=None, max_length=1000, repr=False)
    preset: Literal["icloud", "fastmail", "nextcloud"] | None = None
    url: str | None = Field(default=None, max_length=4000, repr=False, description="ICS feed address.")
    user_id: str | None = Field(
        default=None, description="The calmesh user whose account this is (ZOOM: required here or at auth-url)."
    )
    settings: SyncSettings | None = Field(
        default=None, description="Sync settings; a ZOOM integration takes only defaultMeetingSettings."
    )
    connection_id: str | None = Field(
        default=None,
        description="Re-authenticate this existing integration (e.g. after TOKEN_EXPIRED): it keeps its id, settings and sync state.",
    )

    @model_validator(mode="after")
    def _complete(self) -> IntegrationCreate:
        if self.provider in OAUTH_PROVIDERS:
            if not self.code:
                raise ValueError(f"{self.provider} needs the authorization code (get the sign-in URL from /v1/integrations/auth-url)")
        elif self.provider == "CALDAV":
            if self.password and not self.username:
                raise ValueError("CALDAV needs the username that goes with the password")
            if not self.server_url and self.preset in (None, "nextcloud"):
                raise ValueError("CALDAV needs serverUrl (or the preset icloud or fastmail)")
        elif not self.url:
            raise ValueError("ICS needs url")
        return self


class IntegrationRead(ApiModel):
    id: str
    provider: str
    status: str
    user_id: str | None
    account: dict[str, Any]
    account_email: str | None
    settings: SyncSettings
    permissions: dict[str, Any]
    last_sync_at: datetime | None
    last_error: str | None
    #: When the credentials last proved themselves (a sync, a refresh, the daily check).
    credentials_checked_at: datetime | None
    created_at: datetime


class CalendarRead(ApiModel):
    id: str
    provider_calendar_id: str
    name: str
    is_primary: bool
    color: str | None
    read_only: bool
    time_zone: str | None
    #: Synced (calendarsToSync).
    selected: bool


class SyncStatusCalendar(ApiModel):
    id: str
    name: str
    last_sync_at: datetime | None
    last_full_sync_at: datetime | None
    item_count: int
    last_error: str | None
    problems: list[dict[str, Any]]
    #: When this calendar's push channel ends (it is renewed before); None: polled only.
    push_expires_at: datetime | None = None


class MeetingQuotaRead(ApiModel):
    """A conferencing integration's meeting requests today (Zoom: 100 a day, PRODUCT.md M5)."""

    used: int
    limit: int
    #: The next 00:00 UTC, when the count starts again.
    resets_at: datetime


class SyncStatusRead(ApiModel):
    state: str
    last_sync_at: datetime | None
    next_sync_at: datetime | None
    rate_limited: bool
    rate_limit_resets_at: datetime | None
    last_error: str | None
    full_sync_requested: bool
    conflicts: int
    calendars: list[SyncStatusCalendar]
    #: Conferencing integrations (Zoom): today's meeting requests; None for calendars.
    meeting_quota: MeetingQuotaRead | None = None


class ResyncRequest(ApiModel):
    full_sync: bool = False


class ConflictRead(ApiModel):
    id: str
    calendar_id: str
    item_id: str | None
    ical_uid: str
    policy: str
    winner: str
    local_summary: str | None
    remote_summary: str | None
    detected_at: datetime


# --- connecting ----------------------------------------------------------------------------


def _display_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/…"


def _account_and_secrets(data: IntegrationCreate) -> tuple[dict[str, str], dict[str, str]]:
    if data.provider == "CALDAV":
        account = {"username": data.username} if data.username else {}
        if data.server_url:
            account["serverUrl"] = data.server_url
        if data.preset:
            account["preset"] = data.preset
        return account, {"password": data.password} if data.password else {}
    return {"displayUrl": _display_url(data.url or "")}, {"url": data.url or ""}


def _settings_for(provider: str, settings: SyncSettings) -> SyncSettings:
    if provider in CONFERENCING_SERVICES:
        calendar_fields = sorted(settings.model_fields_set - {"default_meeting_settings"})
        if calendar_fields:
            name = SyncSettings.model_fields[calendar_fields[0]].alias or calendar_fields[0]
            raise InvalidInput(
                f"a {provider} integration has no calendars to sync: only defaultMeetingSettings applies", field=f"settings.{name}"
            )
        return SyncSettings(default_meeting_settings=settings.default_meeting_settings or MeetingSettings())
    if settings.default_meeting_settings is not None:
        raise InvalidInput(
            "defaultMeetingSettings applies to conferencing integrations (ZOOM) only", field="settings.defaultMeetingSettings"
        )
    if provider == "ICS" and settings.sync_direction is not SyncDirection.INBOUND:
        if "sync_direction" in settings.model_fields_set:
            raise InvalidInput("an ICS feed is read-only: its syncDirection can only be INBOUND", field="settings.syncDirection")
        settings = settings.model_copy(update={"sync_direction": SyncDirection.INBOUND})
    return settings


def _read(connection: models.Connection) -> IntegrationRead:
    return IntegrationRead(
        id=connection.id,
        provider=connection.provider,
        status=connection.status,
        user_id=connection.user_id,
        account=dict(connection.account or {}),
        account_email=connection.account_email,
        settings=SyncSettings.model_validate(connection.settings or {}),
        permissions=dict(connection.permissions or {}),
        last_sync_at=connection.last_sync_at,
        last_error=connection.last_error,
        credentials_checked_at=connection.credentials_checked_at,
        created_at=connection.created_at,
    )


async def connect(runtime: Runtime, tenant_id: str, data: IntegrationCreate) -> IntegrationRead:
    """Connect an account, or re-authenticate one (``connectionId``, or a sign-in started for one)."""
    read, _ = await connect_or_reauthenticate(runtime, tenant_id, data)
    return read


async def connect_or_reauthenticate(runtime: Runtime, tenant_id: str, data: IntegrationCreate) -> tuple[IntegrationRead, bool]:
    """:func:`connect`, also saying whether an existing integration was re-authenticated."""
    if data.provider in OAUTH_PROVIDERS:
        assert data.code is not None
        if data.settings is not None:
            _settings_for(data.provider, data.settings)  # refused before the code is used up
        proven = await oauth.redeem(
            runtime, tenant_id, data.provider, data.code,
            redirect_uri=data.redirect_uri, state=data.state, user_id=data.user_id, connection_id=data.connection_id,
        )
        connection_id = data.connection_id or proven.connection_id
        if connection_id is not None:
            async with UnitOfWork(runtime) as uow:
                _check_same_account(await _connection(uow, tenant_id, connection_id), data.provider, proven)
        read = await _store(runtime, tenant_id, data, proven, connection_id, data.user_id or proven.user_id)
        return read, connection_id is not None
    account, secrets = _account_and_secrets(data)
    if data.connection_id is not None:
        async with UnitOfWork(runtime) as uow:  # refused before the provider is asked anything
            _check_reauthentication(await _connection(uow, tenant_id, data.connection_id), data, account)
    config = ProviderConfig(
        account=account,
        secrets=secrets,
        allow_private_network=runtime.settings.allow_private_network,
        timeout_seconds=runtime.settings.provider_timeout_seconds,
    )
    provider = open_provider(data.provider, config)
    try:
        calendars = await provider.list_calendars()  # proves the credentials before we keep them
        writable = provider.capabilities.write
    finally:
        await provider.aclose()
    proven = oauth.ProvenAccount(account, secrets, _account_email(data), calendars, writable, None, None, None)
    return await _store(runtime, tenant_id, data, proven, data.connection_id, data.user_id), data.connection_id is not None


async def _store(
    runtime: Runtime, tenant_id: str, data: IntegrationCreate, proven: oauth.ProvenAccount, connection_id: str | None, user_id: str | None
) -> IntegrationRead:
    """Keep a proven account: a new connection with its calendars, or new credentials for one."""
    if connection_id is not None:
        return await _reauthenticate(runtime, tenant_id, connection_id, data, proven)
    settings = _settings_for(data.provider, data.settings or SyncSettings())
    conferencing = data.provider in CONFERENCING_SERVICES
    async with UnitOfWork(runtime) as uow:
        if user_id is not None:
            user = await uow.session.get(models.User, user_id)
            if user is None or user.tenant_id != tenant_id:
                raise InvalidInput("no such user", field="userId")
        connection = models.Connection(
            id=new_id("int"),
            tenant_id=tenant_id,
            user_id=user_id,
            provider=data.provider,
            status="ACTIVE",
            account=proven.account,
            account_email=proven.email,
            settings=settings.as_stored(),
            permissions={"meetings": "write"} if conferencing else {"calendar": "write" if proven.writable else "read"},
            # A conferencing integration is never synced: nothing to schedule.
            next_sync_at=None if conferencing else _now(),
            calendars_refreshed_at=None if conferencing else _now(),
            credentials_checked_at=_now(),
            version=1,
        )
        uow.session.add(connection)
        await uow.session.flush()
        await store_credentials(uow, tenant_id, connection.id, proven.secrets)
        for remote in proven.calendars:
            uow.session.add(_calendar_row(connection, remote, settings))
        await uow.commit()
        read = _read(connection)
    runtime.signals.sync_requested.set()
    return read


def _account_email(data: IntegrationCreate) -> str | None:
    return data.username if data.username and "@" in data.username else None


def _check_reauthentication(connection: models.Connection, data: IntegrationCreate, account: dict[str, str]) -> None:
    if connection.provider != data.provider:
        raise InvalidInput(f"connectionId names a {connection.provider} integration, not {data.provider}", field="connectionId")
    stored = connection.account or {}
    if data.provider == "CALDAV" and (stored.get("serverUrl"), stored.get("preset")) != (account.get("serverUrl"), account.get("preset")):
        raise InvalidInput("re-authentication keeps the server; connect a new integration for another server", field="serverUrl")


def _check_same_account(connection: models.Connection, provider: str, proven: oauth.ProvenAccount) -> None:
    """An OAuth re-authentication must sign in to the same account: its mirror (its meetings) is
    that account's."""
    if connection.provider != provider:
        raise InvalidInput(f"connectionId names a {connection.provider} integration, not {provider}", field="connectionId")
    email = proven.email
    was, now = (connection.account or {}).get("zoomUserId"), proven.account.get("zoomUserId")
    if was and now and was != now:
        raise InvalidInput(
            f"this integration is {connection.account_email or 'another Zoom user'}'s; the sign-in was {email or 'another user'}'s."
            " Connect it as a new integration instead",
            field="connectionId",
        )
    if connection.account_email and email and connection.account_email.lower() != email.lower():
        raise InvalidInput(
            f"this integration is {connection.account_email}'s; the sign-in was {email}'s. Connect it as a new integration instead",
            field="connectionId",
        )


def _reactivate(connection: models.Connection, now: datetime) -> None:
    """Credentials that work again: ACTIVE, the error forgotten, and a requested sync due now
    (the caller nudges the scheduler after committing) — none for a conferencing integration."""
    connection.status, connection.last_error, connection.failure_count = "ACTIVE", None, 0
    connection.credentials_checked_at = now
    if connection.provider not in CONFERENCING_SERVICES:
        connection.next_sync_at = now
        connection.sync_requested = True


async def _reauthenticate(
    runtime: Runtime, tenant_id: str, connection_id: str, data: IntegrationCreate, proven: oauth.ProvenAccount
) -> IntegrationRead:
    """New credentials for an existing connection: back to ACTIVE with its settings, calendars and
    sync cursors, and an incremental sync started at once."""
    async with UnitOfWork(runtime) as uow:
        connection = await _connection(uow, tenant_id, connection_id)
        if data.settings is not None:
            connection.settings = _settings_for(data.provider, data.settings).as_stored()
        connection.account = proven.account or connection.account
        connection.account_email = proven.email or connection.account_email
        await store_credentials(uow, tenant_id, connection.id, proven.secrets)
        _reactivate(connection, _now())
        connection.version += 1
        await uow.commit()
        read = _read(connection)
    runtime.signals.sync_requested.set()
    return read


def _calendar_row(connection: models.Connection, remote: RemoteCalendar, settings: SyncSettings) -> models.Calendar:
    calendar_id = new_id("cal")
    return models.Calendar(
        id=calendar_id,
        tenant_id=connection.tenant_id,
        connection_id=connection.id,
        provider_calendar_id=remote.id,
        name=remote.name,
        description=remote.description,
        color=remote.color,
        time_zone=remote.time_zone,
        is_primary=remote.is_primary,
        read_only=remote.read_only,
        selected=calendar_selected(
            settings.calendars_to_sync, calendar_id=calendar_id, provider_id=remote.id, is_primary=remote.is_primary
        ),
    )


# --- reading and changing ------------------------------------------------------------------


async def _connection(uow: UnitOfWork, tenant_id: str, integration_id: str) -> models.Connection:
    return await uow.owned(models.Connection, integration_id, tenant_id, "no such integration")


async def get_integration(runtime: Runtime, tenant_id: str, integration_id: str) -> IntegrationRead:
    async with UnitOfWork(runtime) as uow:
        return _read(await _connection(uow, tenant_id, integration_id))


async def list_integrations(runtime: Runtime, tenant_id: str, *, limit: int, cursor: str | None) -> Page[IntegrationRead]:
    async with UnitOfWork(runtime) as uow:
        statement = select(models.Connection).where(models.Connection.tenant_id == tenant_id)
        return await paginate(uow.session, statement, models.Connection.id, _read, limit=limit, cursor=cursor)


async def configure(runtime: Runtime, tenant_id: str, integration_id: str, changes: dict[str, Any]) -> IntegrationRead:
    """Merge seed 001's ``configure`` fields (camelCase, partial) into the stored settings; a
    conferencing integration's ``defaultMeetingSettings`` are merged field by field."""
    async with UnitOfWork(runtime) as uow:
        connection = await _connection(uow, tenant_id, integration_id)
        if connection.provider in CONFERENCING_SERVICES:
            return await _configure_meetings(uow, connection, changes)
        current = SyncSettings.model_validate(connection.settings or {}).as_stored()
        try:
            settings = SyncSettings.model_validate({**current, **changes})
        except ValueError as exc:
            raise InvalidInput(f"invalid settings: {exc}") from exc
        if settings.default_meeting_settings is not None:
            raise InvalidInput("defaultMeetingSettings applies to conferencing integrations (ZOOM) only", field="defaultMeetingSettings")
        if connection.provider == "ICS" and settings.sync_direction is not SyncDirection.INBOUND:
            raise InvalidInput("an ICS feed is read-only: its syncDirection can only be INBOUND", field="syncDirection")
        connection.settings = settings.as_stored()
        connection.version += 1
        for calendar in (
            await uow.session.scalars(select(models.Calendar).where(models.Calendar.connection_id == connection.id))
        ).all():
            calendar.selected = calendar_selected(
                settings.calendars_to_sync,
                calendar_id=calendar.id,
                provider_id=calendar.provider_calendar_id,
                is_primary=calendar.is_primary,
            )
        await uow.commit()
        return _read(connection)


async def _configure_meetings(uow: UnitOfWork, connection: models.Connection, changes: dict[str, Any]) -> IntegrationRead:
    others = sorted(set(changes) - {"defaultMeetingSettings", "default_meeting_settings"})
    if others:
        raise InvalidInput(
            f"a {connection.provider} integration has no calendars to sync: only defaultMeetingSettings can be set", field=others[0]
        )
    current = meeting_settings(connection)
    given = changes.get("defaultMeetingSettings", changes.get("default_meeting_settings"))
    try:
        if given is None:  # null: back to the defaults
            chosen = MeetingSettings()
        elif isinstance(given, dict):
            chosen = MeetingSettings.model_validate({**current.model_dump(by_alias=True), **given})
        else:
            raise InvalidInput("defaultMeetingSettings must be an object", field="defaultMeetingSettings")
    except ValueError as exc:
        raise InvalidInput(f"invalid defaultMeetingSettings: {exc}", field="defaultMeetingSettings") from exc
    connection.settings = SyncSettings(default_meeting_settings=chosen).as_stored()
    connection.version += 1
    await uow.commit()
    return _read(connection)


async def disconnect(runtime: Runtime, tenant_id: str, integration_id: str) -> None:
    """Stop its push channels and revoke calmesh's access at the provider where it can, then
    forget the connection: its secrets, calendars, mirror, sync state and stored meetings go with
    it (bookings keep no link to those), and ``integration.disconnected`` is announced in the
    same transaction."""
    async with UnitOfWork(runtime) as uow:
        connection = await _connection(uow, tenant_id, integration_id)
        if connection.provider in CONFERENCING_SERVICES:
            service = await _service_if_credentials(runtime, uow, connection)
            provider = None
        else:
            provider, service = await _provider_if_credentials(runtime, uow, connection), None
    revoked = False
    if service is not None:
        try:
            revoked = await service.revoke()
        except CalmeshError as error:
            log.warning("revocation failed; deleting the credentials anyway", extra={"connection_id": integration_id, "error": error.message})
        finally:
            await service.aclose()
    if provider is not None:
        try:
            await stop_channels(runtime, provider, integration_id)
            revoked = await provider.revoke()
        except CalmeshError as error:
            # The user asked to disconnect: an unreachable provider must not keep the credentials.
            log.warning("revocation failed; deleting the credentials anyway", extra={"connection_id": integration_id, "error": error.message})
        finally:
            await provider.aclose()
    async with UnitOfWork(runtime) as uow:
        connection = await _connection(uow, tenant_id, integration_id)
        await announce_disconnected(uow, connection, "user", revoked)
        await forget_connection_data(uow, connection)
        # Flushed first: with no relationship between the two, the unit of work may delete the
        # connection first, whose ON DELETE CASCADE takes the credentials row with it.
        await uow.session.flush()
        await uow.session.delete(connection)
        await uow.commit()


async def _provider_if_credentials(runtime: Runtime, uow: UnitOfWork, connection: models.Connection) -> CalendarProvider | None:
    try:
        return await open_connection_provider(runtime, uow, connection)
    except NotFound:
        return None  # nothing left to revoke


async def _service_if_credentials(runtime: Runtime, uow: UnitOfWork, connection: models.Connection) -> ConferencingProvider | None:
    try:
        return await open_conferencing_connection(runtime, uow, connection)
    except NotFound:
        return None  # nothing left to revoke (Zoom's app_deauthorized took them)


# --- credential health: refresh, the daily check -------------------------------------------


async def refresh(runtime: Runtime, tenant_id: str, integration_id: str) -> IntegrationRead:
    """``integrations.refresh``: prove the credentials now (an OAuth provider refreshes its token
    on the way). A connection that works again leaves TOKEN_EXPIRED or ERROR and syncs at once;
    refused credentials move it to TOKEN_EXPIRED and raise."""
    async with UnitOfWork(runtime) as uow:
        await _connection(uow, tenant_id, integration_id)
    await check_credentials(runtime, integration_id, raise_errors=True, refresh_token=True)
    return await get_integration(runtime, tenant_id, integration_id)


async def check_credentials(runtime: Runtime, connection_id: str, *, raise_errors: bool = False, refresh_token: bool = False) -> str:
    """Ask the provider whether the connection's credentials still work; returns the state after.
    ``refresh_token``: an OAuth connection also refreshes its access token first.

    Refused credentials: TOKEN_EXPIRED (announced once, syncs stop). Working credentials of a
    connection in TOKEN_EXPIRED or ERROR: ACTIVE, and a sync is due now. A provider that cannot
    be reached changes nothing (the sync's own retries deal with outages); the error is raised
    when ``raise_errors``.
    """
    async with UnitOfWork(runtime) as uow:
        connection = await uow.session.get(models.Connection, connection_id)
        if connection is None:
            raise NotFound("no such integration")
        if connection.status == "DISCONNECTED":
            raise InvalidState("this integration is disconnected")
        prove: Callable[[], Awaitable[object]]
        if connection.provider in CONFERENCING_SERVICES:  # proven by saying who they act as
            config = await conferencing_config(runtime, uow, connection)
            service = open_conferencing_provider(connection.provider, config)
            prove, close = service.account, service.aclose
        else:
            config = await connection_provider_config(runtime, uow, connection)
            provider = open_provider(connection.provider, config)
            prove, close = provider.list_calendars, provider.aclose
    failure: CalmeshError | None = None
    try:
        if refresh_token and config.tokens is not None:  # an OAuth token is proven by refreshing it
            await config.tokens.refresh(await config.tokens.current())
        await prove()
    except CalmeshError as error:
        failure = error
    finally:
        await close()
    now = _now()
    async with UnitOfWork(runtime) as uow:
        connection = await uow.session.get(models.Connection, connection_id)
        if connection is None:
            raise NotFound("no such integration")
        connection.credentials_checked_at = now
        if isinstance(failure, ProviderAuthFailed):
            await mark_token_expired(uow, connection, failure, now)
        elif failure is None and connection.status in ("TOKEN_EXPIRED", "ERROR"):
            _reactivate(connection, now)
        await uow.commit()
        state = connection.status
    if failure is None and state == "ACTIVE":
        runtime.signals.sync_requested.set()
    if failure is not None and raise_errors:
        raise failure
    return state


async def due_credential_checks(runtime: Runtime, *, limit: int = 20) -> list[str]:
    """Connections whose credentials have not proved themselves for a day (and are not syncing)."""
    now = _now()
    async with UnitOfWork(runtime) as uow:
        rows = await uow.session.scalars(
            select(models.Connection.id)
            .where(
                models.Connection.status.in_(("ACTIVE", "ERROR")),
                or_(models.Connection.credentials_checked_at.is_(None), models.Connection.credentials_checked_at < now - CREDENTIAL_CHECK_INTERVAL),
                or_(models.Connection.sync_lease_until.is_(None), models.Connection.sync_lease_until < now),
            )
            .order_by(models.Connection.credentials_checked_at)
            .limit(limit)
        )
        return list(rows.all())


def _calendar_read(calendar: models.Calendar) -> CalendarRead:
    return CalendarRead.model_validate(calendar)


async def list_calendars(runtime: Runtime, tenant_id: str, integration_id: str, *, limit: int, cursor: str | None) -> Page[CalendarRead]:
    async with UnitOfWork(runtime) as uow:
        connection = await _connection(uow, tenant_id, integration_id)
        statement = select(models.Calendar).where(models.Calendar.connection_id == connection.id)
        return await paginate(uow.session, statement, models.Calendar.id, _calendar_read, limit=limit, cursor=cursor)


async def request_resync(runtime: Runtime, tenant_id: str, integration_id: str, request: ResyncRequest) -> SyncStatusRead:
    """Ask for a sync as soon as a worker is free (``fullSync`` forgets every cursor first)."""
    async with UnitOfWork(runtime) as uow:
        connection = await _connection(uow, tenant_id, integration_id)
        if connection.provider in CONFERENCING_SERVICES:
            raise InvalidState(f"a {connection.provider} integration has no calendars to sync")
        if connection.status == "DISCONNECTED":
            raise InvalidState("this integration is disconnected")
        if connection.status == "TOKEN_EXPIRED":
            raise InvalidState("this integration needs re-authentication first (POST /v1/integrations with connectionId)")
        connection.next_sync_at = _now()
        connection.sync_requested = True
        connection.full_sync_requested = connection.full_sync_requested or request.full_sync
        await uow.commit()
    runtime.signals.sync_requested.set()
    return await sync_status(runtime, tenant_id, integration_id)


async def sync_status(runtime: Runtime, tenant_id: str, integration_id: str) -> SyncStatusRead:
    async with UnitOfWork(runtime) as uow:
        connection = await _connection(uow, tenant_id, integration_id)
        if connection.provider in CONFERENCING_SERVICES:
            return await _meetings_status(uow, connection)
        rows = (
            await uow.session.execute(
                select(models.Calendar, models.SyncState)
                .outerjoin(models.SyncState, models.SyncState.calendar_id == models.Calendar.id)
                .where(models.Calendar.connection_id == connection.id, models.Calendar.selected.is_(True))
                .order_by(models.Calendar.id)
            )
        ).all()
        conflicts = await uow.session.scalar(
            select(func.count()).select_from(models.SyncConflict).where(models.SyncConflict.connection_id == connection.id)
        )
        channels = dict(
            (
                await uow.session.execute(
                    select(models.PushChannel.calendar_id, func.max(models.PushChannel.expires_at))
                    .where(models.PushChannel.connection_id == connection.id)
                    .group_by(models.PushChannel.calendar_id)
                )
            ).all()
        )
        limited_until = connection.rate_limited_until
        rate_limited = limited_until is not None and limited_until > _now()
        return SyncStatusRead(
            state=connection.status,
            last_sync_at=connection.last_sync_at,
            next_sync_at=connection.next_sync_at,
            rate_limited=rate_limited,
            rate_limit_resets_at=limited_until if rate_limited else None,
            last_error=connection.last_error,
            full_sync_requested=connection.full_sync_requested,
            conflicts=conflicts or 0,
            calendars=[
                SyncStatusCalendar(
                    id=calendar.id,
                    name=calendar.name,
                    last_sync_at=state.last_sync_at if state else None,
                    last_full_sync_at=state.last_full_sync_at if state else None,
                    item_count=state.item_count if state else 0,
                    last_error=state.last_error if state else None,
                    problems=list(state.problems or []) if state else [],
                    push_expires_at=channels.get(calendar.id),
                )
                for calendar, state in rows
            ],
        )


async def _meetings_status(uow: UnitOfWork, connection: models.Connection) -> SyncStatusRead:
    """A conferencing integration syncs nothing: its status is its state and the day's meeting
    requests (rate limited: the allowance is used up, or Zoom asked calmesh to wait)."""
    quota = await meeting_quota(uow, connection)
    return SyncStatusRead(
        state=connection.status,
        last_sync_at=None,
        next_sync_at=None,
        rate_limited=quota.limited,
        rate_limit_resets_at=quota.limited_until,
        last_error=connection.last_error,
        full_sync_requested=False,
        conflicts=0,
        calendars=[],
        meeting_quota=MeetingQuotaRead(used=quota.used, limit=quota.limit, resets_at=quota.resets_at),
    )


async def list_conflicts(runtime: Runtime, tenant_id: str, integration_id: str, *, limit: int, cursor: str | None) -> Page[ConflictRead]:
    async with UnitOfWork(runtime) as uow:
        connection = await _connection(uow, tenant_id, integration_id)
        statement = select(models.SyncConflict).where(models.SyncConflict.connection_id == connection.id)
        return await paginate(uow.session, statement, models.SyncConflict.id, ConflictRead.model_validate, limit=limit, cursor=cursor)


class IntegrationOverview(ApiModel):
    """One line of ``calmesh status``: every tenant's connections, for the operator."""

    id: str
    tenant_id: str
    provider: str
    account: str
    state: str
    last_sync_at: datetime | None
    next_sync_at: datetime | None
    last_error: str | None


async def overview(runtime: Runtime) -> list[IntegrationOverview]:
    async with UnitOfWork(runtime) as uow:
        rows = (await uow.session.scalars(select(models.Connection).order_by(models.Connection.id))).all()
        return [
            IntegrationOverview(
                id=row.id,
                tenant_id=row.tenant_id,
                provider=row.provider,
                account=str(
                    (row.account or {}).get("username") or (row.account or {}).get("displayUrl") or row.account_email or ""
                ),
                state=row.status,
                last_sync_at=row.last_sync_at,
                next_sync_at=row.next_sync_at,
                last_error=row.last_error,
            )
            for row in rows
        ]
