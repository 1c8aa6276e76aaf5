"""The pure calendar model: events, their times, recurrence and intervals.

No I/O and no infrastructure imports: everything here can be tested with plain values.
Owns :mod:`calmesh.domain.events` (Event and its parts); recurrence expansion and the half-open
UTC interval algebra the availability engine is built from join it in the calendar-core issue.
"""

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
    Transparency,
    Visibility,
)
from calmesh.domain.intervals import Interval, gaps, intersect, merge, subtract
from calmesh.domain.recurrence import Occurrence, expand_events, expand_series, rrule_instances

__all__ = [
    "Attendee",
    "ConferenceData",
    "Event",
    "EventStatus",
    "EventTime",
    "Interval",
    "Occurrence",
    "Organizer",
    "ParticipationStatus",
    "Recurrence",
    "RecurrenceId",
    "Transparency",
    "Visibility",
    "expand_events",
    "expand_series",
    "gaps",
    "intersect",
    "merge",
    "rrule_instances",
    "subtract",
]
