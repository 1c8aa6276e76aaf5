"""``/v1/events``: the unified mirror, written through to the provider (see services.events)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from calmesh.api.deps import PageParamsDep, RuntimeDep, TenantIdDep
from calmesh.schemas import Page
from calmesh.services import events
from calmesh.services.events import EventCreate, EventRead, EventUpdate

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("", summary="Mirror events, or with expand=true the occurrences of a window")
async def list_events(
    runtime: RuntimeDep,
    tenant_id: TenantIdDep,
    page: PageParamsDep,
    calendar_id: Annotated[str | None, Query(alias="calendarId")] = None,
    start: Annotated[str | None, Query(description="ISO date or date-time; events ending after it.")] = None,
    end: Annotated[str | None, Query(description="ISO date (inclusive) or date-time; events starting before it.")] = None,
    updated_since: Annotated[str | None, Query(alias="updatedSince", description="ISO date or date-time.")] = None,
    expand: Annotated[bool, Query(description="Occurrences of recurring series instead of rows (needs start and end).")] = False,
    time_zone: Annotated[str | None, Query(alias="timeZone", description="For dates, naive times and all-day events; UTC by default.")] = None,
) -> Page[EventRead]:
    return await events.list_events(
        runtime, tenant_id, calendar_id=calendar_id, start=start, end=end, updated_since=updated_since,
        expand=expand, time_zone=time_zone, limit=page.limit, cursor=page.cursor,
    )


@router.get("/{event_id}")
async def get_event(event_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> EventRead:
    return await events.get_event(runtime, tenant_id, event_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an event and write it to the provider (syncState PENDING when the provider could not be reached)",
)
async def create_event(data: EventCreate, runtime: RuntimeDep, tenant_id: TenantIdDep) -> EventRead:
    return await events.create_event(runtime, tenant_id, data)


@router.patch("/{event_id}", summary="Change an event (a master: its series) and write it to the provider")
async def update_event(event_id: str, data: EventUpdate, runtime: RuntimeDep, tenant_id: TenantIdDep) -> EventRead:
    return await events.update_event(runtime, tenant_id, event_id, data)


@router.delete(
    "/{event_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an event (a master: its series; an override: cancels that instance)",
)
async def delete_event(event_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> Response:
    await events.delete_event(runtime, tenant_id, event_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
