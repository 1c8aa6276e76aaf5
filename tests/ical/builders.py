"""Builders for the iCalendar codec tests: small calendars written inline."""

from __future__ import annotations

from datetime import datetime

from calmesh.domain.events import Event, EventTime
from calmesh.ical import ParsedCalendar, parse_calendar


def calendar(*body: str, header: tuple[str, ...] = (), eol: str = "\r\n") -> str:
    """A VCALENDAR around ``body`` lines; ``header`` lines go before the components."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//test//EN", *header, *body]
    return eol.join([*lines, "END:VCALENDAR", ""])


def vevent(
    *props: str, uid: str = "e1@test", start: str | None = "DTSTART:20240610T090000Z"
) -> str:
    """One VEVENT's lines joined by CRLF (UID and DTSTART included unless overridden)."""
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20240101T000000Z"]
    if start is not None:
        lines.append(start)
    return "\r\n".join([*lines, *props, "END:VEVENT"])


def only_event(
    *props: str, header: tuple[str, ...] = (), start: str | None = "DTSTART:20240610T090000Z"
) -> Event:
    """Parse a calendar with one VEVENT and return that event."""
    parsed = parse_calendar(calendar(vevent(*props, start=start), header=header))
    assert len(parsed.events) == 1, parsed.problems
    return parsed.events[0]


def parse(*body: str, header: tuple[str, ...] = ()) -> ParsedCalendar:
    return parse_calendar(calendar(*body, header=header))


def moment(time: EventTime) -> datetime:
    """The datetime of a timed EventTime (fails the test for a date)."""
    assert isinstance(time.value, datetime), time
    return time.value
