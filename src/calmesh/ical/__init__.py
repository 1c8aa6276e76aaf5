"""iCalendar (RFC 5545) in and out: parse any real-world stream into the domain, write valid RFC 5545 back.

The public API (stable: the recurrence expander, the providers and the CLI build on it):

* :func:`parse_calendar` ``(data: bytes | str) -> ParsedCalendar`` — every VEVENT as a domain
  :class:`~calmesh.domain.events.Event` (masters and overrides alike), the calendar's name,
  X-WR-TIMEZONE and PRODID, and a :class:`CalendarProblem` for everything repaired (non-fatal)
  or skipped (fatal). Raises :class:`~calmesh.errors.InvalidCalendarData` for data that is not
  iCalendar and :class:`~calmesh.errors.UnsupportedCalendarFormat` for vCalendar 1.0.
* :func:`write_calendar` ``(events, *, prodid=DEFAULT_PRODID, name=None) -> bytes`` and
  :func:`write_event` ``(master, overrides=(), *, prodid=DEFAULT_PRODID) -> bytes`` (one
  CalDAV-style object: a series and its overrides) — RFC 5545 §3.1, §3.6 compliant output.
* :func:`resolve_time_zone` ``(name: str) -> tzinfo`` — IANA, Windows (CLDR) and
  vendor-prefixed names (RFC 5545 §3.2.19); raises :class:`~calmesh.errors.InvalidTimeZone`.

The rules each part follows are in the docstrings of ``_source`` (bytes and encodings),
``_zones`` (time zone names and VTIMEZONEs), ``_times`` (floating, UTC and X-WR-TIMEZONE),
``_reader`` (events and repairs) and ``_writer`` (output).

Pure: it takes bytes or strings and never opens a file or a socket; the only data it reads is
its own (the Windows zone map) and the IANA time zone database.
"""

from calmesh.ical._model import CalendarProblem, ParsedCalendar
from calmesh.ical._reader import parse_calendar
from calmesh.ical._writer import DEFAULT_PRODID, write_calendar, write_event
from calmesh.ical._zones import resolve_time_zone

__all__ = [
    "DEFAULT_PRODID",
    "CalendarProblem",
    "ParsedCalendar",
    "parse_calendar",
    "resolve_time_zone",
    "write_calendar",
    "write_event",
]
