"""Event types: what can be booked, when, by whom (PRODUCT.md A3)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from calmesh.availability.schedule import WEEKDAYS, TimeRange, WeeklySchedule
from calmesh.availability.slots import HostPolicy, PolicyKind, SlotRules
from calmesh.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from calmesh.ids import new_id
from calmesh.schemas import ApiModel, Page, TimeZoneName
from calmesh.services.pagination import paginate
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models

__all__ = [
    "EventTypeCreate",
    "EventTypeRead",
    "EventTypeUpdate",
    "LoadedEventType",
    "create_event_type",
    "delete_event_type",
    "get_event_type",
    "list_event_types",
    "load_event_type",
    "update_event_type",
]

LocationType = Literal["GOOGLE_MEET", "TEAMS", "ZOOM", "CUSTOM", "IN_PERSON", "PHONE", "HOST_DEFAULT"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
Minutes = Annotated[int, Field(ge=0, le=7 * 24 * 60)]


class TimeRangeModel(ApiModel):
    start: str = Field(examples=["09:00"])
    end: str = Field(examples=["17:00"], description="'24:00' closes at midnight.")

    @model_validator(mode="after")
    def _valid(self) -> TimeRangeModel:
        TimeRange.parse(self.start, self.end)  # ValueError -> 422 naming the field
        return self


class DateOverride(ApiModel):
    date: date
    #: The hours of that date instead of its weekday's; empty means unavailable all day.
    intervals: list[TimeRangeModel] = []


def _nine_to_five() -> dict[Weekday, list[TimeRangeModel]]:
    day = [TimeRangeModel(start="09:00", end="17:00")]
    return {"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day}


class Schedule(ApiModel):
    time_zone: TimeZoneName = "UTC"
    weekly_hours: dict[Weekday, list[TimeRangeModel]] = Field(default_factory=_nine_to_five)
    date_overrides: list[DateOverride] = []

    def to_domain(self) -> WeeklySchedule:
        return WeeklySchedule(
            ZoneInfo(self.time_zone),
            {WEEKDAYS.index(day): tuple(TimeRange.parse(r.start, r.end) for r in ranges) for day, ranges in self.weekly_hours.items()},
            {o.date: tuple(TimeRange.parse(r.start, r.end) for r in o.intervals) for o in self.date_overrides},
        )


class Location(ApiModel):
    """Where bookings meet. GOOGLE_MEET, ZOOM and CUSTOM give each booking a meeting link (the
    host's Google calendar makes the Meet link, the host's connected Zoom the Zoom meeting);
    HOST_DEFAULT uses the organizing host's default conferencing (``/v1/conferencing/defaults``)."""

    type: LocationType
    #: For CUSTOM: the stable meeting link; for IN_PERSON: the address; for PHONE: the number.
    value: Annotated[str, Field(max_length=2000)] | None = None
    #: For CUSTOM instead of ``value``: a custom conferencing provider (``/v1/conferencing/providers``).
    custom_provider_id: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Location:
        if self.type == "CUSTOM" and not (self.value or self.custom_provider_id):
            raise ValueError("a CUSTOM location needs its stable link in value, or customProviderId")
        if self.custom_provider_id and self.type != "CUSTOM":
            raise ValueError("customProviderId goes with a CUSTOM location")
        if self.type == "CUSTOM" and self.value and not self.value.startswith(("https://", "http://")):
            raise ValueError("a CUSTOM location's value is its meeting link: an absolute http(s) URL")
        return self


class _EventTypeFields(ApiModel):
    description: str | None = None
    location: Location = Location(type="IN_PERSON")
    schedule: Schedule = Field(default_factory=Schedule)
    buffer_before_minutes: Minutes = 0
    buffer_after_minutes: Minutes = 0
    minimum_notice_minutes: Minutes = 0
    booking_window_days: Annotated[int, Field(ge=1, le=730)] = 60
    daily_limit: Annotated[int, Field(ge=1)] | None = None
    slot_interval_minutes: Annotated[int, Field(ge=5, le=1440)] | None = None
    hosts: list[str] = Field(default=[], description="User ids of the hosts, in priority order.")
    host_policy: Literal["all", "any", "n"] = "all"
    required_hosts: Annotated[int, Field(ge=1)] | None = None
    seats_per_slot: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=1, description="Bookings one slot takes; they share the hosts' time and one meeting link."
    )


class EventTypeCreate(_EventTypeFields):
    title: Annotated[str, Field(min_length=1, max_length=500)]
    slug: Annotated[str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=200)] | None = None
    duration_minutes: Annotated[int, Field(ge=5, le=1440)] = 30

    @model_validator(mode="after")
    def _policy(self) -> EventTypeCreate:
        _check_policy(self.host_policy, self.required_hosts, self.hosts)
        return self


class EventTypeUpdate(ApiModel):
    """Only the fields sent change."""

    title: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    slug: Annotated[str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=200)] | None = None
    duration_minutes: Annotated[int, Field(ge=5, le=1440)] | None = None
    description: str | None = None
    location: Location | None = None
    schedule: Schedule | None = None
    buffer_before_minutes: Minutes | None = None
    buffer_after_minutes: Minutes | None = None
    minimum_notice_minutes: Minutes | None = None
    booking_window_days: Annotated[int, Field(ge=1, le=730)] | None = None
    daily_limit: Annotated[int, Field(ge=1)] | None = None
    slot_interval_minutes: Annotated[int, Field(ge=5, le=1440)] | None = None
    hosts: list[str] | None = None
    host_policy: Literal["all", "any", "n"] | None = None
    required_hosts: Annotated[int, Field(ge=1)] | None = None
    seats_per_slot: Annotated[int, Field(ge=1, le=1000)] | None = None

    @field_validator(
        "title", "duration_minutes", "location", "schedule", "hosts", "host_policy", "booking_window_days", "seats_per_slot"
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null")
        return value


class EventTypeRead(_EventTypeFields):
    id: str
    title: str
    slug: str
    duration_minutes: int
    created_at: datetime
    updated_at: datetime


def _check_policy(policy: str, required: int | None, hosts: list[str]) -> None:
    if policy == "n" and (required is None or required > max(len(hosts), 1)):
        raise ValueError("hostPolicy 'n' needs requiredHosts between 1 and the number of hosts")
    if policy != "n" and required is not None:
        raise ValueError("requiredHosts goes with hostPolicy 'n'")


def _slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:200] or "event"


class LoadedEventType:
    """An event type with its hosts, as the availability and booking services use it."""

    def __init__(self, row: models.EventType, host_ids: list[str]) -> None:
        self.row = row
        self.host_ids = host_ids
        self.location = Location.model_validate(row.location)
        self.schedule = Schedule.model_validate(row.schedule).to_domain()
        self.policy = HostPolicy(PolicyKind(row.host_policy), row.required_hosts)
        self.rules = SlotRules(
            duration=timedelta(minutes=row.duration_minutes),
            step=timedelta(minutes=row.slot_interval_minutes or row.duration_minutes),
            buffer_before=timedelta(minutes=row.buffer_before_minutes),
            buffer_after=timedelta(minutes=row.buffer_after_minutes),
            minimum_notice=timedelta(minutes=row.minimum_notice_minutes),
            booking_window=timedelta(days=row.booking_window_days),
            daily_limit=row.daily_limit,
        )

    def read(self) -> EventTypeRead:
        row = self.row
        return EventTypeRead(
            id=row.id, title=row.title, slug=row.slug, description=row.description,
            duration_minutes=row.duration_minutes, location=Location.model_validate(row.location),
            schedule=Schedule.model_validate(row.schedule), buffer_before_minutes=row.buffer_before_minutes,
            buffer_after_minutes=row.buffer_after_minutes, minimum_notice_minutes=row.minimum_notice_minutes,
            booking_window_days=row.booking_window_days, daily_limit=row.daily_limit,
            slot_interval_minutes=row.slot_interval_minutes, hosts=self.host_ids, host_policy=row.host_policy,
            required_hosts=row.required_hosts, seats_per_slot=row.seats_per_slot,
            created_at=row.created_at, updated_at=row.updated_at,
        )


async def _hosts_of(uow: UnitOfWork, event_type_ids: list[str]) -> dict[str, list[str]]:
    """The host user ids of each event type, in priority order, in one query."""
    hosts: dict[str, list[str]] = {event_type_id: [] for event_type_id in event_type_ids}
    rows = await uow.session.execute(
        select(models.EventTypeHost.event_type_id, models.EventTypeHost.user_id)
        .where(models.EventTypeHost.event_type_id.in_(event_type_ids))
        .order_by(models.EventTypeHost.position)
    )
    for event_type_id, user_id in rows:
        hosts[event_type_id].append(user_id)
    return hosts


async def load_event_type(uow: UnitOfWork, tenant_id: str, event_type_id: str) -> LoadedEventType:
    row = await uow.session.get(models.EventType, event_type_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("no such event type")
    return LoadedEventType(row, (await _hosts_of(uow, [row.id]))[row.id])


async def _set_hosts(uow: UnitOfWork, tenant_id: str, event_type_id: str, host_ids: list[str]) -> None:
    if len(set(host_ids)) != len(host_ids):
        raise InvalidInput("a host is listed twice", field="hosts")
    if host_ids:
        known = set(
            (await uow.session.scalars(
                select(models.User.id).where(models.User.tenant_id == tenant_id, models.User.id.in_(host_ids))
            )).all()
        )
        missing = [h for h in host_ids if h not in known]
        if missing:
            raise InvalidInput(f"no such user: {', '.join(missing)}", field="hosts")
    await uow.session.execute(delete(models.EventTypeHost).where(models.EventTypeHost.event_type_id == event_type_id))
    uow.session.add_all(
        models.EventTypeHost(event_type_id=event_type_id, user_id=user_id, tenant_id=tenant_id, position=i)
        for i, user_id in enumerate(host_ids)
    )


_COLUMNS = (
    "title", "slug", "description", "duration_minutes", "buffer_before_minutes", "buffer_after_minutes",
    "minimum_notice_minutes", "booking_window_days", "daily_limit", "slot_interval_minutes",
    "host_policy", "required_hosts", "seats_per_slot",
)


async def _flush_unique_slug(uow: UnitOfWork, slug: str) -> None:
    try:
        await uow.session.flush()
    except IntegrityError:
        raise AlreadyExists(f"an event type with slug {slug!r} already exists") from None


async def create_event_type(runtime: Runtime, tenant_id: str, data: EventTypeCreate) -> EventTypeRead:
    async with UnitOfWork(runtime) as uow:
        row = models.EventType(id=new_id("evtt"), tenant_id=tenant_id)
        for column in _COLUMNS:
            setattr(row, column, getattr(data, column))
        row.slug = data.slug or _slugify(data.title)
        row.location = data.location.model_dump(mode="json", by_alias=True)
        row.schedule = data.schedule.model_dump(mode="json", by_alias=True)
        uow.session.add(row)
        await _flush_unique_slug(uow, row.slug)
        await _set_hosts(uow, tenant_id, row.id, data.hosts)
        await uow.commit()
        return (await load_event_type(uow, tenant_id, row.id)).read()


async def get_event_type(runtime: Runtime, tenant_id: str, event_type_id: str) -> EventTypeRead:
    async with UnitOfWork(runtime) as uow:
        return (await load_event_type(uow, tenant_id, event_type_id)).read()


async def list_event_types(runtime: Runtime, tenant_id: str, *, limit: int, cursor: str | None) -> Page[EventTypeRead]:
    async with UnitOfWork(runtime) as uow:
        page = await paginate(
            uow.session, select(models.EventType).where(models.EventType.tenant_id == tenant_id),
            models.EventType.id, lambda row: row, limit=limit, cursor=cursor,
        )
        hosts = await _hosts_of(uow, [row.id for row in page.data])
        reads = [LoadedEventType(row, hosts[row.id]).read() for row in page.data]
        return Page[EventTypeRead](data=reads, next_cursor=page.next_cursor)


async def update_event_type(runtime: Runtime, tenant_id: str, event_type_id: str, data: EventTypeUpdate) -> EventTypeRead:
    async with UnitOfWork(runtime) as uow:
        loaded = await load_event_type(uow, tenant_id, event_type_id)
        row = loaded.row
        changes = data.model_dump(exclude_unset=True)
        hosts = changes.pop("hosts", loaded.host_ids)
        policy = changes.get("host_policy", row.host_policy)
        required = changes.get("required_hosts", row.required_hosts if policy == "n" else None)
        try:
            _check_policy(policy, required, hosts)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="hostPolicy") from None
        for column in _COLUMNS:
            if column in changes:
                setattr(row, column, changes[column])
        row.required_hosts = required
        if data.location is not None:
            row.location = data.location.model_dump(mode="json", by_alias=True)
        if data.schedule is not None:
            row.schedule = data.schedule.model_dump(mode="json", by_alias=True)
        row.version += 1
        await _flush_unique_slug(uow, row.slug)
        await _set_hosts(uow, tenant_id, row.id, hosts)
        await uow.commit()
        return (await load_event_type(uow, tenant_id, row.id)).read()


async def delete_event_type(runtime: Runtime, tenant_id: str, event_type_id: str) -> None:
    """Delete an event type; refused while it has upcoming confirmed bookings (cancel them first)."""
    async with UnitOfWork(runtime) as uow:
        loaded = await load_event_type(uow, tenant_id, event_type_id)
        upcoming = await uow.session.scalar(
            select(models.Booking.id).where(
                models.Booking.event_type_id == event_type_id,
                models.Booking.status == "confirmed",
                models.Booking.end_at > datetime.now(timezone.utc),
            ).limit(1)
        )
        if upcoming is not None:
            raise InvalidState("this event type has upcoming bookings: cancel them before deleting it")
        await uow.session.delete(loaded.row)
        await uow.commit()
