"""``/v1/bookings``: book, reschedule, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from calmesh.api.deps import PageParamsDep, RuntimeDep, TenantIdDep
from calmesh.schemas import Page
from calmesh.services import bookings
from calmesh.services.bookings import BookingCancel, BookingCreate, BookingRead, BookingUpdate

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Book a slot (409 with the clashes when taken)")
async def create_booking(data: BookingCreate, runtime: RuntimeDep, tenant_id: TenantIdDep) -> BookingRead:
    return await bookings.create_booking(runtime, tenant_id, data)


@router.get("")
async def list_bookings(
    runtime: RuntimeDep, tenant_id: TenantIdDep, page: PageParamsDep,
    event_type_id: Annotated[str | None, Query(alias="eventTypeId")] = None,
) -> Page[BookingRead]:
    return await bookings.list_bookings(runtime, tenant_id, event_type_id=event_type_id, limit=page.limit, cursor=page.cursor)


@router.get("/{booking_id}")
async def get_booking(booking_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> BookingRead:
    return await bookings.get_booking(runtime, tenant_id, booking_id)


@router.patch("/{booking_id}", summary="Reschedule (a new start) or edit notes")
async def update_booking(booking_id: str, data: BookingUpdate, runtime: RuntimeDep, tenant_id: TenantIdDep) -> BookingRead:
    return await bookings.update_booking(runtime, tenant_id, booking_id, data)


@router.post("/{booking_id}/cancel")
async def cancel_booking(
    booking_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep, data: BookingCancel | None = None
) -> BookingRead:
    return await bookings.cancel_booking(runtime, tenant_id, booking_id, data or BookingCancel())
