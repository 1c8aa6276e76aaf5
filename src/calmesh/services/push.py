"""Push channels (PRODUCT.md S2, W2): providers that can tell calmesh when a calendar changed
(Google watch channels) get one channel per synced calendar, and each notification asks for an
incremental sync. A notification is only a hint: it carries no data, and polling at
``syncFrequency`` goes on underneath in case one is lost.

Channels are kept up by the sync itself (:func:`maintain_channels` runs at the end of every
sync of a connection): a calendar without a channel gets one, a channel within a day of its
expiry is replaced by a new one before the old one is stopped, and a calendar no longer synced
loses its channel. Each channel has its own random token; only its SHA-256 is stored, and a
notification without the token is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select

from calmesh.errors import CalmeshError, NotFound, WebhookVerificationFailed
from calmesh.providers.base import CalendarProvider, PushChannels
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models

__all__ = ["NOTIFICATION_PATHS", "maintain_channels", "notification_received", "stop_channels"]

#: Where each provider's notifications arrive, under the public base URL.
NOTIFICATION_PATHS = {"GOOGLE": "/v1/providers/google/notifications"}
#: A channel this close to its end is replaced (or within a quarter of its life, if shorter).
RENEW_BEFORE = timedelta(days=1)
#: Provider states that mean "something changed" (Google sends ``sync`` once, on creation).
CHANGE_STATES = frozenset({"exists", "not_exists"})

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def maintain_channels(
    runtime: Runtime, provider: CalendarProvider, provider_name: str, connection_id: str, calendars: Sequence[tuple[str, str]]
) -> None:
    """Give each synced calendar (``(calendar id, provider calendar id)``) a live channel and
    stop the channels of calendars no longer synced. Failures are logged: polling still works."""
    if not provider.capabilities.push or not isinstance(provider, PushChannels) or provider_name not in NOTIFICATION_PATHS:
        return
    now = _now()
    async with UnitOfWork(runtime) as uow:
        rows = (await uow.session.scalars(select(models.PushChannel).where(models.PushChannel.connection_id == connection_id))).all()
        existing = [(row.id, row.calendar_id, row.resource_id, row.expires_at) for row in rows]
        tenant_id = await uow.session.scalar(select(models.Connection.tenant_id).where(models.Connection.id == connection_id))
    if tenant_id is None:
        return
    wanted = dict(calendars)
    ttl = runtime.settings.push_channel_ttl_seconds
    renew_before = min(RENEW_BEFORE, timedelta(seconds=ttl / 4))
    live = {calendar_id for _, calendar_id, _, expires in existing if calendar_id in wanted and expires - now > renew_before}
    retired = [(channel_id, resource_id) for channel_id, calendar_id, resource_id, _ in existing if calendar_id not in wanted]
    renewed: set[str] = set()
    address = runtime.settings.resolved_public_base_url + NOTIFICATION_PATHS[provider_name]
    for calendar_id, provider_calendar_id in wanted.items():
        if calendar_id in live:
            continue
        channel_id, token = uuid.uuid4().hex, secrets.token_urlsafe(32)
        try:
            channel = await provider.watch(provider_calendar_id, channel_id, address, token, ttl)
        except CalmeshError as error:
            log.warning("could not open a push channel; polling only", extra={"calendar_id": calendar_id, "error": error.message})
            continue
        async with UnitOfWork(runtime) as uow:
            uow.session.add(
                models.PushChannel(
                    id=channel.id,
                    tenant_id=tenant_id,
                    connection_id=connection_id,
                    calendar_id=calendar_id,
                    provider=provider_name,
                    resource_id=channel.resource_id,
                    token_hash=_digest(token),
                    created_at=now,
                    expires_at=channel.expires_at,
                )
            )
            await uow.commit()
        renewed.add(calendar_id)
    # Old channels go only once their replacements exist, so no change falls between them; one
    # that could not be replaced keeps serving until it ends.
    retired += [(channel_id, resource_id) for channel_id, calendar_id, resource_id, _ in existing if calendar_id in renewed]
    await _stop(runtime, provider, retired)


async def _stop(runtime: Runtime, provider: PushChannels, channels: Sequence[tuple[str, str]]) -> None:
    for channel_id, resource_id in channels:
        try:
            await provider.stop_watching(channel_id, resource_id)
        except CalmeshError as error:
            # It expires on its own; its notifications meet no row and are refused.
            log.warning("could not stop a push channel", extra={"channel_id": channel_id, "error": error.message})
        async with UnitOfWork(runtime) as uow:
            await uow.session.execute(delete(models.PushChannel).where(models.PushChannel.id == channel_id))
            await uow.commit()


async def stop_channels(runtime: Runtime, provider: CalendarProvider, connection_id: str) -> None:
    """Stop every channel of a connection (it is being disconnected)."""
    if not isinstance(provider, PushChannels):
        return
    async with UnitOfWork(runtime) as uow:
        rows = (await uow.session.execute(
            select(models.PushChannel.id, models.PushChannel.resource_id).where(models.PushChannel.connection_id == connection_id)
        )).all()
    await _stop(runtime, provider, [(channel_id, resource_id) for channel_id, resource_id in rows])


async def notification_received(runtime: Runtime, provider_name: str, channel_id: str, token: str, state: str) -> bool:
    """A provider says a watched calendar changed: check the channel's token, then ask for an
    incremental sync of its connection now. True when a sync was asked for.

    The sync it causes is a scheduled one, not a requested one: one that finds nothing new (the
    provider also notifies calmesh of its own writes) announces nothing."""
    async with UnitOfWork(runtime) as uow:
        channel = await uow.session.get(models.PushChannel, channel_id)
        if channel is None or channel.provider != provider_name:
            raise NotFound("no such channel")
        if not hmac.compare_digest(_digest(token), channel.token_hash):
            raise WebhookVerificationFailed("the channel token does not match")
        if state not in CHANGE_STATES:
            return False
        now = _now()
        channel.last_notified_at = now
        connection = await uow.session.get(models.Connection, channel.connection_id)
        if connection is None or connection.status in ("TOKEN_EXPIRED", "DISCONNECTED"):
            await uow.commit()
            return False
        limited = connection.rate_limited_until
        # A provider that asked us to wait is not hurried by its own notification.
        due = limited if limited is not None and limited > now else now
        if connection.next_sync_at is None or connection.next_sync_at > due:
            connection.next_sync_at = due
        await uow.commit()
    runtime.signals.sync_requested.set()
    return True
