"""The Event resource: what a write may carry, and the stored JSON it becomes (protocols.md §1.3-§1.4).

Pure functions over Google Event JSON; the store (:mod:`.state`) decides ids, etags and times
and passes them in a :class:`WriteContext`.

* :func:`clean_body` keeps only fields of the discovery document's Event schema (others are
  ignored, as Google ignores unknown fields), refuses non-scalars where a scalar belongs, and
  applies the extended-property limits: keys over 44 characters are dropped, values over 1024
  are truncated — silently, like Google.
* :func:`merge_patch` is PATCH: objects merge recursively, arrays are replaced, JSON null
  clears. ``start``/``end`` are replaced whole (switching between ``date`` and ``dateTime``
  would otherwise leave both).
* :func:`compose` validates and builds the stored resource (id, iCalUID, times, recurrence,
  attendees, reminders, sequence …) in Google's key order.
* :func:`instance_of` renders one instance of a series; :func:`tombstone` is how lists show a
  cancelled event (only ``id``, and for an instance ``recurringEventId``/``originalStartTime``,
  are guaranteed — the sandbox gives no more, so clients must not rely on more).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from calmesh.sandbox._common import zone
from calmesh.sandbox.google.errors import GoogleApiError
from calmesh.sandbox.google.recurrence import Occurrence, RecurrenceError, compile_series, instance_id
from calmesh.sandbox.google.times import EventTime, TimeError, format_in_zone, parse_event_time, stamp

__all__ = [
    "EVENT_INPUT",
    "CalendarFacts",
    "WriteContext",
    "clean_body",
    "compose",
    "html_link",
    "instance_of",
    "merge_patch",
    "ordered",
    "time_object",
    "tombstone",
    "valid_event_id",
]

#: Extended properties: longer keys are dropped, longer values truncated (protocols.md §1.4).
MAX_PROPERTY_KEY = 44
MAX_PROPERTY_VALUE = 1024

_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")


class _Kind:
    """A spec leaf that is not a plain scalar."""

    def __init__(self, name: str) -> None:
        self.name = name


#: Any JSON value (free-form objects of the schema).
ANY = _Kind("any")
#: An object of strings (``extendedProperties.private`` …).
STRING_MAP = _Kind("map<string>")

_DATETIME: dict[str, Any] = {"date": None, "dateTime": None, "timeZone": None}
_PERSON: dict[str, Any] = {"displayName": None, "email": None, "id": None, "self": None}
_ATTENDEE: dict[str, Any] = {
    "additionalGuests": None,
    "comment": None,
    "displayName": None,
    "email": None,
    "id": None,
    "optional": None,
    "resource": None,
    "responseStatus": None,
}
_SOLUTION_KEY: dict[str, Any] = {"type": None}
_CONFERENCE: dict[str, Any] = {
    "conferenceId": None,
    "conferenceSolution": {"iconUri": None, "key": _SOLUTION_KEY, "name": None},
    "createRequest": {"conferenceSolutionKey": _SOLUTION_KEY, "requestId": None, "status": {"statusCode": None}},
    "entryPoints": [
        {
            "accessCode": None,
            "entryPointFeatures": [None],
            "entryPointType": None,
            "label": None,
            "meetingCode": None,
            "passcode": None,
            "password": None,
            "pin": None,
            "regionCode": None,
            "uri": None,
        }
    ],
    "notes": None,
    "parameters": {"addOnParameters": {"parameters": STRING_MAP}},
    "signature": None,
}
_AUTO_DECLINE: dict[str, Any] = {"autoDeclineMode": None, "declineMessage": None}

#: What a client may write, as a tree of the Event schema (None: a scalar).
EVENT_INPUT: dict[str, Any] = {
    "anyoneCanAddSelf": None,
    "attachments": [{"fileId": None, "fileUrl": None, "iconLink": None, "mimeType": None, "title": None}],
    "attendees": [_ATTENDEE],
    "attendeesOmitted": None,
    "colorId": None,
    "conferenceData": _CONFERENCE,
    "description": None,
    "end": _DATETIME,
    "endTimeUnspecified": None,
    "eventType": None,
    "extendedProperties": {"private": STRING_MAP, "shared": STRING_MAP},
    "focusTimeProperties": {**_AUTO_DECLINE, "chatStatus": None},
    "guestsCanInviteOthers": None,
    "guestsCanModify": None,
    "guestsCanSeeOtherGuests": None,
    "iCalUID": None,
    "id": None,
    "location": None,
    "organizer": _PERSON,
    "outOfOfficeProperties": _AUTO_DECLINE,
    "privateCopy": None,
    "recurrence": [None],
    "reminders": {"overrides": [{"method": None, "minutes": None}], "useDefault": None},
    "sequence": None,
    "source": {"title": None, "url": None},
    "start": _DATETIME,
    "status": None,
    "summary": None,
    "transparency": None,
    "visibility": None,
    "workingLocationProperties": {
        "customLocation": {"label": None},
        "homeOffice": ANY,
        "officeLocation": {"buildingId": None, "deskId": None, "floorId": None, "floorSectionId": None, "label": None},
        "type": None,
    },
}

#: Google's order of an Event's keys (a stored resource is built in this order).
_ORDER = [
    "kind",
    "etag",
    "id",
    "status",
    "htmlLink",
    "created",
    "updated",
    "summary",
    "description",
    "location",
    "colorId",
    "creator",
    "organizer",
    "start",
    "end",
    "endTimeUnspecified",
    "recurrence",
    "recurringEventId",
    "originalStartTime",
    "transparency",
    "visibility",
    "iCalUID",
    "sequence",
    "attendees",
    "attendeesOmitted",
    "extendedProperties",
    "hangoutLink",
    "conferenceData",
    "anyoneCanAddSelf",
    "guestsCanInviteOthers",
    "guestsCanModify",
    "guestsCanSeeOtherGuests",
    "privateCopy",
    "reminders",
    "source",
    "workingLocationProperties",
    "outOfOfficeProperties",
    "focusTimeProperties",
    "attachments",
    "eventType",
]

_RANK = {key: index for index, key in enumerate(_ORDER)}

#: Written by the server only; what a client sends for these is ignored.
_SERVER_FIELDS = {"id", "iCalUID", "organizer", "sequence", "eventType", "conferenceData"}
_STATUSES = ("confirmed", "tentative", "cancelled")
_TRANSPARENCIES = ("opaque", "transparent")
_VISIBILITIES = ("default", "public", "private", "confidential")
_EVENT_TYPES = ("default", "focusTime", "outOfOffice", "workingLocation")
_RESPONSES = ("needsAction", "declined", "tentative", "accepted")
_REMINDER_METHODS = ("email", "popup")


@dataclass(frozen=True)
class CalendarFacts:
    """What the Event rules need to know about the calendar an event lives on."""

    id: str
    zone: tzinfo
    owner_email: str
    owner_name: str | None
    summary: str
    primary: bool


@dataclass(frozen=True)
class WriteContext:
    """One write: the calendar, the moment, the new etag, and the client's options."""

    calendar: CalendarFacts
    now: datetime
    etag: str
    base_url: str
    #: A change made through ``sb.*`` (another client, or an invitation): may set ``organizer``.
    trusted: bool = False


# --- input -------------------------------------------------------------------------------


def clean_body(body: Any) -> dict[str, Any]:
    """``body`` reduced to the writable Event fields (JSON nulls kept: PATCH clears with them)."""
    if not isinstance(body, dict):
        raise GoogleApiError(400, "parseError", "Parse Error")
    cleaned = _clean(body, EVENT_INPUT, "")
    assert isinstance(cleaned, dict)
    properties = cleaned.get("extendedProperties")
    if isinstance(properties, dict):
        for scope in ("private", "shared"):
            values = properties.get(scope)
            if isinstance(values, dict):
                properties[scope] = {
                    key: value if value is None else value[:MAX_PROPERTY_VALUE]
                    for key, value in values.items()
                    if len(key) <= MAX_PROPERTY_KEY
                }
    return cleaned


_DROP = object()


def _clean(value: Any, spec: Any, path: str) -> Any:
    if value is None:
        return None
    if spec is None:
        if isinstance(value, (dict, list)):
            raise GoogleApiError(400, "invalid", f"Invalid value for: {path.lstrip('.')}")
        return value
    if spec is ANY:
        return value
    if spec is STRING_MAP:
        if not isinstance(value, dict):
            raise GoogleApiError(400, "invalid", f"Invalid value for: {path.lstrip('.')}")
        return {str(k): v if v is None or isinstance(v, str) else _scalar_text(v) for k, v in value.items()}
    if isinstance(spec, list):
        if not isinstance(value, list):
            raise GoogleApiError(400, "invalid", f"Invalid value for: {path.lstrip('.')}")
        return [item for item in (_clean(v, spec[0], path) for v in value) if item is not None]
    if not isinstance(value, dict):
        raise GoogleApiError(400, "invalid", f"Invalid value for: {path.lstrip('.')}")
    return {key: _clean(item, spec[key], f"{path}.{key}") for key, item in value.items() if key in spec}


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise GoogleApiError(400, "invalid", "Invalid extended property value.")


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


# Replaced whole on PATCH rather than merged.
_UNITS = {"start", "end", "conferenceData"}


def merge_patch(base: dict[str, Any], patch: dict[str, Any], *, top: bool = True) -> dict[str, Any]:
    """PATCH semantics: objects merge recursively, arrays are replaced, null clears."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict) and not (top and key in _UNITS):
            merged[key] = merge_patch(merged[key], value, top=False)
        else:
            merged[key] = _without_nulls(value)
    return merged


def valid_event_id(event_id: str) -> bool:
    """Whether a client-chosen id follows Google's rules: base32hex, 5 to 1024 characters."""
    return bool(_EVENT_ID.match(event_id))


# --- output ------------------------------------------------------------------------------


def compose(
    fields: dict[str, Any],
    ctx: WriteContext,
    *,
    identity: dict[str, Any],
    previous: dict[str, Any] | None,
    conference: dict[str, Any] | None,
    hangout: str | None,
) -> dict[str, Any]:
    """The stored resource for writable ``fields`` (merged already for PATCH); raises 400s.

    ``identity`` holds what the store decided: ``id``, ``iCalUID`` and, for an instance,
    ``recurringEventId``/``originalStartTime``. ``previous`` is the stored resource being
    changed (None on insert): ``created``, ``creator``, ``organizer`` and ``sequence`` carry on.
    """
    fields = _without_nulls(fields)
    calendar = ctx.calendar
    status = fields.get("status", "confirmed")
    if status not in _STATUSES:
        raise GoogleApiError(400, "invalid", "Invalid value for: status")
    if "start" not in fields:
        raise GoogleApiError(400, "required", "Missing start time.")
    if "end" not in fields:
        raise GoogleApiError(400, "required", "Missing end time.")
    try:
        start = parse_event_time(fields["start"], calendar.zone, "start")
        end = parse_event_time(fields["end"], calendar.zone, "end")
    except TimeError as exc:
        reason = "required" if str(exc).startswith("Missing") else "invalid"
        raise GoogleApiError(400, reason, str(exc)) from None
    if start.all_day != end.all_day:
        raise GoogleApiError(400, "invalid", "Start and end times must either both be date or both be dateTime.")
    if end.instant < start.instant or (start.all_day and end.instant == start.instant):
        raise GoogleApiError(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar")
    is_instance = "recurringEventId" in identity
    recurrence = [] if is_instance else list(fields.get("recurrence") or [])
    if recurrence:
        try:
            compile_series(recurrence, start, end, calendar.zone)
        except RecurrenceError as exc:
            raise GoogleApiError(400, "invalid", str(exc)) from None
    for name, allowed in (("transparency", _TRANSPARENCIES), ("visibility", _VISIBILITIES)):
        if name in fields and fields[name] not in allowed:
            raise GoogleApiError(400, "invalid", f"Invalid value for: {name}")

    resource: dict[str, Any] = {key: value for key, value in fields.items() if key not in _SERVER_FIELDS}
    resource.pop("recurrence", None)
    organizer = _organizer(fields, ctx, previous)
    event_type = (previous or {}).get("eventType") or fields.get("eventType") or "default"
    if event_type not in _EVENT_TYPES:
        raise GoogleApiError(400, "invalid", "Invalid event type.")
    resource.update(
        kind="calendar#event",
        etag=ctx.etag,
        status=status,
        htmlLink=html_link(ctx.base_url, str(identity["id"]), calendar.id),
        created=(previous or {}).get("created") or stamp(ctx.now),
        updated=stamp(ctx.now),
        creator=(previous or {}).get("creator") or _person(calendar.owner_email, calendar.owner_name, self_=True),
        organizer=organizer,
        start=time_object(start, calendar.zone),
        end=time_object(end, calendar.zone),
        sequence=_sequence(previous, fields, start, end, recurrence, calendar.zone),
        eventType=event_type,
        **identity,
    )
    if recurrence:
        resource["recurrence"] = recurrence
    if "attendees" in fields:
        resource["attendees"] = _attendees(fields["attendees"], calendar, organizer)
    resource["reminders"] = _reminders(fields.get("reminders"))
    if conference is not None:
        resource["conferenceData"] = conference
    if hangout is not None:
        resource["hangoutLink"] = hangout
    return ordered(resource)


def ordered(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with its keys in Google's order (unknown keys last)."""
    return dict(sorted(resource.items(), key=lambda item: _RANK.get(item[0], len(_RANK))))


def time_object(value: EventTime, calendar_zone: tzinfo) -> dict[str, Any]:
    """A parsed time as Google writes it: ``{"date"}``, or ``{"dateTime", "timeZone"?}`` in the event's zone."""
    if value.day is not None:
        return {"date": value.day.isoformat()}
    where = zone(value.zone_name) if value.zone_name else None
    written: dict[str, Any] = {"dateTime": format_in_zone(value.instant, where or calendar_zone)}
    if value.zone_name:
        written["timeZone"] = value.zone_name
    return written


def html_link(base_url: str, event_id: str, calendar_id: str) -> str:
    """The event's ``htmlLink``: Google's ``eid`` is base64 of "eventId calendarId"."""
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode().rstrip("=")
    return f"{base_url.rstrip('/')}/calendar/event?eid={eid}"


def _person(email: str, name: str | None, *, self_: bool) -> dict[str, Any]:
    person: dict[str, Any] = {"email": email}
    if name:
        person["displayName"] = name
    if self_:
        person["self"] = True
    return person


def _organizer(fields: dict[str, Any], ctx: WriteContext, previous: dict[str, Any] | None) -> dict[str, Any]:
    calendar = ctx.calendar
    given = fields.get("organizer")
    if ctx.trusted and isinstance(given, dict) and isinstance(given.get("email"), str):
        # An invitation from someone else, put on this calendar by sb.*: they organise it.
        email = str(given["email"])
        return _person(email, given.get("displayName"), self_=email.lower() == calendar.id.lower())
    if previous is not None and "organizer" in previous:
        return dict(previous["organizer"])
    if calendar.primary:
        return _person(calendar.owner_email, calendar.owner_name, self_=True)
    return _person(calendar.id, calendar.summary, self_=True)


def _sequence(
    previous: dict[str, Any] | None,
    fields: dict[str, Any],
    start: EventTime,
    end: EventTime,
    recurrence: list[Any],
    calendar_zone: tzinfo,
) -> int:
    if previous is None:
        return 0
    current = int(previous.get("sequence") or 0)
    moved = (
        previous.get("start") != time_object(start, calendar_zone)
        or previous.get("end") != time_object(end, calendar_zone)
        or (previous.get("recurrence") or []) != recurrence
    )
    return current + 1 if moved else current


def _attendees(values: list[Any], calendar: CalendarFacts, organizer: dict[str, Any]) -> list[dict[str, Any]]:
    attendees: list[dict[str, Any]] = []
    for value in values:
        email = value.get("email") if isinstance(value, dict) else None
        if not isinstance(email, str) or "@" not in email:
            raise GoogleApiError(400, "required", "Missing attendee email.")
        attendee = dict(value)
        response = attendee.get("responseStatus", "needsAction")
        if response not in _RESPONSES:
            raise GoogleApiError(400, "invalid", "Invalid attendee response status.")
        attendee["responseStatus"] = response
        if email.lower() == str(organizer.get("email", "")).lower():
            attendee["organizer"] = True
        if email.lower() in (calendar.id.lower(), calendar.owner_email.lower()):
            attendee["self"] = True
        attendees.append(attendee)
    return attendees


def _reminders(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {"useDefault": True}
    overrides = value.get("overrides") or []
    use_default = bool(value.get("useDefault", not overrides))
    if use_default and overrides:
        raise GoogleApiError(
            400,
            "cannotUseDefaultRemindersAndSpecifyOverride",
            "Cannot specify both default reminders and overrides at the same time.",
        )
    for reminder in overrides:
        if reminder.get("method") not in _REMINDER_METHODS:
            raise GoogleApiError(400, "required", "Missing reminder method.")
        minutes = reminder.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 <= minutes <= 40320:
            raise GoogleApiError(400, "invalid", "Invalid reminder minutes.")
    written: dict[str, Any] = {"useDefault": use_default}
    if overrides:
        written["overrides"] = overrides
    return written


# --- instances and tombstones ------------------------------------------------------------


def instance_of(master: dict[str, Any], occurrence: Occurrence, base_url: str, calendar_id: str) -> dict[str, Any]:
    """One instance of the series ``master``, as events.list(singleEvents) and events.get show it.

    It shares the master's etag, ``updated`` and ``iCalUID``; its id is ``{masterId}_{stamp}``.
    """
    master_id = str(master["id"])
    event_id = instance_id(master_id, occurrence)
    start_zone = master["start"].get("timeZone")
    end_zone = master["end"].get("timeZone")
    if occurrence.day is not None:
        start: dict[str, Any] = {"date": occurrence.day.isoformat()}
        end: dict[str, Any] = {"date": occurrence.end.date().isoformat()}
    else:
        where = occurrence.start.tzinfo
        assert where is not None  # timed series expand to aware times
        start = {"dateTime": format_in_zone(occurrence.start, where)}
        if start_zone:
            start["timeZone"] = start_zone
        end_where = zone(end_zone) if end_zone else None
        end = {"dateTime": format_in_zone(occurrence.end, end_where or where)}
        if end_zone:
            end["timeZone"] = end_zone
    instance = {key: value for key, value in master.items() if key != "recurrence"}
    instance.update(
        id=event_id,
        htmlLink=html_link(base_url, event_id, calendar_id),
        start=start,
        end=end,
        recurringEventId=master_id,
        originalStartTime=dict(start),
    )
    return ordered(instance)


def tombstone(resource: dict[str, Any]) -> dict[str, Any]:
    """A cancelled event as lists show it: only what Google guarantees."""
    shown: dict[str, Any] = {key: resource[key] for key in ("kind", "etag", "id", "status") if key in resource}
    for key in ("recurringEventId", "originalStartTime"):
        if key in resource:
            shown[key] = resource[key]
    return shown
