"""What follows a booking outside calmesh (PRODUCT.md A4, M4; seed 004): its meeting link and the
event in the organizing host's calendar.

The organizer is the booking's first host. The link comes from the event type's location:

* ``ZOOM``: a meeting at the organizer's connected Zoom (:mod:`calmesh.services.meetings`);
* ``GOOGLE_MEET``: Google makes it with the event in the organizer's Google calendar;
* ``CUSTOM``: the stable link (``value``, or a custom conferencing provider's URL);
* ``HOST_DEFAULT``: the organizer's default conferencing (:mod:`calmesh.services.conferencing`);
* ``IN_PERSON`` / ``PHONE``: no link; the address or number is the event's location.

A link that cannot be made is an error on the booking, never a quiet switch to another service.
The calendar event goes to the organizer's ``createEventsIn`` calendar (the first of their
calendar integrations that names one); a host without one gets no event, and the booking still
holds the link. The event carries the link in its location and description, where every
calendar and every invitee's client shows it.

These functions do I/O at the providers and commit through the services they call; the booking
service orders them around its own transaction (see :mod:`calmesh.services.bookings`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from calmesh.conferencing import join_instructions, service_for_url
from calmesh.errors import CalmeshError, InvalidState, NotFound, ProviderRefused
from calmesh.providers.base import MeetingRequest
from calmesh.providers.registry import CALENDAR_PROVIDERS
from calmesh.services import events as event_service
from calmesh.services import meetings
from calmesh.services.conferencing import resolve_default
from calmesh.services.event_types import Location
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.sync.settings import SyncSettings

__all__ = [
    "BookingLink",
    "Participants",
    "conference_link",
    "meeting_still_used",
    "participants_of",
    "release_meeting",
    "remove_calendar_event",
    "write_calendar_event",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BookingLink:
    """A booking's link as the booking stores it (``conference``) and the calendar event shows it."""

    #: {"service", "joinUrl", "meetingId", "passcode", "dialIns"}; for GOOGLE_MEET before the
    #: calendar event is written, only {"service": "GOOGLE_MEET"}. None: no conferencing.
    conference: dict[str, Any] | None
    #: The meeting calmesh created at a connected service (Zoom), when it did.
    meeting_id: str | None = None
    #: The calendar event's location when there is no link: the address, the phone number.
    place: str | None = None

    @property
    def join_url(self) -> str | None:
        return (self.conference or {}).get("joinUrl")


@dataclass(frozen=True, slots=True)
class Participants:
    """Who a booking's calendar event is between, and where it goes."""

    organizer_id: str
    organizer_time_zone: str
    #: (email, name) of the other hosts and the attendee.
    guests: tuple[tuple[str, str | None], ...]
    #: The organizer's calendar integration that takes the event, and its provider (None: none).
    calendar_connection_id: str | None
    calendar_provider: str | None


async def participants_of(
    uow: UnitOfWork, tenant_id: str, host_ids: list[str], attendee_email: str, attendee_name: str
) -> Participants:
    users = {
        user.id: user
        for user in (await uow.session.scalars(select(models.User).where(models.User.id.in_(host_ids)))).all()
    }
    organizer = users[host_ids[0]]
    others = tuple((users[h].email, users[h].name) for h in host_ids[1:] if h in users)
    calendar = await _calendar_connection_of(uow, tenant_id, organizer.id)
    return Participants(
        organizer.id, organizer.time_zone, (*others, (attendee_email, attendee_name)),
        calendar.id if calendar else None, calendar.provider if calendar else None,
    )


async def _calendar_connection_of(uow: UnitOfWork, tenant_id: str, user_id: str) -> models.Connection | None:
    """The user's first calendar integration that names a ``createEventsIn`` calendar."""
    connections = (
        await uow.session.scalars(
            select(models.Connection)
            .where(
                models.Connection.tenant_id == tenant_id,
                models.Connection.user_id == user_id,
                models.Connection.provider.in_(CALENDAR_PROVIDERS),
                models.Connection.status.in_(("ACTIVE", "SYNCING", "ERROR")),
            )
            .order_by(models.Connection.created_at, models.Connection.id)
        )
    ).all()
    return next((c for c in connections if SyncSettings.model_validate(c.settings or {}).create_events_in), None)


def _stable(url: str) -> dict[str, Any]:
    return {"service": service_for_url(url) or "CUSTOM", "joinUrl": url, "meetingId": None, "passcode": None, "dialIns": []}


async def _location_choice(
    uow: UnitOfWork, tenant_id: str, location: Location, organizer_id: str
) -> tuple[str, str | None]:
    """(service, stable URL) the location means for this organizer; HOST_DEFAULT resolved."""
    if location.type == "HOST_DEFAULT":
        choice = await resolve_default(uow, tenant_id, organizer_id, None)
        return choice.service, choice.url
    if location.type == "CUSTOM" and location.custom_provider_id:
        provider = await uow.session.get(models.CustomConferencingProvider, location.custom_provider_id)
        if provider is None or provider.tenant_id != tenant_id:
            raise NotFound("the event type's custom conferencing provider no longer exists")
        return "CUSTOM", provider.url
    return location.type, location.value


async def conference_link(
    runtime: Runtime, tenant_id: str, location: Location, participants: Participants,
    start: datetime, end: datetime, *, topic: str, agenda: str | None,
) -> BookingLink:
    """A new link for a booking at ``start``-``end`` at ``location`` (the event type's); ZOOM
    schedules a meeting, which the caller releases if the booking is not written."""
    connection_id: str | None = None
    async with UnitOfWork(runtime) as uow:
        service, url = await _location_choice(uow, tenant_id, location, participants.organizer_id)
        if service == "ZOOM":
            connection_id = await meetings.conferencing_connection(uow, tenant_id, participants.organizer_id)
    if service == "ZOOM":
        if connection_id is None:
            raise InvalidState("the organizing host has not connected Zoom: they connect it before Zoom bookings can be made")
        request = MeetingRequest(
            topic=topic, start=start, duration_minutes=int((end - start).total_seconds() // 60),
            time_zone=participants.organizer_time_zone, agenda=agenda,
        )
        scheduled = await meetings.schedule_meeting(runtime, tenant_id, connection_id, request)
        return BookingLink(scheduled.conference(), scheduled.id)
    if service == "GOOGLE_MEET":
        if participants.calendar_provider != "GOOGLE":
            raise InvalidState(
                "Google Meet links are made by Google calendars: the organizing host needs a Google integration with createEventsIn"
            )
        return BookingLink({"service": "GOOGLE_MEET"})
    if service == "TEAMS":
        raise InvalidState("Teams links are made by Microsoft 365 calendars, which calmesh cannot connect yet")
    if service == "CUSTOM":
        assert url is not None  # a CUSTOM location or default always has its link
        return BookingLink(_stable(url))
    if service in ("IN_PERSON", "PHONE"):
        return BookingLink(None, place=location.value)
    return BookingLink(None)  # NONE: the organizer's default is no conferencing


# --- the calendar event ---------------------------------------------------------------------


def _description(link: BookingLink, notes: str | None) -> str | None:
    parts = [notes] if notes else []
    conference = link.conference or {}
    if conference.get("joinUrl") and conference.get("service") != "GOOGLE_MEET":
        # Meet links travel in Google's own conference field; others in the text every client shows.
        parts.append(
            join_instructions(
                conference.get("service"), conference["joinUrl"], meeting_id=conference.get("meetingId"),
                passcode=conference.get("passcode"), dial_ins=conference.get("dialIns") or (),
            )
        )
    return "\n\n".join(parts) or None


def _event_times(start: datetime, end: datetime, time_zone: str) -> dict[str, Any]:
    zone = ZoneInfo(time_zone)
    return {
        "start": event_service.EventTimeIn(date_time=start.astimezone(zone), time_zone=time_zone),
        "end": event_service.EventTimeIn(date_time=end.astimezone(zone), time_zone=time_zone),
    }


async def write_calendar_event(
    runtime: Runtime, tenant_id: str, participants: Participants, link: BookingLink, *,
    title: str, start: datetime, end: datetime, notes: str | None, event_id: str | None,
) -> tuple[str | None, BookingLink]:
    """Create (``event_id`` None) or update the booking's event in the organizer's calendar; the
    link as it now is (GOOGLE_MEET: with the join URL Google made). No calendar: (None, link)."""
    conference = {"service": "GOOGLE_MEET"} if (link.conference or {}).get("service") == "GOOGLE_MEET" else {"service": "NONE"}
    fields: dict[str, Any] = {
        "title": title, "description": _description(link, notes), "location": link.join_url or link.place,
        **_event_times(start, end, participants.organizer_time_zone),
    }
    if event_id is not None:
        try:
            read = await event_service.update_event(runtime, tenant_id, event_id, event_service.EventUpdate(**fields))
        except NotFound:
            event_id = None  # deleted from the calendar meanwhile: write it again
    if event_id is None:
        if participants.calendar_connection_id is None:
            return None, link
        attendees = [event_service.AttendeeIn(email=email, name=name) for email, name in participants.guests]
        read = await event_service.create_event(
            runtime, tenant_id,
            event_service.EventCreate.model_validate(
                {**fields, "integrationId": participants.calendar_connection_id, "attendees": attendees, "conference": conference}
            ),
        )
    if conference["service"] == "GOOGLE_MEET" and not (link.conference or {}).get("joinUrl"):
        link = replace(link, conference=await _meet_link(runtime, tenant_id, read.id, read.sync_error))
    return read.id, link


async def _meet_link(runtime: Runtime, tenant_id: str, event_id: str, sync_error: str | None) -> dict[str, Any]:
    """The Meet link Google made for the event, as the mirror holds it (without the host's own
    ``authuser``: the link is for every participant)."""
    async with UnitOfWork(runtime) as uow:
        row = await uow.session.get(models.Event, event_id)
        conference = dict(row.conference or {}) if row is not None else {}
    if not conference.get("joinUrl"):
        await remove_calendar_event(runtime, tenant_id, event_id)
        raise ProviderRefused(f"Google did not make the Meet link for this booking{f': {sync_error}' if sync_error else ''}")
    return conference


async def remove_calendar_event(runtime: Runtime, tenant_id: str, event_id: str | None) -> None:
    """Delete the booking's calendar event; one already gone is fine."""
    if event_id is None:
        return
    try:
        await event_service.delete_event(runtime, tenant_id, event_id)
    except NotFound:
        pass


# --- the meeting ------------------------------------------------------------------------------


async def meeting_still_used(uow: UnitOfWork, meeting_id: str, *, besides: str) -> bool:
    """Whether a confirmed booking other than ``besides`` uses the meeting."""
    return (
        await uow.session.scalar(
            select(models.Booking.id)
            .where(models.Booking.meeting_id == meeting_id, models.Booking.status == "confirmed", models.Booking.id != besides)
            .limit(1)
        )
    ) is not None


async def release_meeting(runtime: Runtime, tenant_id: str, meeting_id: str | None, *, booking_id: str) -> None:
    """Delete the meeting at its service unless another confirmed booking still uses it (M4).

    Runs after the booking change is committed; a failure is logged, not raised — the booking
    change stands, and a meeting left at Zoom harms nobody.
    """
    if meeting_id is None:
        return
    async with UnitOfWork(runtime) as uow:
        if await meeting_still_used(uow, meeting_id, besides=booking_id):
            return
    try:
        await meetings.cancel_meeting(runtime, tenant_id, meeting_id)
    except CalmeshError as exc:
        log.warning("could not delete a booking's meeting", extra={"meeting_id": meeting_id, "error": exc.message})
