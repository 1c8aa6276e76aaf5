"""Google Calendar event JSON to and from domain :class:`~calmesh.domain.events.Event` values.

Pure: no I/O. The adapter (:mod:`.adapter`) decides *which* JSON to send (insert, instance
update, merged full update); this module only translates one event at a time.

Public API (to the package):

* :func:`event_from_google` ``(data, *, calendar_zone=None) -> Event`` — raises
  :class:`UnreadableEvent` for an event that cannot be represented (no start, a broken time).
* :func:`event_to_google` ``(event, *, calendar_zone=None) -> dict`` — the writable fields.
* :func:`conference_from_google`, :func:`wants_new_meet`, :func:`meet_create_request`,
  :func:`meet_conference_data` — Google Meet (``conferenceData``).
* :func:`instance_id` — the id Google gives an instance of a series (``{masterId}_{stamp}``).

How fields map (Google Calendar API v3 ``Event`` resource):

* ``start``/``end``: ``date`` is an all-day date (``end`` exclusive, as DTEND). ``dateTime`` with
  ``timeZone`` is an aware datetime in that IANA zone with ``tzid`` = the name Google gave; a
  UTC zone (``UTC``, ``Etc/UTC``) is plain UTC with no tzid. ``dateTime`` with only an offset is an
  aware datetime in that fixed offset (UTC for ``Z``), tzid None — except on a recurring master,
  whose times Google expands in a zone: there the calendar's zone is used when Google gives none.
  Outbound, a zoned time is written as its wall-clock time with its UTC offset plus ``timeZone``
  (the IANA name; a Windows or vendor TZID is resolved with :mod:`calmesh.ical`'s resolver); a
  UTC time as ``…Z``; a *floating* time (RFC 5545 §3.3.5 form 1) as the same wall-clock time in
  the calendar's zone (``calendar_zone``, UTC when unknown) — Google has no floating time. A
  recurring master always carries a ``timeZone`` (Google requires one): ``UTC`` for UTC times,
  ``Etc/GMT±N`` for whole-hour fixed offsets, else the calendar's zone.
* ``recurrence`` lines (RFC 5545 RRULE, RDATE, EXDATE, without DTSTART) <-> :class:`Recurrence`;
  RDATE/EXDATE are read with :mod:`calmesh.ical`'s value readers (TZID, UTC or VALUE=DATE) and
  aligned to the start's kind of time (RFC 5545 §3.8.5.1); they are written in the zone the
  start is written in, one value per line. EXRULE (deprecated by RFC 5545) is ignored.
* ``iCalUID`` <-> uid (``{id}@google.com`` when Google gave none); ``originalStartTime`` <->
  ``recurrence_id``; ``status``, ``transparency``, ``visibility`` (``default``, ``public``,
  ``private``, ``confidential``), ``sequence``, ``created``/``updated`` (read only).
* ``organizer`` and ``attendees`` (``responseStatus`` <-> PARTSTAT; ``optional`` <-> role
  ``OPT-PARTICIPANT``; DELEGATED, which Google lacks, is written as ``needsAction``).
* ``reminders``: ``overrides`` <-> reminders (``popup``/``email``; at most five, Google's limit);
  ``useDefault`` reads as no reminders, and an event without reminders is written with
  ``useDefault`` (the calendar's defaults apply, as for any event created in Google Calendar).
* ``extendedProperties.private``: ``calmeshId`` <-> ``x_properties["X-CALMESH-ID"]`` (the tag
  :mod:`calmesh.sync.outbound` puts on events calmesh wrote); other ``X-`` properties under
  their own names when the name has at most 44 characters — Google silently drops longer keys,
  so they are not sent — with values cut to Google's 1,024 characters. Other applications'
  private properties are not read (the adapter keeps them on update).
* ``conferenceData``/``hangoutLink`` -> :class:`ConferenceData` (service ``GOOGLE_MEET`` for
  Meet, the name :mod:`calmesh.ical` and event types use; the join URL is the ``video`` entry
  point; ``meeting_id`` the ``conferenceId``; dial-ins the ``phone`` entry points, a PIN
  appended as ``tel:+1-555-0100,,123456#``, the pause-and-dial form phones understand).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

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
from calmesh.ical._components import RawProperty
from calmesh.ical._conference import service_for_url
from calmesh.ical._times import TimeReader, align_to_start
from calmesh.ical._values import format_date, format_datetime
from calmesh.ical._zones import CalendarZones, lookup_time_zone
from calmesh.sync.outbound import TAG

__all__ = [
    "CALMESH_ID_KEY",
    "MEET",
    "JsonObject",
    "UnreadableEvent",
    "conference_from_google",
    "create_status",
    "event_from_google",
    "event_to_google",
    "instance_id",
    "instant_key",
    "is_managed_property",
    "meet_conference_data",
    "meet_create_request",
    "ordered",
    "private_properties",
    "time_from_google",
    "wants_new_meet",
    "zone_for",
]

JsonObject = dict[str, Any]

#: The service name calmesh gives Google Meet (as :mod:`calmesh.ical` and event types do).
MEET = "GOOGLE_MEET"
#: Google's key for calmesh's tag in ``extendedProperties.private``.
CALMESH_ID_KEY = "calmeshId"
#: Longer keys are silently dropped by Google; longer values silently truncated.
MAX_PROPERTY_KEY = 44
MAX_PROPERTY_VALUE = 1024
#: Google refuses more reminder overrides than this.
MAX_REMINDERS = 5
_MEET_TYPES = frozenset({"hangoutsMeet", "eventHangout", "eventNamedHangout"})
_UTC_KEYS = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Etc/Zulu", "Zulu", "Universal"})

_STATUS = {"confirmed": EventStatus.CONFIRMED, "tentative": EventStatus.TENTATIVE, "cancelled": EventStatus.CANCELLED}
_VISIBILITY = {v.value: v for v in Visibility}
_RESPONSE = {
    "needsAction": ParticipationStatus.NEEDS_ACTION,
    "accepted": ParticipationStatus.ACCEPTED,
    "declined": ParticipationStatus.DECLINED,
    "tentative": ParticipationStatus.TENTATIVE,
}
_RESPONSE_OUT = {status: name for name, status in _RESPONSE.items()}
_OPTIONAL = "OPT-PARTICIPANT"


class UnreadableEvent(ValueError):
    """A Google event that cannot be represented as a domain event (the message says why)."""


# --- time zones ----------------------------------------------------------------------------


def _is_utc(zone: tzinfo | None) -> bool:
    if isinstance(zone, ZoneInfo):
        return zone.key in _UTC_KEYS
    return zone is timezone.utc


def zone_for(name: str | None) -> tzinfo | None:
    """The zone a Google ``timeZone`` (or a calendar's zone) names, or None."""
    if not name:
        return None
    return lookup_time_zone(name, lenient=True)


def _iana_key(moment: EventTime) -> str | None:
    """The IANA name ``moment`` is in (not UTC), or None for UTC, a fixed offset or no name."""
    zone = moment.value.tzinfo if isinstance(moment.value, datetime) else None
    key: str | None = None
    if isinstance(zone, ZoneInfo):
        key = zone.key
    elif moment.tzid:
        found = lookup_time_zone(moment.tzid, lenient=True)
        key = found.key if isinstance(found, ZoneInfo) else None
    return None if key is None or key in _UTC_KEYS else key


def _fixed_zone_name(value: datetime) -> str:
    """``UTC`` or ``Etc/GMT±N`` for a UTC or whole-hour offset, else empty."""
    offset = value.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return "UTC"
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    if rest or abs(hours) > 14:
        return ""
    # IANA's Etc/GMT zones have POSIX-inverted signs: Etc/GMT-1 is one hour ahead of UTC.
    return f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}"


# --- times in ------------------------------------------------------------------------------


def _parse_instant(text: object, what: str) -> datetime:
    if not isinstance(text, str) or not text:
        raise UnreadableEvent(f"{what} has no readable dateTime")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise UnreadableEvent(f"{what}: {text[:40]!r} is not an RFC 3339 date-time") from None


def _time_in(obj: object, what: str, *, fallback_zone: str | None = None) -> EventTime:
    """A Google ``start``/``end``/``originalStartTime`` object as an :class:`EventTime`.

    ``fallback_zone`` (a recurring master's calendar zone) is used when Google names no zone.
    """
    if not isinstance(obj, Mapping):
        raise UnreadableEvent(f"the event has no {what}")
    day = obj.get("date")
    if isinstance(day, str) and day:
        try:
            return EventTime(date.fromisoformat(day))
        except ValueError:
            raise UnreadableEvent(f"{what}: {day[:40]!r} is not a date") from None
    moment = _parse_instant(obj.get("dateTime"), what)
    name = obj.get("timeZone") if isinstance(obj.get("timeZone"), str) else None
    zone = zone_for(name)
    if zone is None and fallback_zone:
        zone, name = zone_for(fallback_zone), fallback_zone
    if moment.tzinfo is None:
        # Google allows a dateTime without an offset when timeZone says where it is.
        if zone is None:
            return EventTime(moment)
        moment = moment.replace(tzinfo=zone)
    if zone is None:
        offset = moment.utcoffset()
        return EventTime(moment.astimezone(timezone.utc) if offset == timedelta(0) else moment)
    if _is_utc(zone):
        return EventTime(moment.astimezone(timezone.utc))
    return EventTime(moment.astimezone(zone), name)


def time_from_google(obj: object, what: str) -> EventTime:
    """A Google ``start``/``end``/``originalStartTime`` object as an :class:`EventTime`."""
    return _time_in(obj, what)


def _stamp_in(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


# --- times out -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Frame:
    """How a series' times are written: the zone name (None: UTC ``Z`` times) and its zone."""

    name: str | None
    zone: tzinfo | None


def _frame_for(start: EventTime, calendar_zone: str | None) -> _Frame:
    value = start.value
    if not isinstance(value, datetime):
        return _Frame(None, None)
    if value.tzinfo is None:
        name = calendar_zone if zone_for(calendar_zone) is not None else "UTC"
        return _Frame(name, zone_for(name))
    key = _iana_key(start)
    if key is not None:
        return _Frame(key, ZoneInfo(key))
    return _Frame(None, None)


def _time_out(moment: EventTime, frame: _Frame, *, recurring: bool, calendar_zone: str | None) -> JsonObject:
    value = moment.value
    if not isinstance(value, datetime):
        return {"date": value.isoformat()}
    if value.tzinfo is None:
        # Floating: the same wall-clock time in the calendar's zone (Google has no floating time).
        zone = frame.zone or zone_for(calendar_zone) or timezone.utc
        local = value.replace(tzinfo=zone)
        return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": frame.name or "UTC"}
    key = _iana_key(moment)
    if key is not None:
        local = value.astimezone(ZoneInfo(key))
        return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": key}
    utc = value.astimezone(timezone.utc)
    out: JsonObject = {"dateTime": utc.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if recurring:
        # Google expands a series in its timeZone and requires one on recurring events.
        out["timeZone"] = _fixed_zone_name(value) or (calendar_zone if zone_for(calendar_zone) else "UTC")
    return out


def _date_line(kind: str, moment: EventTime, start: EventTime, frame: _Frame) -> str:
    """One RDATE/EXDATE line, in the same kind of time and zone as the start is written in."""
    moment = align_to_start(moment, start)
    value = moment.value
    if not isinstance(value, datetime):
        return f"{kind};VALUE=DATE:{format_date(value)}"
    if value.tzinfo is None:
        if frame.name is None:
            return f"{kind}:{format_datetime(value, utc=False)}"
        return f"{kind};TZID={frame.name}:{format_datetime(value, utc=False)}"
    if frame.name is None or frame.zone is None:
        return f"{kind}:{format_datetime(value.astimezone(timezone.utc), utc=True)}"
    return f"{kind};TZID={frame.name}:{format_datetime(value.astimezone(frame.zone), utc=False)}"


# --- recurrence ----------------------------------------------------------------------------


def _content_line(line: str) -> RawProperty | None:
    """``NAME;PARAM=V:VALUE`` split (RFC 5545 §3.1; Google writes no quoted colons)."""
    head, colon, value = line.strip().partition(":")
    if not colon:
        return None
    parts = head.split(";")
    params: dict[str, str] = {}
    for param in parts[1:]:
        key, _, text = param.partition("=")
        params[key.strip().upper()] = text.strip().strip('"')
    return RawProperty(parts[0].strip().upper(), params, value.strip(), 0)


def _recurrence_in(lines: object, start: EventTime) -> Recurrence | None:
    if not isinstance(lines, list):
        return None
    reader = TimeReader(CalendarZones([]))
    rrules: list[str] = []
    rdates: list[EventTime] = []
    exdates: list[EventTime] = []
    for line in lines:
        prop = _content_line(line) if isinstance(line, str) else None
        if prop is None:
            continue
        if prop.name == "RRULE" and "FREQ=" in prop.value.upper():
            rrules.append(prop.value)
        elif prop.name in ("RDATE", "EXDATE"):
            try:
                moments = [align_to_start(t, start) for t in reader.read_list(prop)]
            except ValueError as exc:
                raise UnreadableEvent(f"recurrence line {line[:60]!r} unreadable ({exc})") from None
            (rdates if prop.name == "RDATE" else exdates).extend(moments)
    if not (rrules or rdates or exdates):
        return None
    return Recurrence(tuple(rrules), tuple(rdates), tuple(exdates))


def _recurrence_out(recurrence: Recurrence, start: EventTime, frame: _Frame) -> list[str]:
    lines = [f"RRULE:{' '.join(rule.split())}" for rule in recurrence.rrules]
    lines += [_date_line("RDATE", moment, start, frame) for moment in recurrence.rdates]
    seen: set[str] = set()
    for moment in recurrence.exdates:
        line = _date_line("EXDATE", moment, start, frame)
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


# --- conference ----------------------------------------------------------------------------


def _meet_type(data: Mapping[str, Any]) -> str | None:
    solution = data.get("conferenceSolution")
    if isinstance(solution, Mapping) and isinstance(solution.get("key"), Mapping):
        kind = solution["key"].get("type")
        if isinstance(kind, str):
            return kind
    request = data.get("createRequest")
    if isinstance(request, Mapping) and isinstance(request.get("conferenceSolutionKey"), Mapping):
        kind = request["conferenceSolutionKey"].get("type")
        if isinstance(kind, str):
            return kind
    return None


def create_status(event: Mapping[str, Any]) -> str | None:
    """``pending``, ``success`` or ``failure`` of the event's Meet creation, if one was asked for."""
    data = event.get("conferenceData")
    if not isinstance(data, Mapping):
        return None
    request = data.get("createRequest")
    if not isinstance(request, Mapping) or not isinstance(request.get("status"), Mapping):
        return None
    code = request["status"].get("statusCode")
    return code if isinstance(code, str) else None


def conference_from_google(event: Mapping[str, Any]) -> ConferenceData | None:
    """The event's ``conferenceData`` (or legacy ``hangoutLink``) as :class:`ConferenceData`."""
    data = event.get("conferenceData")
    hangout = event.get("hangoutLink") if isinstance(event.get("hangoutLink"), str) else None
    if not isinstance(data, Mapping):
        return ConferenceData(MEET, hangout) if hangout else None
    video: Mapping[str, Any] | None = None
    dial_ins: list[str] = []
    for point in data.get("entryPoints") or ():
        if not isinstance(point, Mapping) or not isinstance(point.get("uri"), str):
            continue
        kind = point.get("entryPointType")
        if kind == "video" and video is None:
            video = point
        elif kind == "phone":
            pin = point.get("pin")
            dial_ins.append(f"{point['uri']},,{pin}#" if isinstance(pin, str) and pin else point["uri"])
    join_url = video["uri"] if video is not None else hangout
    kind = _meet_type(data)
    is_meet = kind in _MEET_TYPES or (kind is None and hangout is not None)
    if join_url is None and not dial_ins:
        # Asked for and still being created: a Meet is coming; failed: there is none.
        return ConferenceData(MEET) if is_meet and create_status(event) == "pending" else None
    service = MEET if is_meet else (service_for_url(join_url) if join_url else None)
    conference_id = data.get("conferenceId")
    passcode = None
    if video is not None and not is_meet:
        found = video.get("passcode") or video.get("password")
        passcode = found if isinstance(found, str) else None
    return ConferenceData(
        service=service,
        join_url=join_url,
        meeting_id=conference_id if isinstance(conference_id, str) else None,
        passcode=passcode,
        dial_ins=tuple(dial_ins),
    )


def _is_meet(conference: ConferenceData) -> bool:
    if conference.service and conference.service.replace("-", "_").upper() == MEET:
        return True
    return conference.join_url is not None and service_for_url(conference.join_url) == MEET


def wants_new_meet(conference: ConferenceData | None) -> bool:
    """An event whose conference is Meet without a link asks for a new Meet."""
    return conference is not None and conference.join_url is None and _is_meet(conference)


def meet_create_request() -> JsonObject:
    """``conferenceData`` asking Google for a new Meet; the request id is new every time."""
    return {"createRequest": {"requestId": uuid.uuid4().hex, "conferenceSolutionKey": {"type": "hangoutsMeet"}}}


def meet_conference_data(conference: ConferenceData) -> JsonObject | None:
    """``conferenceData`` that attaches an existing Meet (copying a conference), or None when
    ``conference`` is not a Meet with a link: other services live in the location/description."""
    if conference.join_url is None or not _is_meet(conference):
        return None
    points: list[JsonObject] = [{"entryPointType": "video", "uri": conference.join_url}]
    for dial_in in conference.dial_ins:
        uri, _, pin = dial_in.partition(",,")
        point: JsonObject = {"entryPointType": "phone", "uri": uri}
        if pin.rstrip("#"):
            point["pin"] = pin.rstrip("#")
        points.append(point)
    data: JsonObject = {"conferenceSolution": {"key": {"type": "hangoutsMeet"}}, "entryPoints": points}
    if conference.meeting_id:
        data["conferenceId"] = conference.meeting_id
    return data


# --- people, reminders, properties ---------------------------------------------------------


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value != "" else None


def _organizer_in(data: object) -> Organizer | None:
    if not isinstance(data, Mapping) or not _text(data, "email"):
        return None
    return Organizer(str(data["email"]), _text(data, "displayName"))


def _attendees_in(data: object) -> tuple[Attendee, ...]:
    if not isinstance(data, list):
        return ()
    attendees = []
    for item in data:
        if not isinstance(item, Mapping) or not _text(item, "email"):
            continue
        attendees.append(
            Attendee(
                email=str(item["email"]),
                name=_text(item, "displayName"),
                status=_RESPONSE.get(str(item.get("responseStatus")), ParticipationStatus.NEEDS_ACTION),
                role=_OPTIONAL if item.get("optional") is True else None,
            )
        )
    return tuple(attendees)


def _attendees_out(attendees: Sequence[Attendee]) -> list[JsonObject]:
    out = []
    for attendee in attendees:
        item: JsonObject = {
            "email": attendee.email,
            "responseStatus": _RESPONSE_OUT.get(attendee.status, "needsAction"),
        }
        if attendee.name:
            item["displayName"] = attendee.name
        if (attendee.role or "").upper() == _OPTIONAL:
            item["optional"] = True
        out.append(item)
    return out


def _reminders_in(data: object) -> tuple[Reminder, ...]:
    if not isinstance(data, Mapping) or data.get("useDefault") is True:
        return ()
    reminders = []
    for item in data.get("overrides") or ():
        if isinstance(item, Mapping) and isinstance(item.get("minutes"), int):
            method = "email" if item.get("method") == "email" else "popup"
            reminders.append(Reminder(item["minutes"], method))
    return tuple(reminders)


def _reminders_out(reminders: Sequence[Reminder]) -> JsonObject:
    if not reminders:
        return {"useDefault": True}
    overrides = [
        {"method": "email" if r.method == "email" else "popup", "minutes": max(0, min(r.minutes_before, 40320))}
        for r in reminders[:MAX_REMINDERS]
    ]
    return {"useDefault": False, "overrides": overrides}


def _x_properties_in(data: object) -> dict[str, str]:
    if not isinstance(data, Mapping) or not isinstance(data.get("private"), Mapping):
        return {}
    found: dict[str, str] = {}
    for key, value in data["private"].items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        if key == CALMESH_ID_KEY:
            found[TAG] = value
        elif key.upper().startswith("X-"):
            found[key] = value
    return found


def private_properties(x_properties: Mapping[str, str]) -> dict[str, str]:
    """The ``extendedProperties.private`` calmesh writes for ``x_properties``."""
    private: dict[str, str] = {}
    for key, value in x_properties.items():
        name = CALMESH_ID_KEY if key.upper() == TAG else key
        if not name.upper().startswith("X-") and name != CALMESH_ID_KEY:
            continue
        if len(name) > MAX_PROPERTY_KEY:
            continue  # Google would drop it silently; better not to pretend it is kept.
        private[name] = value[:MAX_PROPERTY_VALUE]
    return private


def is_managed_property(key: str) -> bool:
    """Whether a private extended property is one calmesh writes (and so replaces on update)."""
    return key == CALMESH_ID_KEY or key.upper().startswith("X-")


# --- whole events --------------------------------------------------------------------------


def event_from_google(data: Mapping[str, Any], *, calendar_zone: str | None = None) -> Event:
    """One Google event (a single event, a master, or an exception) as a domain event.

    An exception's ``recurrence_id`` comes from ``originalStartTime``; the caller aligns it with
    the master's start. Raises :class:`UnreadableEvent` when the event has no usable start.
    """
    event_id = _text(data, "id") or ""
    recurring = isinstance(data.get("recurrence"), list) and bool(data["recurrence"])
    fallback = calendar_zone if recurring else None
    start = _time_in(data.get("start"), "start", fallback_zone=fallback)
    end = _time_in(data["end"], "end", fallback_zone=fallback) if isinstance(data.get("end"), Mapping) else _default_end(start)
    if start.all_day != end.all_day:
        end = _default_end(start)
    recurrence_id = None
    if data.get("originalStartTime") is not None:
        recurrence_id = RecurrenceId(_time_in(data.get("originalStartTime"), "originalStartTime"))
    sequence = data.get("sequence")
    return Event(
        uid=_text(data, "iCalUID") or (f"{event_id}@google.com" if event_id else ""),
        start=start,
        end=end,
        summary=_text(data, "summary"),
        description=_text(data, "description"),
        location=_text(data, "location"),
        status=_STATUS.get(str(data.get("status")), EventStatus.CONFIRMED),
        transparency=Transparency.TRANSPARENT if data.get("transparency") == "transparent" else Transparency.OPAQUE,
        visibility=_VISIBILITY.get(str(data.get("visibility")), Visibility.DEFAULT),
        recurrence=_recurrence_in(data.get("recurrence"), start),
        recurrence_id=recurrence_id,
        organizer=_organizer_in(data.get("organizer")),
        attendees=_attendees_in(data.get("attendees")),
        conference=conference_from_google(data),
        reminders=_reminders_in(data.get("reminders")),
        sequence=sequence if isinstance(sequence, int) and sequence >= 0 else 0,
        created_at=_stamp_in(data.get("created")),
        last_modified_at=_stamp_in(data.get("updated")),
        x_properties=_x_properties_in(data.get("extendedProperties")),
    )


def _default_end(start: EventTime) -> EventTime:
    """RFC 5545 §3.6.1's defaults: a day for a date, zero length for a date-time."""
    value = start.value
    if isinstance(value, datetime):
        return start
    return EventTime(value + timedelta(days=1))


def event_to_google(event: Event, *, calendar_zone: str | None = None) -> JsonObject:
    """The fields calmesh writes for ``event`` (not ``iCalUID``, ids or ``conferenceData``:
    those depend on the request, see :mod:`.adapter`).

    Fields the event does not have (no description…) are left out; a full update removes them
    from the stored event by leaving them out too.
    """
    recurring = event.recurrence is not None and event.recurrence_id is None
    frame = _frame_for(event.start, calendar_zone)
    body: JsonObject = {
        "start": _time_out(event.start, frame, recurring=recurring, calendar_zone=calendar_zone),
        "end": _time_out(_end_for(event), frame, recurring=recurring, calendar_zone=calendar_zone),
        "status": event.status.value,
        "transparency": event.transparency.value,
        "visibility": event.visibility.value,
        "reminders": _reminders_out(event.reminders),
    }
    for key, text in (("summary", event.summary), ("description", event.description), ("location", event.location)):
        if text is not None:
            body[key] = text
    if recurring and event.recurrence is not None:
        lines = _recurrence_out(event.recurrence, event.start, frame)
        if lines:
            body["recurrence"] = lines
    if event.recurrence_id is not None:
        body["originalStartTime"] = _time_out(
            align_to_start(event.recurrence_id.value, event.start), frame, recurring=False, calendar_zone=calendar_zone
        )
    if event.organizer is not None:
        organizer: JsonObject = {"email": event.organizer.email}
        if event.organizer.name:
            organizer["displayName"] = event.organizer.name
        body["organizer"] = organizer
    if event.attendees:
        body["attendees"] = _attendees_out(event.attendees)
    if event.sequence:
        body["sequence"] = event.sequence
    private = private_properties(event.x_properties)
    if private:
        body["extendedProperties"] = {"private": private}
    return body


def _end_for(event: Event) -> EventTime:
    """The end to write: an all-day event lasts at least a day (Google refuses less); a timed
    one never ends before it starts."""
    start, end = event.start, align_to_start(event.end, event.start)
    if start.all_day:
        return end if end.value > start.value else EventTime(start.value + timedelta(days=1))
    return end if end.to_utc() >= start.to_utc() else start


def instance_id(master_id: str, recurrence_id: EventTime, master_start: EventTime, calendar_zone: str | None) -> str:
    """The id Google gives the instance of ``master_id`` at ``recurrence_id``.

    ``{masterId}_{YYYYMMDD}`` for an all-day series, ``{masterId}_{YYYYMMDDTHHMMSSZ}`` (the
    instance's original start in UTC) for a timed one; a floating start is read in the calendar's
    zone, as it is written there.
    """
    moment = align_to_start(recurrence_id, master_start)
    value = moment.value
    if not isinstance(value, datetime):
        return f"{master_id}_{format_date(value)}"
    zone = zone_for(calendar_zone) or timezone.utc
    return f"{master_id}_{format_datetime(moment.to_utc(zone), utc=True)}"


def instant_key(moment: EventTime, calendar_zone: str | None = None) -> datetime:
    """A sortable, comparable instant for a recurrence id (dates as midnight in the calendar zone)."""
    return moment.to_utc(zone_for(calendar_zone) or timezone.utc)


def ordered(events: Iterable[Event], calendar_zone: str | None = None) -> list[Event]:
    """Overrides sorted by recurrence id."""
    return sorted(
        events,
        key=lambda e: instant_key(e.recurrence_id.value, calendar_zone) if e.recurrence_id else datetime.min.replace(tzinfo=timezone.utc),
    )
