"""Content fingerprints: what the sync engine compares to tell a real change from noise.

Two versions of an event with the same fingerprint are the same event to a user. Left out on
purpose, because servers and clients rewrite them without anything changing: DTSTAMP (never in
the domain model), LAST-MODIFIED, CREATED, PRODID (calendar-level, never in the model), a bare
SEQUENCE bump, and X- properties (our own X-CALMESH-ID tag included — some providers drop them).
Overrides are part of their series' fingerprint, in RECURRENCE-ID order, so the order a server
lists them in does not matter either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timezone

from calmesh.domain.events import Event, EventTime

__all__ = ["combine_fingerprints", "event_fingerprint", "item_fingerprint"]


def _instant(value: EventTime) -> str:
    """RDATE, EXDATE and RECURRENCE-ID name instants: the same instant in another zone is equal."""
    moment = value.value
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).isoformat()
    return moment.isoformat()


def _time(value: EventTime | None) -> str:
    if value is None:
        return "-"
    moment = value.value
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        zone = getattr(moment.tzinfo, "key", None) or value.tzid or moment.strftime("%z")
        return f"{moment.replace(tzinfo=None).isoformat()}@{zone}"
    return moment.isoformat()


def _canonical(event: Event) -> str:
    recurrence = event.recurrence
    parts = [
        event.uid,
        _time(event.start),
        _time(event.end),
        event.summary or "",
        event.description or "",
        event.location or "",
        event.status.value,
        event.transparency.value,
        event.visibility.value,
        "|".join(recurrence.rrules) if recurrence else "",
        ",".join(sorted(_instant(t) for t in recurrence.rdates)) if recurrence else "",
        ",".join(sorted(_instant(t) for t in recurrence.exdates)) if recurrence else "",
        _instant(event.recurrence_id.value) if event.recurrence_id else "",
        "+" if event.recurrence_id and event.recurrence_id.this_and_future else "",
        repr((event.organizer.email.lower(), event.organizer.name)) if event.organizer else "",
        repr(sorted((a.email.lower(), a.name, a.status.value, a.role, a.rsvp) for a in event.attendees)),
        repr(event.conference) if event.conference else "",
        repr(event.reminders),
    ]
    return "\x1f".join(parts)


def event_fingerprint(event: Event) -> str:
    """A 32-character hex digest of what a user would see of ``event``."""
    return hashlib.blake2b(_canonical(event).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def combine_fingerprints(digests: Iterable[str]) -> str:
    """One fingerprint for a series from its events' (the mirror stores one per row)."""
    ordered = sorted(digests)
    if len(ordered) == 1:
        return ordered[0]
    return hashlib.blake2b("".join(ordered).encode("ascii"), digest_size=16).hexdigest()


def item_fingerprint(events: Iterable[Event]) -> str:
    """The fingerprint of a whole item (a series with its overrides), independent of their order."""
    return combine_fingerprints(event_fingerprint(event) for event in events)
