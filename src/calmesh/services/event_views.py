"""Mirror rows as the API shows them (``/v1/events``), and as ``event.*`` webhooks carry them.

Shared by :mod:`calmesh.services.events` (the API) and :mod:`calmesh.services.mirror` (which
announces every change it makes); see the former for the shapes' conventions.

``conference`` is the *detected* conference (PRODUCT.md M6,
:func:`calmesh.conferencing.detect_conference`): the first join link of the description, else
of the location, else the calendar's own conference field; null when the event has none. A
webhook payload detects it after privacy is applied, so it never shows a link the payload hides.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field
from typing_extensions import TypedDict

from calmesh.conferencing import detect_conference
from calmesh.domain.events import Event, ParticipationStatus, Recurrence, Visibility
from calmesh.schemas import ApiModel
from calmesh.storage import models
from calmesh.sync.outbound import redacted
from calmesh.sync.settings import SyncSettings

__all__ = [
    "FROM_PARTSTAT",
    "AttendeeOut",
    "ConferenceOut",
    "EventRead",
    "EventTimeOut",
    "OrganizerOut",
    "ReminderOut",
    "ResponseStatus",
    "SyncState",
    "event_read",
    "ical_time",
    "time_out",
    "webhook_event_data",
]

UTC = timezone.utc
ResponseStatus = Literal["needsAction", "accepted", "declined", "tentative", "delegated"]
SyncState = Literal["SYNCED", "PENDING"]

FROM_PARTSTAT: dict[ParticipationStatus, ResponseStatus] = {
    ParticipationStatus.NEEDS_ACTION: "needsAction",
    ParticipationStatus.ACCEPTED: "accepted",
    ParticipationStatus.DECLINED: "declined",
    ParticipationStatus.TENTATIVE: "tentative",
    ParticipationStatus.DELEGATED: "delegated",
}

class EventTimeOut(TypedDict, total=False):
    """``{"dateTime", "timeZone"}`` for a timed event, ``{"date"}`` for an all-day one (like
    Google); a floating time has ``dateTime`` without offset and no ``timeZone``."""

    dateTime: datetime
    date: dt.date
    timeZone: str


class AttendeeOut(ApiModel):
    # Not EmailStr: providers hand us addresses such as Google's "invalid:nomail".
    email: str
    name: str | None
    response_status: ResponseStatus


class OrganizerOut(ApiModel):
    email: str
    name: str | None


class ConferenceOut(ApiModel):
    """How to join the event's meeting, as detected in its description, location and conference
    field (the description's link wins)."""

    service: str | None = Field(description="GOOGLE_MEET, TEAMS, ZOOM, WEBEX… CUSTOM for an unrecognised link in the conference field, PHONE for dial-ins only.")
    join_url: str | None
    meeting_id: str | None
    passcode: str | None
    dial_ins: list[str] = Field(description="tel: URIs, the access code after ',,' when known.")
    source: Literal["description", "location", "conference"] | None = Field(
        default=None, description="Where the join link was found."
    )


class ReminderOut(ApiModel):
    method: str
    minutes: int



class EventRead(ApiModel):
    id: str
    calendar_id: str
    integration_id: str
    ical_uid: str
    title: str | None
    description: str | None
    location: str | None
    start: EventTimeOut
    end: EventTimeOut
    all_day: bool
    status: str
    transparency: str
    visibility: str
    recurrence: list[str] | None
    #: For an override or an expanded instance: the id of the series' master.
    recurring_event_id: str | None
    original_start_time: EventTimeOut | None
    organizer: OrganizerOut | None
    attendees: list[AttendeeOut]
    conference: ConferenceOut | None
    reminders: list[ReminderOut]
    origin: str
    created_at: datetime
    updated_at: datetime
    sync_state: SyncState | None = Field(default=None, description="Write responses only: SYNCED, or PENDING (retried by the next sync).")
    sync_error: str | None = Field(default=None, description="Why the provider has not got this version yet.")


# --- rows to shapes -------------------------------------------------------------------------


def _zone_key(value: datetime, fallback: str | None) -> str:
    zone = value.tzinfo
    if isinstance(zone, ZoneInfo):
        return zone.key
    return fallback or "UTC"


def time_out(value: datetime | dt.date, zone_name: str | None = None) -> EventTimeOut:
    if not isinstance(value, datetime):
        return {"date": value}
    if value.tzinfo is None:
        return {"dateTime": value}
    return {"dateTime": value, "timeZone": _zone_key(value, zone_name)}


def ical_time(value: datetime | dt.date) -> tuple[str, str]:
    """(parameters, value) of an RFC 5545 DATE or DATE-TIME property."""
    if not isinstance(value, datetime):
        return ";VALUE=DATE", value.strftime("%Y%m%d")
    if value.tzinfo is None:
        return "", value.strftime("%Y%m%dT%H%M%S")
    key = _zone_key(value, None)
    if key in ("UTC", "Etc/UTC"):
        return "", value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f";TZID={key}", value.strftime("%Y%m%dT%H%M%S")


def _recurrence_lines(recurrence: Recurrence | None) -> list[str] | None:
    if recurrence is None:
        return None
    lines = [f"RRULE:{rule}" for rule in recurrence.rrules]
    for name, values in (("RDATE", recurrence.rdates), ("EXDATE", recurrence.exdates)):
        for moment in values:
            params, text = ical_time(moment.value)
            lines.append(f"{name}{params}:{text}")
    return lines or None


def _conference_out(event: Event, account_email: str | None) -> ConferenceOut | None:
    found = detect_conference(
        conference=event.conference, location=event.location, description=event.description, account_email=account_email
    )
    if not found.found:
        return None
    return ConferenceOut(
        service=found.service, join_url=found.join_url, meeting_id=found.meeting_id, passcode=found.passcode,
        dial_ins=list(found.dial_ins), source=found.source,
    )


def event_read(
    row: models.Event, event: Event, integration_id: str, master_id: str | None, *, account_email: str | None = None
) -> EventRead:
    """``account_email``: the connection's account, so that a Meet link opens with it."""
    return EventRead(
        id=row.id,
        calendar_id=row.calendar_id,
        integration_id=integration_id,
        ical_uid=row.ical_uid,
        title=event.summary,
        description=event.description,
        location=event.location,
        start=time_out(event.start.value, row.time_zone),
        end=time_out(event.end.value, row.end_time_zone or row.time_zone),
        all_day=event.all_day,
        status=event.status.value,
        transparency=event.transparency.value,
        visibility=event.visibility.value,
        recurrence=_recurrence_lines(event.recurrence),
        recurring_event_id=master_id,
        original_start_time=time_out(event.recurrence_id.value.value, row.time_zone) if event.recurrence_id else None,
        organizer=OrganizerOut(email=event.organizer.email, name=event.organizer.name) if event.organizer else None,
        attendees=[AttendeeOut(email=a.email, name=a.name, response_status=FROM_PARTSTAT[a.status]) for a in event.attendees],
        conference=_conference_out(event, account_email),
        reminders=[ReminderOut(method=r.method, minutes=r.minutes_before) for r in event.reminders],
        origin=row.origin,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _private_view(event: Event, settings: SyncSettings) -> Event:
    """``event`` with what its own visibility or the connection's ``eventPrivacy`` and
    ``showEventDetails`` hide taken out: a webhook payload travels further than the API."""
    private = event.visibility in (Visibility.PRIVATE, Visibility.CONFIDENTIAL)
    return redacted(event, settings, details=settings.show_event_details and not private, hidden_title=None)


def webhook_event_data(
    row: models.Event, event: Event, integration_id: str, master_id: str | None, settings: SyncSettings
) -> dict[str, Any]:
    """An ``event.created``/``event.updated`` payload: the API's shape, privacy applied."""
    read = event_read(row, _private_view(event, settings), integration_id, master_id)
    return read.model_dump(mode="json", by_alias=True, exclude={"sync_state", "sync_error"})
