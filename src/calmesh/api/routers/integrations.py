"""``/v1/integrations``: connect calendars, configure their sync, watch it (seed 001)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response, status

from calmesh.api.deps import PageParamsDep, RuntimeDep, TenantIdDep
from calmesh.schemas import Page
from calmesh.services import integrations
from calmesh.services.integrations import (
    CalendarRead,
    ConflictRead,
    IntegrationCreate,
    IntegrationRead,
    ResyncRequest,
    SyncStatusRead,
)

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Connect an account (the credentials are checked with the provider before they are kept)",
    description=(
        "201 with the new integration. With `connectionId`, re-authenticates that integration instead"
        " (e.g. after TOKEN_EXPIRED): it keeps its id, settings and sync state, and the answer is 200."
    ),
    responses={status.HTTP_200_OK: {"description": "Re-authenticated (the body had connectionId)", "model": IntegrationRead}},
)
async def connect(data: IntegrationCreate, runtime: RuntimeDep, tenant_id: TenantIdDep, response: Response) -> IntegrationRead:
    read = await integrations.connect(runtime, tenant_id, data)
    if data.connection_id is not None:
        response.status_code = status.HTTP_200_OK
    return read


@router.get("")
async def list_integrations(runtime: RuntimeDep, tenant_id: TenantIdDep, page: PageParamsDep) -> Page[IntegrationRead]:
    return await integrations.list_integrations(runtime, tenant_id, limit=page.limit, cursor=page.cursor)


@router.get("/{integration_id}")
async def get_integration(integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> IntegrationRead:
    return await integrations.get_integration(runtime, tenant_id, integration_id)


@router.patch("/{integration_id}", summary="Configure sync (syncDirection, calendarsToSync, eventPrivacy…)")
async def configure(
    integration_id: str,
    runtime: RuntimeDep,
    tenant_id: TenantIdDep,
    changes: dict[str, Any] = Body(
        openapi_examples={"seed": {"value": {"syncDirection": "BOTH", "syncFrequency": 5, "createEventsIn": "primary"}}}
    ),
) -> IntegrationRead:
    return await integrations.configure(runtime, tenant_id, integration_id, changes)


@router.delete("/{integration_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Disconnect and forget")
async def disconnect(integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> Response:
    await integrations.disconnect(runtime, tenant_id, integration_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{integration_id}/calendars")
async def list_calendars(
    integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep, page: PageParamsDep
) -> Page[CalendarRead]:
    return await integrations.list_calendars(runtime, tenant_id, integration_id, limit=page.limit, cursor=page.cursor)


@router.post(
    "/{integration_id}/resync",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Sync now (fullSync forgets every cursor and lists everything again)",
)
async def resync(
    integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep, request: ResyncRequest | None = None
) -> SyncStatusRead:
    return await integrations.request_resync(runtime, tenant_id, integration_id, request or ResyncRequest())


@router.post(
    "/{integration_id}/refresh",
    summary=(
        "Check the credentials now (an OAuth provider refreshes its token); TOKEN_EXPIRED or ERROR"
        " connections that work again go back to ACTIVE"
    ),
)
async def refresh(integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> IntegrationRead:
    return await integrations.refresh(runtime, tenant_id, integration_id)


@router.get("/{integration_id}/sync-status")
async def sync_status(integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> SyncStatusRead:
    return await integrations.sync_status(runtime, tenant_id, integration_id)


@router.get("/{integration_id}/conflicts", summary="Changes made on both sides, and which side won")
async def list_conflicts(
    integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep, page: PageParamsDep
) -> Page[ConflictRead]:
    return await integrations.list_conflicts(runtime, tenant_id, integration_id, limit=page.limit, cursor=page.cursor)
