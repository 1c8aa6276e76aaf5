"""``/v1/availability``: free/busy across users and calendars, and an event type's conflicts."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from calmesh.api.deps import RuntimeDep, TenantIdDep
from calmesh.services import availability
from calmesh.services.availability import ConflictRead, FreeBusyRead

router = APIRouter(prefix="/v1/availability", tags=["availability"])


def _ids(values: list[str] | None) -> list[str]:
    """Repeated parameters and comma-separated lists, both accepted."""
    return [part for value in values or [] for part in value.split(",") if part]


@router.get("", summary="Free/busy for users and calendars, from the local mirror")
async def get_free_busy(
    runtime: RuntimeDep,
    tenant_id: TenantIdDep,
    start: Annotated[str, Query(description="ISO date or date-time; naive ones are in timeZone.")],
    end: Annotated[str, Query(description="ISO date (inclusive) or date-time (exclusive).")],
    user_ids: Annotated[list[str] | None, Query(alias="userIds")] = None,
    calendar_ids: Annotated[list[str] | None, Query(alias="calendarIds")] = None,
    time_zone: Annotated[str, Query(alias="timeZone")] = "UTC",
) -> FreeBusyRead:
    zone = availability.resolve_zone(time_zone)
    window = availability.parse_window(start, end, zone)
    return await availability.free_busy(
        runtime, tenant_id, user_ids=_ids(user_ids), calendar_ids=_ids(calendar_ids), window=window, zone=zone
    )


@router.get("/conflicts", summary="What takes time out of an event type's bookable hours")
async def get_conflicts(
    runtime: RuntimeDep,
    tenant_id: TenantIdDep,
    event_type_id: Annotated[str, Query(alias="eventTypeId")],
    start_date: Annotated[date, Query(alias="startDate")],
    end_date: Annotated[date, Query(alias="endDate", description="Inclusive.")],
) -> list[ConflictRead]:
    return await availability.conflicts(runtime, tenant_id, event_type_id, start_date, end_date)
