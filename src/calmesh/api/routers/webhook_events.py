"""``/v1/webhook-events``: the log of what calmesh announced, and replays (PRODUCT.md W1; see
services.webhooks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime

from calmesh.api.deps import PageParamsDep, RuntimeDep, TenantIdDep
from calmesh.schemas import ApiModel, Page
from calmesh.services import webhooks
from calmesh.services.webhooks import DeliveryRead, ReplayRequest, WebhookEventRead
from calmesh.webhooks.catalogue import EventType

router = APIRouter(prefix="/v1/webhook-events", tags=["webhook-events"])


class ReplayResult(ApiModel):
    #: The new deliveries, one per endpoint the event is sent to again.
    data: list[DeliveryRead]


@router.get(
    "",
    summary="Announced events, oldest first",
    description=(
        "Every event calmesh announced for the tenant, oldest first: the bodies webhook endpoints"
        " receive. Deliveries are at-least-once and unordered (retries and replays arrive in any"
        " order, and an event may arrive more than once): receivers deduplicate on `id`, which"
        " stays the same across retries and replays."
    ),
)
async def list_webhook_events(
    runtime: RuntimeDep,
    tenant_id: TenantIdDep,
    page: PageParamsDep,
    event_type: Annotated[EventType | None, Query(alias="type", description="Only events of this type.")] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="ISO date-time with an offset (e.g. 2025-01-31T09:00:00Z); events created at or after it.")
    ] = None,
) -> Page[WebhookEventRead]:
    return await webhooks.list_events(
        runtime, tenant_id, event_type=event_type.value if event_type is not None else None, since=since,
        limit=page.limit, cursor=page.cursor,
    )


@router.get("/{event_id}", summary="One announced event, as its deliveries carry it")
async def get_webhook_event(event_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> WebhookEventRead:
    return await webhooks.get_event(runtime, tenant_id, event_id)


@router.post(
    "/{event_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send an event again (same id and body, a new delivery each) to webhookIds or every subscribed endpoint",
)
async def replay_webhook_event(
    event_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep, data: ReplayRequest | None = None
) -> ReplayResult:
    return ReplayResult(data=await webhooks.replay_event(runtime, tenant_id, event_id, data or ReplayRequest()))
