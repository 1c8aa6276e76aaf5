"""Any real-world iCalendar stream (RFC 5545) into domain events: :func:`parse_calendar`.

One broken VEVENT never sinks the calendar: it is reported as a fatal
:class:`~calmesh.ical._model.CalendarProblem` and skipped, and the others are kept. Repairs are
reported as non-fatal problems. The rules, beyond those of the modules this one uses:

* **Refused** with :class:`~calmesh.errors.InvalidCalendarData`: empty data, binary data, JSON
  (jCal), XML (xCal, HTML), vCards, and text with neither a VCALENDAR nor a VEVENT.
  vCalendar 1.0 raises :class:`~calmesh.errors.UnsupportedCalendarFormat`. Bare VEVENTs with no
  VCALENDAR around them are read, with a problem. Several VCALENDARs in one stream are merged.
* **UID** missing (RFC 5545 §3.8.4.7 requires it): a stable one is made from a hash of the
  VEVENT's content, so the same feed yields the same UID on every fetch.
* **DTSTART** missing or unreadable: the VEVENT is skipped.
* **DTEND** (§3.6.1): if absent, from DURATION (days nominal, hours exact, §3.3.6), else one day
  for an all-day event and zero length otherwise. A DTEND of the other value type than DTSTART
  takes DTSTART's type. A DTEND before DTSTART (or, for all-day events, not after it) is
  replaced as if it were absent: one day for all-day events, zero length otherwise.
* **RDATE / EXDATE / RECURRENCE-ID** take DTSTART's value type
  (:func:`~calmesh.ical._times.align_to_start`); an RRULE's UNTIL does too (§3.3.10: a date for
  all-day series, UTC for zoned ones, local for floating ones), so a recurrence expander never
  compares a date with a datetime or an aware with a naive value. An RRULE with both COUNT and
  UNTIL (forbidden by §3.3.10) loses UNTIL; one that dateutil cannot read is dropped, as is an
  override's own RRULE.
* **CLASS** unknown values count as PRIVATE, as §3.8.1.3 asks; absent is ``Visibility.DEFAULT``.
* **CREATED / LAST-MODIFIED** are UTC (§3.8.7); a floating value is taken as UTC.
* ``X-CALMESH-*`` properties are kept in ``Event.x_properties``, names upper-cased.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from dateutil.rrule import rrulestr

from calmesh.domain.events import (
    Attendee,
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
from calmesh.errors import InvalidCalendarData, UnsupportedCalendarFormat
from calmesh.ical._components import RawComponent, RawProperty, build_tree
from calmesh.ical._conference import read_conference
from calmesh.ical._model import CalendarProblem, ParsedCalendar
from calmesh.ical._source import decode, read_content_lines
from calmesh.ical._times import TimeReader, align_to_start
from calmesh.ical._values import (
    format_date,
    format_datetime,
    parse_date_or_datetime,
    parse_duration,
    parse_integer,
    unescape_text,
)
from calmesh.ical._zones import CalendarZones, lookup_time_zone

__all__ = ["parse_calendar"]

_ONE_DAY = timedelta(days=1)
_VISIBILITY = {
    "PUBLIC": Visibility.PUBLIC,
    "PRIVATE": Visibility.PRIVATE,
    "CONFIDENTIAL": Visibility.CONFIDENTIAL,
}
_STATUS = {
    "CONFIRMED": EventStatus.CONFIRMED,
    "TENTATIVE": EventStatus.TENTATIVE,
    "CANCELLED": EventStatus.CANCELLED,
}
_PARTSTAT = {status.value.upper(): status for status in ParticipationStatus}
_X_KEPT = "X-CALMESH"


class _SkipComponent(Exception):
    """The VEVENT cannot be used; the message says why."""


def parse_calendar(data: bytes | str) -> ParsedCalendar:
    """Read every VEVENT of ``data`` (see the module docstring for the rules)."""
    decoded = decode(data)
    problems: list[CalendarProblem] = []
    if decoded.fallback_encoding is not None:
        problems.append(
            CalendarProblem(
                f"The data is not valid UTF-8; it was read as {decoded.fallback_encoding}."
            )
        )
    _refuse_foreign_formats(decoded.text)
    roots = build_tree(
        read_content_lines(decoded.text),
        lambda message, line: problems.append(CalendarProblem(message, line=line)),
    )
    calendars = [root for root in roots if root.name == "VCALENDAR"]
    bare = [root for root in roots if root.name == "VEVENT"]
    if not calendars and not bare:
        if any(root.name == "VCARD" for root in roots):
            raise InvalidCalendarData("The data is a vCard (contacts), not an iCalendar calendar.")
        raise InvalidCalendarData("No VCALENDAR or VEVENT found: the data is not iCalendar.")
    for calendar in calendars:
        version = calendar.first("VERSION")
        if version is not None and version.value.strip() == "1.0":
            raise UnsupportedCalendarFormat(
                "vCalendar 1.0 is not supported: calmesh reads iCalendar 2.0 (RFC 5545); "
                "export the calendar as iCalendar (.ics) instead."
            )
    if bare:
        problems.append(
            CalendarProblem("VEVENTs found outside of a VCALENDAR; read anyway.", line=bare[0].line)
        )
        calendars.append(RawComponent("VCALENDAR", bare[0].line, children=bare))
    events: list[Event] = []
    zones = [_calendar_zone(calendar, problems) for calendar in calendars]
    for calendar, zone in zip(calendars, zones, strict=True):
        events.extend(_CalendarReader(calendar, zone, problems).events())
    first = calendars[0]
    return ParsedCalendar(
        events=events,
        problems=problems,
        name=_token(first.first("X-WR-CALNAME")),
        time_zone=zones[0],
        prodid=_token(first.first("PRODID")),
    )


def _refuse_foreign_formats(text: str) -> None:
    head = text.lstrip()[:1]
    if not head:
        raise InvalidCalendarData("The data is empty.")
    if head in "{[":
        raise InvalidCalendarData("The data is JSON (jCal?), not iCalendar text.")
    if head == "<":
        raise InvalidCalendarData("The data is XML or HTML (xCal?), not iCalendar text.")


def _calendar_zone(calendar: RawComponent, problems: list[CalendarProblem]) -> tzinfo | None:
    prop = calendar.first("X-WR-TIMEZONE")
    if prop is None or not prop.value.strip():
        return None
    zone = lookup_time_zone(prop.value, lenient=True)
    if zone is None:
        problems.append(
            CalendarProblem(
                f"X-WR-TIMEZONE {prop.value.strip()!r} is not a known time zone; ignored.",
                line=prop.line,
            )
        )
    return zone


def _text(prop: RawProperty | None) -> str | None:
    """A TEXT value as written (a summary's spaces are the author's), None when empty."""
    if prop is None:
        return None
    return unescape_text(prop.value) or None


def _token(prop: RawProperty | None) -> str | None:
    """A TEXT value used as a name or keyword: surrounding white space is noise there."""
    text = _text(prop)
    if text is None:
        return None
    return text.strip() or None


@dataclass
class _CalendarReader:
    """Reads the VEVENTs of one VCALENDAR."""

    calendar: RawComponent
    #: The resolved X-WR-TIMEZONE (see calmesh.ical._times).
    calendar_zone: tzinfo | None
    problems: list[CalendarProblem]
    _reported_zones: set[str] = field(default_factory=set)

    def events(self) -> list[Event]:
        children = self.calendar.children
        zones = CalendarZones([c for c in children if c.name == "VTIMEZONE"])
        times = TimeReader(zones, self.calendar_zone)
        # What an unresolvable TZID falls back to (see calmesh.ical._times).
        fallback = "floating" if self.calendar_zone is None else "in the calendar's X-WR-TIMEZONE"
        events: list[Event] = []
        for component in children:
            if component.name != "VEVENT":
                continue
            reader = _EventReader(component, times, self.problems)
            try:
                events.append(reader.read())
            except (_SkipComponent, ValueError, OverflowError) as exc:
                self.problems.append(
                    CalendarProblem(
                        f"VEVENT skipped: {exc}", uid=reader.uid, line=component.line, fatal=True
                    )
                )
            for tzid, why in zones.failures.items():
                if tzid not in self._reported_zones:
                    self._reported_zones.add(tzid)
                    self.problems.append(
                        CalendarProblem(
                            f"{why}; its times are read as {fallback}.",
                            uid=reader.uid,
                            line=component.line,
                        )
                    )
        return events


class _EventReader:
    """Reads one VEVENT; ``uid`` is known as soon as the component has been looked at."""

    def __init__(
        self, component: RawComponent, times: TimeReader, problems: list[CalendarProblem]
    ) -> None:
        self.component = component
        self.times = times
        self.problems = problems
        self.uid = _token(component.first("UID"))

    def note(self, message: str, prop: RawProperty | None = None) -> None:
        line = prop.line if prop is not None else self.component.line
        self.problems.append(CalendarProblem(message, uid=self.uid, line=line))

    def read(self) -> Event:
        component = self.component
        start_prop = component.first("DTSTART")
        if start_prop is None:
            raise _SkipComponent("it has no DTSTART")
        start = self.times.read(start_prop)
        if self.uid is None:
            self.uid = self._made_up_uid()
            self.note(f"VEVENT has no UID; {self.uid!r} was made from its content.")
        recurrence_id = self._recurrence_id(start)
        return Event(
            uid=self.uid,
            start=start,
            end=self._end(start),
            summary=_text(component.first("SUMMARY")),
            description=_text(component.first("DESCRIPTION")),
            location=_text(component.first("LOCATION")),
            status=self._status(),
            transparency=self._transparency(),
            visibility=self._visibility(),
            recurrence=self._recurrence(start, override=recurrence_id is not None),
            recurrence_id=recurrence_id,
            organizer=self._organizer(),
            attendees=self._attendees(),
            conference=read_conference(component),
            reminders=self._reminders(),
            sequence=self._sequence(),
            created_at=self._utc_stamp("CREATED"),
            last_modified_at=self._utc_stamp("LAST-MODIFIED"),
            x_properties={
                prop.name: unescape_text(prop.value)
                for prop in component.properties
                if prop.name.startswith(_X_KEPT)
            },
        )

    def _reminders(self) -> tuple[Reminder, ...]:
        """VALARMs triggered a fixed time before the start; other alarms are left to ``raw``."""
        reminders = []
        for alarm in self.component.children:
            trigger = alarm.first("TRIGGER") if alarm.name == "VALARM" else None
            if trigger is None or trigger.params.get("VALUE", "DURATION").upper() != "DURATION":
                continue
            if trigger.params.get("RELATED", "START").upper() != "START":
                continue
            try:
                offset = parse_duration(trigger.value)
            except ValueError:
                continue
            action = (_token(alarm.first("ACTION")) or "DISPLAY").upper()
            method = "email" if action == "EMAIL" else "popup"
            reminders.append(Reminder(max(0, int(-offset.total_seconds() // 60)), method))
        return tuple(reminders)

    def _made_up_uid(self) -> str:
        # DTSTAMP is left out: many feeds set it to the time of the download.
        content = "\n".join(
            f"{p.name}:{p.value}" for p in self.component.properties if p.name != "DTSTAMP"
        )
        return "calmesh-" + hashlib.sha256(content.encode("utf-8", "replace")).hexdigest()[:32]

    # --- times -----------------------------------------------------------------------------

    def _end(self, start: EventTime) -> EventTime:
        end_prop = self.component.first("DTEND")
        duration_prop = self.component.first("DURATION")
        end: EventTime | None = None
        if end_prop is not None:
            if duration_prop is not None:
                self.note("VEVENT has both DTEND and DURATION; DURATION ignored.", duration_prop)
            try:
                end = self.times.read(end_prop)
            except ValueError as exc:
                self.note(f"DTEND unreadable ({exc}); default length used.", end_prop)
            else:
                aligned = align_to_start(end, start)
                if aligned is not end:
                    self.note("DTEND is not the same kind of time as DTSTART; converted.", end_prop)
                end = aligned
        elif duration_prop is not None:
            try:
                end = _add_duration(start, parse_duration(duration_prop.value))
            except ValueError as exc:
                self.note(f"DURATION unreadable ({exc}); default length used.", duration_prop)
        # align_to_start made both the same kind of time, so they compare.
        zero_length = not start.all_day and end is not None and end.value == start.value
        if end is not None and end.value <= start.value and not zero_length:
            self.note(
                "DTEND is not after DTSTART; replaced by the default length "
                "(one day for all-day events, none otherwise).",
                end_prop or duration_prop,
            )
            end = None
        if end is None:
            return EventTime(start.value + _ONE_DAY, start.tzid) if start.all_day else start
        return end

    def _aligned(self, moment: EventTime, start: EventTime, prop: RawProperty) -> EventTime:
        aligned = align_to_start(moment, start)
        if aligned is not moment:
            self.note(f"{prop.name} is not the same kind of time as DTSTART; converted.", prop)
        return aligned

    def _recurrence_id(self, start: EventTime) -> RecurrenceId | None:
        prop = self.component.first("RECURRENCE-ID")
        if prop is None:
            return None
        value = self._aligned(self.times.read(prop), start, prop)
        this_and_future = prop.params.get("RANGE", "").strip().upper() == "THISANDFUTURE"
        return RecurrenceId(value, this_and_future)

    def _recurrence(self, start: EventTime, *, override: bool) -> Recurrence | None:
        rrules: list[str] = []
        for prop in self.component.all("RRULE"):
            if override:
                self.note("An override (it has a RECURRENCE-ID) cannot recur; RRULE dropped.", prop)
            elif "FREQ=" not in prop.value.upper():
                self.note("RRULE without FREQ dropped.", prop)
            elif (rrule := self._checked_rrule(prop, start)) is not None:
                rrules.append(rrule)
        rdates = [self._aligned(t, start, p) for p in self._all("RDATE") for t in self._list(p)]
        exdates = [self._aligned(t, start, p) for p in self._all("EXDATE") for t in self._list(p)]
        if not (rrules or rdates or exdates):
            return None
        return Recurrence(tuple(rrules), tuple(rdates), tuple(exdates))

    def _all(self, name: str) -> list[RawProperty]:
        return self.component.all(name)

    def _list(self, prop: RawProperty) -> list[EventTime]:
        try:
            return self.times.read_list(prop)
        except ValueError as exc:
            self.note(f"{prop.name} unreadable ({exc}); dropped.", prop)
            return []

    def _checked_rrule(self, prop: RawProperty, start: EventTime) -> str | None:
        """The RRULE's text with UNTIL aligned to DTSTART, or None if no expander could use it."""
        # Some producers escape RECUR like TEXT ("FREQ=DAILY\\;COUNT=10"); RECUR has no escapes.
        value = prop.value.replace("\\", "")
        parts = [part.strip() for part in value.strip().split(";") if part.strip()]
        keys = [part.partition("=")[0].upper() for part in parts]
        if "COUNT" in keys and "UNTIL" in keys:
            # §3.3.10 forbids both; COUNT is kept because it cannot be misread across zones.
            self.note("RRULE has both COUNT and UNTIL; UNTIL dropped.", prop)
            del parts[keys.index("UNTIL")]
        for index, part in enumerate(parts):
            key, _, text = part.partition("=")
            if key.upper() != "UNTIL":
                continue
            try:
                until, utc = parse_date_or_datetime(text)
            except ValueError:
                self.note(f"RRULE UNTIL {text[:40]!r} unreadable; RRULE dropped.", prop)
                return None
            fixed = _until_for(until, utc, start)
            if fixed != text:
                self.note(f"RRULE UNTIL {text} does not match DTSTART; read as {fixed}.", prop)
                parts[index] = f"UNTIL={fixed}"
        rule = ";".join(parts)
        anchor = start.value
        if not isinstance(anchor, datetime):
            anchor = datetime.combine(anchor, time())
        try:
            rrulestr(rule, dtstart=anchor)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            self.note(f"RRULE {rule[:60]!r} is not valid ({exc}); dropped.", prop)
            return None
        return rule

    # --- everything else -------------------------------------------------------------------

    def _status(self) -> EventStatus:
        value = (_token(self.component.first("STATUS")) or "").upper()
        return _STATUS.get(value, EventStatus.CONFIRMED)

    def _transparency(self) -> Transparency:
        value = (_token(self.component.first("TRANSP")) or "").upper()
        return Transparency.TRANSPARENT if value == "TRANSPARENT" else Transparency.OPAQUE

    def _visibility(self) -> Visibility:
        value = _token(self.component.first("CLASS"))
        if value is None:
            return Visibility.DEFAULT
        return _VISIBILITY.get(value.upper(), Visibility.PRIVATE)

    def _organizer(self) -> Organizer | None:
        prop = self.component.first("ORGANIZER")
        if prop is None or not prop.value.strip():
            return None
        return Organizer(_address(prop.value), _param_text(prop, "CN"))

    def _attendees(self) -> tuple[Attendee, ...]:
        attendees = []
        for prop in self.component.all("ATTENDEE"):
            if not prop.value.strip():
                continue
            partstat = prop.params.get("PARTSTAT", "").strip().upper()
            attendees.append(
                Attendee(
                    email=_address(prop.value),
                    name=_param_text(prop, "CN"),
                    status=_PARTSTAT.get(partstat, ParticipationStatus.NEEDS_ACTION),
                    role=prop.params.get("ROLE", "").strip().upper() or None,
                    rsvp=prop.params.get("RSVP", "").strip().upper() == "TRUE",
                )
            )
        return tuple(attendees)

    def _sequence(self) -> int:
        prop = self.component.first("SEQUENCE")
        if prop is None:
            return 0
        try:
            return parse_integer(prop.value)
        except ValueError:
            self.note(f"SEQUENCE {prop.value.strip()[:20]!r} is not a number; 0 used.", prop)
            return 0

    def _utc_stamp(self, name: str) -> datetime | None:
        prop = self.component.first(name)
        if prop is None:
            return None
        try:
            value = self.times.read(prop).value
        except ValueError as exc:
            self.note(f"{name} unreadable ({exc}); ignored.", prop)
            return None
        if not isinstance(value, datetime):
            value = datetime.combine(value, time())
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _address(value: str) -> str:
    value = value.strip()
    return value[len("mailto:") :] if value.lower().startswith("mailto:") else value


def _param_text(prop: RawProperty, name: str) -> str | None:
    return prop.params.get(name, "").strip().strip('"') or None


def _add_duration(start: EventTime, amount: timedelta) -> EventTime:
    """``start`` plus a DURATION: days move the wall clock, hours and less are elapsed time."""
    value = start.value
    if not isinstance(value, datetime):
        # A DATE start takes whole days (§3.8.2.5); a partial day still ends on a later day.
        days = max(amount.days + (1 if amount.seconds else 0), 0)
        return EventTime(value + timedelta(days=days), start.tzid)
    wall = value + timedelta(days=amount.days)
    if wall.tzinfo is None:
        return EventTime(wall + timedelta(seconds=amount.seconds), start.tzid)
    exact = wall.astimezone(timezone.utc) + timedelta(seconds=amount.seconds)
    return EventTime(exact.astimezone(wall.tzinfo), start.tzid)


def _until_for(until: date | datetime, utc: bool, start: EventTime) -> str:
    """UNTIL written the way §3.3.10 wants it for ``start``."""
    anchor = start.value
    if not isinstance(anchor, datetime):
        return format_date(until.date() if isinstance(until, datetime) else until)
    if not isinstance(until, datetime):
        # A date UNTIL on a timed series includes that whole day.
        until = datetime.combine(until, time(23, 59, 59))
        utc = False
    if anchor.tzinfo is None:
        return format_datetime(until, utc=False)
    if not utc:
        until = until.replace(tzinfo=anchor.tzinfo).astimezone(timezone.utc)
    return format_datetime(until, utc=True)
