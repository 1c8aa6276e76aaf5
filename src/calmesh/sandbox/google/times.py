"""Google's time formats: RFC 3339 in and out, and an event's ``start``/``end`` as an instant.

* :func:`parse_instant` reads a query or body timestamp (RFC 3339; the offset is mandatory where
  the discovery document says so).
* :func:`stamp` writes ``created``/``updated`` the way Google does: UTC with milliseconds,
  ``2026-03-10T09:00:00.000Z``.
* :func:`format_in_zone` writes an event's ``dateTime`` with the offset of a zone (``Z`` when the
  offset is zero, as Google prints it).
* :class:`EventTime` is a parsed ``start``/``end``/``originalStartTime`` object
  (``{"date"}`` or ``{"dateTime", "timeZone"?}``).
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from calmesh.sandbox._common import zone

__all__ = [
    "UTC",
    "EventTime",
    "TimeError",
    "format_in_zone",
    "http_date",
    "parse_event_time",
    "parse_instant",
    "stamp",
]

UTC = timezone.utc


def parse_instant(value: str, *, require_offset: bool = True) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None when it is not one.

    Without an offset the value is refused when ``require_offset`` (timeMin/timeMax), else read
    as UTC.
    """
    parsed = _from_iso(value)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        if require_offset:
            return None
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def stamp(moment: datetime) -> str:
    """``moment`` as Google writes ``created``/``updated``: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_in_zone(moment: datetime, where: tzinfo) -> str:
    """``moment`` as an RFC 3339 ``dateTime`` in ``where`` (``Z`` for a zero offset)."""
    local = moment.astimezone(where)
    offset = local.utcoffset() or timedelta(0)
    text = local.replace(tzinfo=None, microsecond=0).isoformat()
    if offset == timedelta(0):
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def http_date(epoch_ms: int) -> str:
    """An RFC 1123 date (``Tue, 10 Mar 2026 09:00:00 GMT``), as in ``X-Goog-Channel-Expiration``."""
    return email.utils.formatdate(epoch_ms / 1000, usegmt=True)


@dataclass(frozen=True)
class EventTime:
    """One ``start``/``end``/``originalStartTime`` of an event, parsed."""

    #: The all-day date, or None for a timed value.
    day: date | None
    #: The instant: for an all-day value, midnight of ``day`` in the calendar's zone.
    instant: datetime
    #: The zone named in ``timeZone``, if any.
    zone_name: str | None

    @property
    def all_day(self) -> bool:
        return self.day is not None


class TimeError(ValueError):
    """A ``start``/``end`` object Google would refuse; the message is Google's wording."""


def parse_event_time(value: Any, calendar_zone: tzinfo, what: str) -> EventTime:
    """Read ``{"date"}`` or ``{"dateTime", "timeZone"?}``; raise :class:`TimeError` if Google would refuse it."""
    if not isinstance(value, dict):
        raise TimeError(f"Missing {what} time.")
    zone_name = value.get("timeZone")
    if zone_name is not None and (not isinstance(zone_name, str) or zone(zone_name) is None):
        raise TimeError(f"Invalid time zone definition for {what} time.")
    day_text, moment_text = value.get("date"), value.get("dateTime")
    if day_text is not None and moment_text is not None:
        raise TimeError(f"Invalid {what} time.")
    if day_text is not None:
        if not isinstance(day_text, str):
            raise TimeError(f"Invalid {what} time.")
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise TimeError(f"Invalid {what} time.") from None
        return EventTime(day, datetime.combine(day, time(), calendar_zone).astimezone(UTC), zone_name)
    if not isinstance(moment_text, str):
        raise TimeError(f"Missing {what} time.")
    parsed = _from_iso(moment_text)
    if parsed is None:
        raise TimeError(f"Invalid {what} time.")
    if parsed.tzinfo is None:
        # A local time is a wall clock in the event's zone; without one Google refuses it.
        where = zone(zone_name) if zone_name else None
        if where is None:
            raise TimeError(f"Missing time zone definition for {what} time.")
        parsed = parsed.replace(tzinfo=where)
    return EventTime(None, parsed.astimezone(UTC), zone_name)


def _from_iso(text: str) -> datetime | None:
    text = text.strip()
    if len(text) < 16:
        return None
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
    except ValueError:
        return None
