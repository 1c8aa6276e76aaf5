"""DTSTART-like properties into :class:`~calmesh.domain.events.EventTime` values.

Which zone a DATE-TIME is in (RFC 5545 §3.3.5):

* ``Z`` — UTC (``datetime.timezone.utc``);
* ``TZID=…`` — the zone :class:`~calmesh.ical._zones.CalendarZones` resolves; a TZID that cannot
  be resolved is read as **floating** time (the wall-clock time the author saw is the best
  evidence left), the TZID is kept as written, and the reader reports a non-fatal problem;
* neither — floating (a naive ``datetime``).

A calendar with ``X-WR-TIMEZONE`` (Google, Apple) is read as the x-wr-timezone project reads it:
its floating times are in that zone, and its UTC times are converted into that zone (the same
instant, but a weekly 09:00Z series then follows that zone's daylight saving time, as it does in
the calendar that exported it). TZID-qualified times are left alone; a TZID that cannot be
resolved counts as floating and so lands in the calendar's zone too.

DATE values stay dates whatever TZID they carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

from calmesh.domain.events import EventTime
from calmesh.ical._components import RawProperty
from calmesh.ical._values import parse_date_or_datetime
from calmesh.ical._zones import CalendarZones

__all__ = ["TimeReader", "align_to_start"]


@dataclass(frozen=True, slots=True)
class TimeReader:
    """Reads the times of one calendar."""

    zones: CalendarZones
    #: The resolved X-WR-TIMEZONE, if the calendar has one.
    calendar_zone: tzinfo | None = None

    def read(self, prop: RawProperty) -> EventTime:
        """The single value of a DTSTART, DTEND or RECURRENCE-ID."""
        return self.read_text(prop.value, prop.params.get("TZID"))

    def read_list(self, prop: RawProperty) -> list[EventTime]:
        """The values of an RDATE or EXDATE; a PERIOD (RFC 5545 §3.3.9) counts as its start."""
        tzid = prop.params.get("TZID")
        return [
            self.read_text(item.partition("/")[0], tzid)
            for item in prop.value.split(",")
            if item.strip()
        ]

    def read_text(self, text: str, tzid: str | None) -> EventTime:
        """One DATE or DATE-TIME written with the TZID parameter ``tzid``."""
        value, utc = parse_date_or_datetime(text)
        if not isinstance(value, datetime):
            return EventTime(value)
        if utc:
            aware = value.replace(tzinfo=timezone.utc)
            if self.calendar_zone is not None:
                return EventTime(aware.astimezone(self.calendar_zone))
            return EventTime(aware)
        zone = self.zones.resolve(tzid) if tzid else None
        if zone is None:
            zone = self.calendar_zone
        return EventTime(value if zone is None else value.replace(tzinfo=zone), tzid)


def align_to_start(moment: EventTime, start: EventTime) -> EventTime:
    """``moment`` in the same kind of time as ``start`` (RFC 5545 §3.8.4.4, §3.8.5.1-2).

    RDATE, EXDATE and RECURRENCE-ID must have DTSTART's value type, but producers mix them. A
    datetime on an all-day series means its calendar day. A date on a timed series means that
    day's instance, so it takes DTSTART's time of day and zone. A floating time on a zoned
    series is read in DTSTART's zone; a zoned time on a floating series keeps its wall clock.
    Returns ``moment`` itself when nothing needed changing.
    """
    value, anchor = moment.value, start.value
    if not isinstance(anchor, datetime):
        return EventTime(value.date()) if isinstance(value, datetime) else moment
    if not isinstance(value, datetime):
        combined = datetime.combine(value, anchor.time(), anchor.tzinfo)
        return EventTime(combined, start.tzid)
    if anchor.tzinfo is not None and value.tzinfo is None:
        return EventTime(value.replace(tzinfo=anchor.tzinfo), moment.tzid or start.tzid)
    if anchor.tzinfo is None and value.tzinfo is not None:
        return EventTime(value.replace(tzinfo=None), moment.tzid)
    return moment
