"""``/v1/webhooks``: endpoints calmesh sends events to, their signing secrets and delivery logs
(PRODUCT.md W1; see services.webhooks)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from calmesh.api.deps import PageParamsDep, RuntimeDep, TenantIdDep
from calmesh.schemas import Page
from calmesh.services import webhooks
from calmesh.services.webhooks import (
    DeliveryDetail,
    DeliveryRead,
    SecretCreated,
    SecretRotate,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookUpdate,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

#: A delivery's state, as the delivery log filters it.
DeliveryStatus = Literal["PENDING", "DELIVERED", "FAILED"]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add an endpoint; the answer holds its signing secret, shown this once",
)
async def create_webhook(data: WebhookCreate, runtime: RuntimeDep, tenant_id: TenantIdDep) -> WebhookCreated:
    return await webhooks.create_webhook(runtime, tenant_id, data)


@router.get("", summary="The tenant's webhook endpoints (secrets only by their prefix)")
async def list_webhooks(runtime: RuntimeDep, tenant_id: TenantIdDep, page: PageParamsDep) -> Page[WebhookRead]:
    return await webhooks.list_webhooks(runtime, tenant_id, limit=page.limit, cursor=page.cursor)


@router.get("/{webhook_id}", summary="One endpoint, its health and its secrets (by prefix)")
async def get_webhook(webhook_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> WebhookRead:
    return await webhooks.get_webhook(runtime, tenant_id, webhook_id)


@router.patch("/{webhook_id}", summary="Change the URL, event types, description, or pause and resume (active)")
async def update_webhook(webhook_id: str, data: WebhookUpdate, runtime: RuntimeDep, tenant_id: TenantIdDep) -> WebhookRead:
    return await webhooks.update_webhook(runtime, tenant_id, webhook_id, data)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete the endpoint with its secrets and delivery log (pending deliveries are dropped)",
)
async def delete_webhook(webhook_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> Response:
    await webhooks.delete_webhook(runtime, tenant_id, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhook_id}/secrets",
    status_code=status.HTTP_201_CREATED,
    summary="Rotate: add a secret (shown this once); the current ones stay valid for expireCurrentInSeconds (a day by default)",
)
async def rotate_secret(
    webhook_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep, data: SecretRotate | None = None
) -> SecretCreated:
    return await webhooks.rotate_secret(runtime, tenant_id, webhook_id, data or SecretRotate())


@router.delete(
    "/{webhook_id}/secrets/{secret_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Retire a secret at once (not the only active one: rotate first)",
)
async def delete_secret(webhook_id: str, secret_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> Response:
    await webhooks.delete_secret(runtime, tenant_id, webhook_id, secret_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", summary="The endpoint's delivery log, oldest first")
async def list_deliveries(
    webhook_id: str,
    runtime: RuntimeDep,
    tenant_id: TenantIdDep,
    page: PageParamsDep,
    delivery_status: Annotated[
        DeliveryStatus | None,
        Query(alias="status", description="PENDING (being sent or waiting for a retry), DELIVERED, or FAILED (retries used up)."),
    ] = None,
    event_id: Annotated[str | None, Query(alias="eventId", description="Only the deliveries of this event.")] = None,
) -> Page[DeliveryRead]:
    return await webhooks.list_deliveries(
        runtime, tenant_id, webhook_id, status=delivery_status, event_id=event_id, limit=page.limit, cursor=page.cursor
    )


@router.get("/{webhook_id}/deliveries/{delivery_id}", summary="One delivery with every attempt (status code, latency, error)")
async def get_delivery(webhook_id: str, delivery_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> DeliveryDetail:
    return await webhooks.get_delivery(runtime, tenant_id, webhook_id, delivery_id)
