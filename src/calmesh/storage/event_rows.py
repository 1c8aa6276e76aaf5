"""Mirror rows to domain events and back (the ``events`` table's conventions).

UTC instants in ``start_at``/``end_at``; all-day values as midnight UTC of their date; floating
values as their wall time read as UTC; the zone name in ``time_zone``. RDATE, EXDATE and
RECURRENCE-ID values are ISO 8601 text (with their UTC offset when they have one). A custom
VTIMEZONE with no IANA name keeps its TZID here and its rules only in ``raw``.
"""

from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calmesh.domain.events import (
    Attendee,
    ConferenceData,
    Event,
    EventStatus,
    EventTime,
    Organizer,
    ParticipationStatus,
    Recurrence,
    RecurrenceId,
    Reminder,
    Transparency,
    Visibility,
)
from calmesh.storage import models

__all__ = ["event_from_row", "row_values", "zone_named"]

UTC = timezone.utc


def zone_named(name: str | None) -> tzinfo:
    """The zone for a stored name; UTC when there is none or it is unknown here."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _zone_name(value: EventTime) -> str | None:
    if not isinstance(value.value, datetime) or value.value.tzinfo is None:
        return None
    zone = value.value.tzinfo
    if isinstance(zone, ZoneInfo):
        return zone.key
    if zone is UTC or (value.value.utcoffset() == UTC.utcoffset(None) and value.tzid is None):
        return "UTC"
    # A custom VTIMEZONE with no IANA name: its rules live only in `raw`.
    return value.tzid


def _text(value: datetime | date) -> str:
    return value.isoformat()


def _parse(text: str, zone: tzinfo) -> datetime | date:
    if "T" not in text:
        return date.fromisoformat(text)
    value = datetime.fromisoformat(text)
    return value.astimezone(zone) if value.tzinfo is not None else value


def row_values(event: Event) -> dict[str, Any]:
    recurrence = event.recurrence
    return {
        "ical_uid": event.uid,
        "recurrence_id": _text(event.recurrence_id.value.value) if event.recurrence_id else None,
        "recurrence_range": "THISANDFUTURE" if event.recurrence_id and event.recurrence_id.this_and_future else None,
        "start_at": event.start.to_utc(UTC),
        "end_at": event.end.to_utc(UTC),
        "time_zone": _zone_name(event.start),
        "end_time_zone": _zone_name(event.end),
        "all_day": event.start.all_day,
        "floating": event.start.floating,
        "rrule": "\n".join(recurrence.rrules) if recurrence and recurrence.rrules else None,
        "rdates": [_text(t.value) for t in recurrence.rdates] if recurrence and recurrence.rdates else None,
        "exdates": [_text(t.value) for t in recurrence.exdates] if recurrence and recurrence.exdates else None,
        "summary": event.summary,
        "description": event.description,
        "location": event.location,
        "status": event.status.value,
        "transparency": event.transparency.value,
        "visibility": event.visibility.value,
        "organizer": {"email": event.organizer.email, "name": event.organizer.name} if event.organizer else None,
        "attendees": [
            {"email": a.email, "name": a.name, "status": a.status.value, "role": a.role, "rsvp": a.rsvp}
            for a in event.attendees
        ],
        "conference": (
            {
                "service": event.conference.service,
                "joinUrl": event.conference.join_url,
                "meetingId": event.conference.meeting_id,
                "passcode": event.conference.passcode,
                "dialIns": list(event.conference.dial_ins),
            }
            if event.conference
            else None
        ),
        "reminders": [{"minutes": r.minutes_before, "method": r.method} for r in event.reminders] or None,
        "sequence": event.sequence,
    }


def _time(stored: datetime, zone_name: str | None, all_day: bool, floating: bool) -> EventTime:
    if all_day:
        return EventTime(stored.date())
    if floating:
        return EventTime(stored.replace(tzinfo=None))
    return EventTime(stored.astimezone(zone_named(zone_name)), zone_name)


def event_from_row(row: models.Event) -> Event:
    """The domain event a mirror row stands for."""
    zone = zone_named(row.time_zone)
    recurrence = None
    if row.rrule or row.rdates or row.exdates:
        recurrence = Recurrence(
            rrules=tuple(row.rrule.splitlines()) if row.rrule else (),
            rdates=tuple(EventTime(_parse(t, zone)) for t in row.rdates or ()),
            exdates=tuple(EventTime(_parse(t, zone)) for t in row.exdates or ()),
        )
    recurrence_id = None
    if row.recurrence_id:
        recurrence_id = RecurrenceId(EventTime(_parse(row.recurrence_id, zone)), row.recurrence_range == "THISANDFUTURE")
    conference = None
    if row.conference:
        c = row.conference
        conference = ConferenceData(c.get("service"), c.get("joinUrl"), c.get("meetingId"), c.get("passcode"), tuple(c.get("dialIns") or ()))
    return Event(
        uid=row.ical_uid,
        start=_time(row.start_at, row.time_zone, row.all_day, row.floating),
        end=_time(row.end_at, row.end_time_zone or row.time_zone, row.all_day, row.floating),
        summary=row.summary,
        description=row.description,
        location=row.location,
        status=EventStatus(row.status),
        transparency=Transparency(row.transparency),
        visibility=Visibility(row.visibility),
        recurrence=recurrence,
        recurrence_id=recurrence_id,
        organizer=Organizer(row.organizer["email"], row.organizer.get("name")) if row.organizer else None,
        attendees=tuple(
            Attendee(a["email"], a.get("name"), ParticipationStatus(a.get("status", "needs-action")), a.get("role"), bool(a.get("rsvp")))
            for a in row.attendees or ()
        ),
        conference=conference,
        reminders=tuple(Reminder(r["minutes"], r.get("method", "popup")) for r in row.reminders or ()),
        sequence=row.sequence,
    )
