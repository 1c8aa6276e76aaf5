"""Every event type calmesh announces, and what its ``data`` holds (PRODUCT.md W1).

Each delivery's body is ``{"id", "type", "createdAt", "tenantId", "data"}``; ``id`` is stable
across retries and replays, so a receiver deduplicates on it.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EventType", "validate_event_types"]


class EventType(StrEnum):
    #: A sync finished: ``connectionId``, ``userId``, ``provider``, ``fullSync``, counts
    #: ``created``/``updated``/``deleted`` (mirror), ``pushed``/``deletedAtProvider`` (written
    #: out), ``conflicts``, and ``calendars`` (the same per calendar). Sent when something
    #: changed, on a full or first sync, on a requested sync and on recovery from an error.
    INTEGRATION_SYNCED = "integration.synced"
    #: A sync failed (sent when the connection enters ERROR): ``error`` (readable),
    #: ``userActionRequired``, ``retryAt``.
    INTEGRATION_ERROR = "integration.error"
    #: The provider refused the credentials: syncs stop until the user re-authenticates. Sent once.
    INTEGRATION_TOKEN_EXPIRED = "integration.token_expired"
    #: The connection is gone (``reason``: ``user`` or ``provider``), its credentials deleted.
    INTEGRATION_DISCONNECTED = "integration.disconnected"
    #: A mirror event appeared, changed or went (the event as ``/v1/events`` shows it, with the
    #: connection's privacy settings applied; a deletion carries ids only).
    EVENT_CREATED = "event.created"
    EVENT_UPDATED = "event.updated"
    EVENT_DELETED = "event.deleted"
    #: A booking as ``/v1/bookings`` shows it.
    BOOKING_CREATED = "booking.created"
    BOOKING_RESCHEDULED = "booking.rescheduled"
    BOOKING_CANCELLED = "booking.cancelled"


def validate_event_types(names: list[str]) -> list[str]:
    """``names`` deduplicated and in catalogue order; ValueError naming any unknown type."""
    known = {t.value for t in EventType}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown event types {unknown}; known: {sorted(known)}")
    return [t.value for t in EventType if t.value in names]
