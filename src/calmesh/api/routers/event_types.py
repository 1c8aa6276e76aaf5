"""``/v1/event-types``: what can be booked, and its open slots."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from calmesh.api.deps import PageParamsDep, RuntimeDep, TenantIdDep
from calmesh.schemas import Page
from calmesh.services import availability, event_types
from calmesh.services.availability import SlotsRead
from calmesh.services.event_types import EventTypeCreate, EventTypeRead, EventTypeUpdate

router = APIRouter(prefix="/v1/event-types", tags=["event-types"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_event_type(data: EventTypeCreate, runtime: RuntimeDep, tenant_id: TenantIdDep) -> EventTypeRead:
    return await event_types.create_event_type(runtime, tenant_id, data)


@router.get("")
async def list_event_types(runtime: RuntimeDep, tenant_id: TenantIdDep, page: PageParamsDep) -> Page[EventTypeRead]:
    return await event_types.list_event_types(runtime, tenant_id, limit=page.limit, cursor=page.cursor)


@router.get("/{event_type_id}")
async def get_event_type(event_type_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> EventTypeRead:
    return await event_types.get_event_type(runtime, tenant_id, event_type_id)


@router.patch("/{event_type_id}")
async def update_event_type(
    event_type_id: str, data: EventTypeUpdate, runtime: RuntimeDep, tenant_id: TenantIdDep
) -> EventTypeRead:
    return await event_types.update_event_type(runtime, tenant_id, event_type_id, data)


@router.delete("/{event_type_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_event_type(event_type_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> None:
    await event_types.delete_event_type(runtime, tenant_id, event_type_id)


@router.get("/{event_type_id}/slots", summary="Open slots in a window (at most 92 days)")
async def get_slots(
    event_type_id: str,
    runtime: RuntimeDep,
    tenant_id: TenantIdDep,
    start: Annotated[str, Query(description="ISO date or date-time; naive ones are in timeZone.")],
    end: Annotated[str, Query(description="ISO date (inclusive) or date-time (exclusive).")],
    time_zone: Annotated[str, Query(alias="timeZone")] = "UTC",
) -> SlotsRead:
    zone = availability.resolve_zone(time_zone)
    window = availability.parse_window(start, end, zone)
    return await availability.slots(runtime, tenant_id, event_type_id, window, zone)
