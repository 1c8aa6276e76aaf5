"""Webhook endpoints, their signing secrets, the event log, deliveries and replays (PRODUCT.md W1).

An endpoint is created with a secret — generated, or the caller's own — which is shown once and
then only by its prefix. Rotation adds a secret and gives the current ones an expiry (a day by
default): until then every delivery carries a signature under each, so receivers can switch at
their own pace. Webhook URLs pass the same address guard as ICS feeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from sqlalchemy import func, select

from calmesh.auth.vault import SecretContext
from calmesh.errors import InvalidInput, InvalidState, NotFound
from calmesh.ids import new_id
from calmesh.schemas import ApiModel, Page
from calmesh.services.pagination import paginate
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import ANNOUNCED, UnitOfWork
from calmesh.storage import models
from calmesh.webhooks.catalogue import EventType, validate_event_types
from calmesh.webhooks.sending import check_webhook_url
from calmesh.webhooks.signing import generate_secret

__all__ = [
    "AttemptRead",
    "DeliveryDetail",
    "DeliveryRead",
    "ReplayRequest",
    "SecretCreated",
    "SecretRead",
    "SecretRotate",
    "WebhookCreate",
    "WebhookCreated",
    "WebhookEventRead",
    "WebhookOverview",
    "WebhookRead",
    "WebhookUpdate",
    "create_webhook",
    "delete_secret",
    "delete_webhook",
    "get_delivery",
    "get_event",
    "get_webhook",
    "list_deliveries",
    "list_events",
    "list_webhooks",
    "overview",
    "replay_any_event",
    "replay_event",
    "rotate_secret",
    "update_webhook",
]

UTC = timezone.utc
#: The shortest secret a caller may bring (HMAC keys shorter than this are guessable).
MIN_SECRET_LENGTH = 24

EventTypes = Annotated[list[str], Field(max_length=len(EventType), description="Empty: every event type.")]


def _now() -> datetime:
    return datetime.now(UTC)


# --- shapes ---------------------------------------------------------------------------------


class _EventTypesIn(ApiModel):
    @field_validator("event_types", check_fields=False)
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else validate_event_types(value)


class WebhookCreate(_EventTypesIn):
    url: str = Field(max_length=2000)
    event_types: EventTypes = Field(default_factory=list)
    description: str | None = Field(default=None, max_length=500)
    active: bool = True
    secret: SecretStr | None = Field(
        default=None, description=f"Your own signing secret (at least {MIN_SECRET_LENGTH} characters); generated when left out."
    )


class WebhookUpdate(_EventTypesIn):
    url: str | None = Field(default=None, max_length=2000)
    event_types: EventTypes | None = None
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None


class SecretRead(ApiModel):
    id: str
    #: The first characters of the secret, enough to tell secrets apart.
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    active: bool


class WebhookRead(ApiModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    #: HEALTHY, or FAILING once a delivery ran out of retries (HEALTHY again after a success).
    health: Literal["HEALTHY", "FAILING"]
    failing_since: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    secrets: list[SecretRead]
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    #: The signing secret, shown this once.
    secret: str


class SecretRotate(ApiModel):
    expire_current_in_seconds: int = Field(
        default=86400, ge=0, le=7 * 86400, description="How long the current secrets stay valid (0: at once)."
    )
    secret: SecretStr | None = Field(default=None, description="Your own new secret; generated when left out.")


class SecretCreated(SecretRead):
    #: The new signing secret, shown this once.
    secret: str


class WebhookEventRead(ApiModel):
    id: str
    type: str
    created_at: datetime
    tenant_id: str
    data: dict[str, Any]


class DeliveryRead(ApiModel):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    #: PENDING (being sent or waiting for a retry), DELIVERED, or FAILED (retries used up).
    status: str
    attempts: int
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    replay: bool
    created_at: datetime


class AttemptRead(ApiModel):
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryDetail(DeliveryRead):
    attempt_log: list[AttemptRead]


class ReplayRequest(ApiModel):
    webhook_ids: list[str] | None = Field(
        default=None, description="The endpoints to send it to; default: every active endpoint subscribed to its type."
    )


# --- endpoints ------------------------------------------------------------------------------


def _secret_read(row: models.WebhookSecret, now: datetime) -> SecretRead:
    return SecretRead(
        id=row.id, prefix=row.display_prefix, created_at=row.created_at, expires_at=row.expires_at,
        active=row.expires_at is None or row.expires_at > now,
    )


async def _reads(uow: UnitOfWork, endpoints: Sequence[models.WebhookEndpoint]) -> list[WebhookRead]:
    """The endpoints as the API shows them, their secrets read in one query."""
    now = _now()
    secrets: dict[str, list[SecretRead]] = {}
    for row in (
        await uow.session.scalars(
            select(models.WebhookSecret)
            .where(models.WebhookSecret.endpoint_id.in_([e.id for e in endpoints]))
            .order_by(models.WebhookSecret.created_at)
        )
    ).all():
        secrets.setdefault(row.endpoint_id, []).append(_secret_read(row, now))
    return [
        WebhookRead(
            id=e.id, url=e.url, event_types=list(e.event_types or []), description=e.description, active=e.active,
            health=e.health, failing_since=e.failing_since, last_success_at=e.last_success_at,
            last_failure_at=e.last_failure_at, secrets=secrets.get(e.id, []), created_at=e.created_at, updated_at=e.updated_at,
        )
        for e in endpoints
    ]


async def _read(uow: UnitOfWork, endpoint: models.WebhookEndpoint) -> WebhookRead:
    return (await _reads(uow, [endpoint]))[0]


def _secret_text(given: SecretStr | None) -> str:
    if given is None:
        return generate_secret()
    text = given.get_secret_value()
    if len(text) < MIN_SECRET_LENGTH or not text.isprintable() or text.strip() != text:
        raise InvalidInput(f"a signing secret needs at least {MIN_SECRET_LENGTH} printable characters", field="secret")
    return text


def _add_secret(uow: UnitOfWork, endpoint: models.WebhookEndpoint, text: str) -> models.WebhookSecret:
    sealed = uow.runtime.vault.seal(text.encode(), SecretContext(endpoint.tenant_id, endpoint.id))
    row = models.WebhookSecret(
        id=new_id("whs"), tenant_id=endpoint.tenant_id, endpoint_id=endpoint.id,
        display_prefix=text[:10] + "…", kek_id=sealed.kek_id, wrapped_key=sealed.wrapped_key,
        nonce=sealed.nonce, ciphertext=sealed.ciphertext, created_at=_now(),
    )
    uow.session.add(row)
    return row


async def _checked_url(runtime: Runtime, url: str) -> str:
    await check_webhook_url(url, allow_private_network=runtime.settings.allow_private_network)
    return url


async def create_webhook(runtime: Runtime, tenant_id: str, data: WebhookCreate) -> WebhookCreated:
    url = await _checked_url(runtime, data.url)
    text = _secret_text(data.secret)
    async with UnitOfWork(runtime) as uow:
        endpoint = models.WebhookEndpoint(
            id=new_id("whk"), tenant_id=tenant_id, url=url, description=data.description,
            event_types=data.event_types, active=data.active, health="HEALTHY", version=1,
        )
        uow.session.add(endpoint)
        await uow.session.flush()
        _add_secret(uow, endpoint, text)
        await uow.commit()
        read = await _read(uow, endpoint)
        return WebhookCreated(**read.model_dump(), secret=text)


async def _endpoint(uow: UnitOfWork, tenant_id: str, webhook_id: str) -> models.WebhookEndpoint:
    return await uow.owned(models.WebhookEndpoint, webhook_id, tenant_id, "no such webhook")


async def get_webhook(runtime: Runtime, tenant_id: str, webhook_id: str) -> WebhookRead:
    async with UnitOfWork(runtime) as uow:
        return await _read(uow, await _endpoint(uow, tenant_id, webhook_id))


async def list_webhooks(runtime: Runtime, tenant_id: str, *, limit: int, cursor: str | None) -> Page[WebhookRead]:
    async with UnitOfWork(runtime) as uow:
        statement = select(models.WebhookEndpoint).where(models.WebhookEndpoint.tenant_id == tenant_id)
        page = await paginate(uow.session, statement, models.WebhookEndpoint.id, lambda row: row, limit=limit, cursor=cursor)
        return Page[WebhookRead](data=await _reads(uow, page.data), next_cursor=page.next_cursor)


async def update_webhook(runtime: Runtime, tenant_id: str, webhook_id: str, data: WebhookUpdate) -> WebhookRead:
    url = await _checked_url(runtime, data.url) if data.url is not None else None
    async with UnitOfWork(runtime) as uow:
        endpoint = await _endpoint(uow, tenant_id, webhook_id)
        if url is not None:
            endpoint.url = url
        if data.event_types is not None:
            endpoint.event_types = data.event_types
        if "description" in data.model_fields_set:
            endpoint.description = data.description
        if data.active is not None:
            endpoint.active = data.active
            if data.active:
                uow.session.info[ANNOUNCED] = True  # what waited while it was off goes out now
        endpoint.version += 1
        await uow.commit()
        return await _read(uow, endpoint)


async def delete_webhook(runtime: Runtime, tenant_id: str, webhook_id: str) -> None:
    """Delete the endpoint, its secrets and its delivery log; pending deliveries are dropped."""
    async with UnitOfWork(runtime) as uow:
        endpoint = await _endpoint(uow, tenant_id, webhook_id)
        await uow.session.delete(endpoint)
        await uow.commit()


async def rotate_secret(runtime: Runtime, tenant_id: str, webhook_id: str, data: SecretRotate) -> SecretCreated:
    text = _secret_text(data.secret)
    now = _now()
    expiry = now + timedelta(seconds=data.expire_current_in_seconds)
    async with UnitOfWork(runtime) as uow:
        endpoint = await _endpoint(uow, tenant_id, webhook_id)
        for row in (await uow.session.scalars(select(models.WebhookSecret).where(models.WebhookSecret.endpoint_id == endpoint.id))).all():
            if row.expires_at is None or row.expires_at > expiry:
                row.expires_at = expiry
        row = _add_secret(uow, endpoint, text)
        await uow.commit()
        return SecretCreated(**_secret_read(row, now).model_dump(), secret=text)


async def delete_secret(runtime: Runtime, tenant_id: str, webhook_id: str, secret_id: str) -> None:
    """Retire a secret at once. The last active secret cannot go: deliveries must be signed."""
    now = _now()
    async with UnitOfWork(runtime) as uow:
        endpoint = await _endpoint(uow, tenant_id, webhook_id)
        rows = (await uow.session.scalars(select(models.WebhookSecret).where(models.WebhookSecret.endpoint_id == endpoint.id))).all()
        target = next((r for r in rows if r.id == secret_id), None)
        if target is None:
            raise NotFound("no such secret")
        others_active = [r for r in rows if r.id != secret_id and (r.expires_at is None or r.expires_at > now)]
        if not others_active:
            raise InvalidState("this is the webhook's only active secret: rotate first, then delete the old one")
        await uow.session.delete(target)
        await uow.commit()


# --- events, deliveries, replays ------------------------------------------------------------


def _event_read(row: models.WebhookEvent) -> WebhookEventRead:
    return WebhookEventRead(id=row.id, type=row.type, created_at=row.created_at, tenant_id=row.tenant_id, data=row.data)


async def list_events(
    runtime: Runtime, tenant_id: str, *, event_type: str | None, since: datetime | None, limit: int, cursor: str | None
) -> Page[WebhookEventRead]:
    """The tenant's announced events, oldest first (ids are time-ordered)."""
    async with UnitOfWork(runtime) as uow:
        statement = select(models.WebhookEvent).where(models.WebhookEvent.tenant_id == tenant_id)
        if event_type is not None:
            statement = statement.where(models.WebhookEvent.type == event_type)
        if since is not None:
            statement = statement.where(models.WebhookEvent.created_at >= since)
        return await paginate(uow.session, statement, models.WebhookEvent.id, _event_read, limit=limit, cursor=cursor)


async def get_event(runtime: Runtime, tenant_id: str, event_id: str) -> WebhookEventRead:
    async with UnitOfWork(runtime) as uow:
        return _event_read(await uow.owned(models.WebhookEvent, event_id, tenant_id, "no such webhook event"))


def _delivery_read(delivery: models.WebhookDelivery, event_type: str) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id, webhook_id=delivery.endpoint_id, event_id=delivery.event_id, event_type=event_type,
        status=delivery.status, attempts=delivery.attempts, last_status_code=delivery.last_status_code,
        last_latency_ms=delivery.last_latency_ms, last_error=delivery.last_error, next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at, replay=delivery.replay, created_at=delivery.created_at,
    )


async def list_deliveries(
    runtime: Runtime, tenant_id: str, webhook_id: str, *, status: str | None, event_id: str | None, limit: int, cursor: str | None
) -> Page[DeliveryRead]:
    """The endpoint's delivery log, oldest first."""
    async with UnitOfWork(runtime) as uow:
        endpoint = await _endpoint(uow, tenant_id, webhook_id)
        statement = select(models.WebhookDelivery).where(models.WebhookDelivery.endpoint_id == endpoint.id)
        if status is not None:
            statement = statement.where(models.WebhookDelivery.status == status)
        if event_id is not None:
            statement = statement.where(models.WebhookDelivery.event_id == event_id)
        page = await paginate(uow.session, statement, models.WebhookDelivery.id, lambda row: row, limit=limit, cursor=cursor)
        types = dict(
            (
                await uow.session.execute(
                    select(models.WebhookEvent.id, models.WebhookEvent.type).where(
                        models.WebhookEvent.id.in_({d.event_id for d in page.data})
                    )
                )
            ).all()
        )
        return Page[DeliveryRead](data=[_delivery_read(d, types[d.event_id]) for d in page.data], next_cursor=page.next_cursor)


async def get_delivery(runtime: Runtime, tenant_id: str, webhook_id: str, delivery_id: str) -> DeliveryDetail:
    async with UnitOfWork(runtime) as uow:
        endpoint = await _endpoint(uow, tenant_id, webhook_id)
        delivery = await uow.session.get(models.WebhookDelivery, delivery_id)
        if delivery is None or delivery.endpoint_id != endpoint.id:
            raise NotFound("no such delivery")
        event = await uow.session.get(models.WebhookEvent, delivery.event_id)
        assert event is not None
        attempts = (
            await uow.session.scalars(
                select(models.WebhookAttempt).where(models.WebhookAttempt.delivery_id == delivery.id).order_by(models.WebhookAttempt.id)
            )
        ).all()
        return DeliveryDetail(
            **_delivery_read(delivery, event.type).model_dump(),
            attempt_log=[AttemptRead.model_validate(a) for a in attempts],
        )


async def replay_event(runtime: Runtime, tenant_id: str, event_id: str, data: ReplayRequest) -> list[DeliveryRead]:
    """Send an event again, as a new delivery with its own retries (same event id and body)."""
    now = _now()
    async with UnitOfWork(runtime) as uow:
        event = await uow.owned(models.WebhookEvent, event_id, tenant_id, "no such webhook event")
        if data.webhook_ids is not None:
            endpoints = [await _endpoint(uow, tenant_id, webhook_id) for webhook_id in dict.fromkeys(data.webhook_ids)]
            paused = [e.id for e in endpoints if not e.active]
            if paused:
                raise InvalidState(f"webhook {', '.join(paused)} is paused (active: false): activate it, then replay")
        else:
            endpoints = [
                e
                for e in (
                    await uow.session.scalars(
                        select(models.WebhookEndpoint).where(
                            models.WebhookEndpoint.tenant_id == tenant_id, models.WebhookEndpoint.active.is_(True)
                        )
                    )
                ).all()
                if not e.event_types or event.type in e.event_types
            ]
        if not endpoints:
            raise InvalidState("no active webhook subscribes to this event's type; name one in webhookIds")
        deliveries = [
            models.WebhookDelivery(
                id=new_id("wdl"), tenant_id=tenant_id, endpoint_id=endpoint.id, event_id=event.id, status="PENDING",
                attempts=0, next_attempt_at=now, replay=True, created_at=now,
            )
            for endpoint in endpoints
        ]
        uow.session.add_all(deliveries)
        uow.session.info[ANNOUNCED] = True
        await uow.commit()
        return [_delivery_read(d, event.type) for d in deliveries]


# --- for operators (the CLI): every tenant ---------------------------------------------------


class WebhookOverview(ApiModel):
    """One line of ``calmesh webhooks list``."""

    id: str
    tenant_id: str
    url: str
    active: bool
    health: str
    pending: int
    failed: int
    last_success_at: datetime | None


async def overview(runtime: Runtime) -> list[WebhookOverview]:
    async with UnitOfWork(runtime) as uow:
        counts: dict[tuple[str, str], int] = {
            (endpoint_id, status): count
            for endpoint_id, status, count in (
                await uow.session.execute(
                    select(models.WebhookDelivery.endpoint_id, models.WebhookDelivery.status, func.count())
                    .where(models.WebhookDelivery.status.in_(("PENDING", "FAILED")))
                    .group_by(models.WebhookDelivery.endpoint_id, models.WebhookDelivery.status)
                )
            ).all()
        }
        endpoints = (await uow.session.scalars(select(models.WebhookEndpoint).order_by(models.WebhookEndpoint.id))).all()
        return [
            WebhookOverview(
                id=e.id, tenant_id=e.tenant_id, url=e.url, active=e.active, health=e.health,
                pending=counts.get((e.id, "PENDING"), 0), failed=counts.get((e.id, "FAILED"), 0), last_success_at=e.last_success_at,
            )
            for e in endpoints
        ]


async def replay_any_event(runtime: Runtime, event_id: str, webhook_ids: list[str] | None) -> list[DeliveryRead]:
    """:func:`replay_event` for an operator, who names the event without its tenant."""
    async with UnitOfWork(runtime) as uow:
        event = await uow.session.get(models.WebhookEvent, event_id)
        if event is None:
            raise NotFound("no such webhook event")
        tenant_id = event.tenant_id
    return await replay_event(runtime, tenant_id, event_id, ReplayRequest(webhook_ids=webhook_ids))
