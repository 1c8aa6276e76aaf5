"""Events as calmesh understands them, independent of any provider or wire format.

An :class:`Event` is one VEVENT (RFC 5545 §3.6.1): a single event, the master of a recurring
series (it carries a :class:`Recurrence`), or an override of one instance of a series (it carries
a :class:`RecurrenceId`, RFC 5545 §3.8.4.4). Its start and end are :class:`EventTime` values,
which keep the three kinds of time RFC 5545 §3.3.5 allows apart — an aware datetime, a floating
datetime, or a date for all-day events — together with the TZID exactly as it was written.

Everything here is an immutable value: providers, the iCalendar codec and the mirror build new
ones instead of editing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from enum import StrEnum

__all__ = [
    "Attendee",
    "ConferenceData",
    "Event",
    "EventStatus",
    "EventTime",
    "Organizer",
    "ParticipationStatus",
    "Recurrence",
    "RecurrenceId",
    "Reminder",
    "Transparency",
    "Visibility",
]


class EventStatus(StrEnum):
    """STATUS of a VEVENT (RFC 5545 §3.8.1.11); absent means confirmed."""

    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class Transparency(StrEnum):
    """TRANSP (RFC 5545 §3.8.2.7): whether the event blocks time. Absent means opaque."""

    OPAQUE = "opaque"
    TRANSPARENT = "transparent"


class Visibility(StrEnum):
    """CLASS (RFC 5545 §3.8.1.3), named as Google and Graph name it."""

    DEFAULT = "default"
    PUBLIC = "public"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"


class ParticipationStatus(StrEnum):
    """PARTSTAT of an attendee (RFC 5545 §3.2.12)."""

    NEEDS_ACTION = "needs-action"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"
    DELEGATED = "delegated"


@dataclass(frozen=True, slots=True)
class EventTime:
    """A DTSTART, DTEND, RECURRENCE-ID, RDATE or EXDATE value.

    ``value`` is one of:

    * an aware ``datetime`` — a fixed instant, in the zone its TZID named (or UTC);
    * a naive ``datetime`` — *floating* time (RFC 5545 §3.3.5 form #1): the same wall-clock
      time in whatever zone the viewer is in;
    * a ``date`` — an all-day value (VALUE=DATE).

    ``tzid`` is the TZID parameter exactly as the source wrote it (``"W. Europe Standard Time"``,
    ``"/mozilla.org/20050126_1/Europe/Berlin"``), kept so a round trip can say what it read;
    the resolved zone is ``value.tzinfo``.
    """

    value: datetime | date
    tzid: str | None = None

    @property
    def all_day(self) -> bool:
        return not isinstance(self.value, datetime)

    @property
    def floating(self) -> bool:
        return isinstance(self.value, datetime) and self.value.tzinfo is None

    def to_utc(self, local_zone: tzinfo = timezone.utc) -> datetime:
        """The instant this time stands for, in UTC.

        Floating times and dates have no zone of their own: they are read in ``local_zone`` (the
        calendar's or the viewer's zone), a date as its midnight.
        """
        value = self.value
        if not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if value.tzinfo is None:
            value = value.replace(tzinfo=local_zone)
        return value.astimezone(timezone.utc)


@dataclass(frozen=True, slots=True)
class Recurrence:
    """The recurrence set of a series' master (RFC 5545 §3.8.5).

    ``rrules`` holds each RRULE's value text (``"FREQ=WEEKLY;BYDAY=MO;COUNT=10"``); more than one
    RRULE is deprecated by RFC 5545 but still met in the wild.
    """

    rrules: tuple[str, ...] = ()
    rdates: tuple[EventTime, ...] = ()
    exdates: tuple[EventTime, ...] = ()


@dataclass(frozen=True, slots=True)
class RecurrenceId:
    """Which instance of a series an override replaces (RFC 5545 §3.8.4.4).

    ``this_and_future`` is RANGE=THISANDFUTURE: the override applies to that instance and every
    later one.
    """

    value: EventTime
    this_and_future: bool = False


@dataclass(frozen=True, slots=True)
class Attendee:
    """An ATTENDEE (RFC 5545 §3.8.4.1)."""

    email: str
    name: str | None = None
    status: ParticipationStatus = ParticipationStatus.NEEDS_ACTION
    role: str | None = None
    rsvp: bool = False


@dataclass(frozen=True, slots=True)
class Organizer:
    """The ORGANIZER (RFC 5545 §3.8.4.3)."""

    email: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ConferenceData:
    """How to join the meeting: Meet, Teams, Zoom or any other service."""

    service: str | None = None
    join_url: str | None = None
    meeting_id: str | None = None
    passcode: str | None = None
    dial_ins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reminder:
    """A VALARM relative to the start (RFC 5545 §3.6.6): ``popup`` (DISPLAY) or ``email`` (EMAIL)."""

    minutes_before: int
    method: str = "popup"


@dataclass(frozen=True, slots=True)
class Event:
    """One VEVENT: a single event, a series' master, or an override of one of its instances."""

    uid: str
    start: EventTime
    #: Always set: a parser derives it from DURATION or from RFC 5545 §3.6.1's defaults
    #: (one day for a date, zero length for a date-time).
    end: EventTime
    summary: str | None = None
    description: str | None = None
    location: str | None = None
    status: EventStatus = EventStatus.CONFIRMED
    transparency: Transparency = Transparency.OPAQUE
    visibility: Visibility = Visibility.DEFAULT
    recurrence: Recurrence | None = None
    recurrence_id: RecurrenceId | None = None
    organizer: Organizer | None = None
    attendees: tuple[Attendee, ...] = ()
    conference: ConferenceData | None = None
    reminders: tuple[Reminder, ...] = ()
    sequence: int = 0
    created_at: datetime | None = None
    last_modified_at: datetime | None = None
    #: X- properties worth carrying through (e.g. X-CALMESH-ID, the tag on events calmesh wrote).
    x_properties: dict[str, str] = field(default_factory=dict, compare=True, hash=False)

    @property
    def all_day(self) -> bool:
        return self.start.all_day

    @property
    def is_recurring(self) -> bool:
        """True for a series' master."""
        return self.recurrence is not None and bool(
            self.recurrence.rrules or self.recurrence.rdates
        )

    @property
    def is_override(self) -> bool:
        return self.recurrence_id is not None

    def duration(self, local_zone: tzinfo = timezone.utc) -> timedelta:
        """How long the event lasts, as elapsed time."""
        return self.end.to_utc(local_zone) - self.start.to_utc(local_zone)
