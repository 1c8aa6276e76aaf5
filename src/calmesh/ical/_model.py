"""What :func:`calmesh.ical.parse_calendar` returns: the events it could read and what it fixed.

A :class:`CalendarProblem` is *fatal* when the component it is about was dropped (a VEVENT with
no readable DTSTART, say) and *non-fatal* when the reader repaired something and kept going (an
unknown TZID read as floating time, a DTEND before DTSTART, a stream that was not UTF-8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo

from calmesh.domain.events import Event

__all__ = ["CalendarProblem", "ParsedCalendar"]


@dataclass(frozen=True, slots=True)
class CalendarProblem:
    """Something in the stream that was wrong, and what the reader did about it."""

    #: One line, for people: what was wrong and what was done.
    message: str
    #: The UID of the component concerned, when it has one.
    uid: str | None = None
    #: 1-based line of the decoded stream where the component or property begins.
    line: int | None = None
    #: True when the component was skipped; False when the reader repaired it and kept it.
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class ParsedCalendar:
    """The VEVENTs of an iCalendar stream, as domain events, with what went wrong on the way."""

    #: Masters, single events and overrides, each its own Event, in stream order.
    events: list[Event] = field(default_factory=list)
    problems: list[CalendarProblem] = field(default_factory=list)
    #: X-WR-CALNAME, the name Google and Apple give the calendar.
    name: str | None = None
    #: X-WR-TIMEZONE resolved, or None when absent or unknown (then a problem says so).
    time_zone: tzinfo | None = None
    prodid: str | None = None
