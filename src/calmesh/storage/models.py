"""The tables: tenants and their API keys, users, connections and their encrypted credentials,
calendars, the event mirror and per-calendar sync state.

Every row that belongs to a tenant carries ``tenant_id``, and the services filter on it in every
query: that column is the whole of tenant isolation. Ids are our own (:func:`calmesh.ids.new_id`);
a provider's ids live in ``provider_*_id`` columns beside them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from calmesh.storage.types import UTCDateTime

__all__ = [
    "ApiKey",
    "Base",
    "Booking",
    "BusyBlock",
    "Calendar",
    "Connection",
    "Credential",
    "Event",
    "EventType",
    "EventTypeHost",
    "HostLock",
    "HostReservation",
    "SyncConflict",
    "SyncItem",
    "SyncState",
    "Tenant",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookSecret",
]

# Deterministic constraint names, so migrations can name what they alter on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: JSON that stores Python None as SQL NULL (plain JSON stores the JSON text 'null', which
#: ``IS NULL`` never matches).
NULLABLE_JSON = JSON(none_as_null=True)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class Tenant(Timestamped, Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class ApiKey(Base):
    """A tenant's API key. Only a SHA-256 of the secret is kept: the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The first characters of the key, enough for a person to tell keys apart.
    display_prefix: Mapped[str] = mapped_column(String(20))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class User(Timestamped, Base):
    """A person in a tenant whose calendars calmesh connects."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    external_id: Mapped[str | None] = mapped_column(String(200))


class Connection(Timestamped, Base):
    """One connected account at one provider (a Google login, a CalDAV server, a Zoom user…)."""

    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    #: ACTIVE, SYNCING, ERROR, TOKEN_EXPIRED or DISCONNECTED (PRODUCT.md C4).
    status: Mapped[str] = mapped_column(String(32), default="ACTIVE")
    account_email: Mapped[str | None] = mapped_column(String(320))
    #: How to reach the account, without secrets: {"serverUrl", "username", "preset"} for
    #: CalDAV, {"displayUrl"} for a feed. Passwords, tokens and secret URLs are in the vault.
    account: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The S1 settings (syncDirection, calendarsToSync, eventPrivacy…), as the API shows them.
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Granted permissions, e.g. {"calendar": "write", "contacts": "read"}.
    permissions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    #: When the provider's calendar list was last read (a sync re-reads it when it is stale).
    calendars_refreshed_at: Mapped[datetime | None]
    #: When the scheduler should sync it next (None: as soon as it can).
    next_sync_at: Mapped[datetime | None] = mapped_column(index=True)
    #: The provider asked us to wait until then (PRODUCT.md S5).
    rate_limited_until: Mapped[datetime | None]
    #: Set by a ``resync`` with ``fullSync``: the next sync forgets every cursor first.
    full_sync_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Who is syncing it and until when: one sync per connection at a time, across processes.
    sync_lease_owner: Mapped[str | None] = mapped_column(String(64))
    sync_lease_until: Mapped[datetime | None]
    #: Failed syncs in a row, for the retry backoff.
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Somebody asked for this sync (resync, CLI): its ``integration.synced`` is sent even when
    #: nothing changed, where a scheduled sync that changed nothing stays quiet.
    sync_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When the credentials last proved themselves (a sync, a refresh or the daily health check).
    credentials_checked_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)


class Credential(Base):
    """A connection's secrets, sealed by the vault (:mod:`calmesh.auth.vault`).

    ``ciphertext`` is AES-256-GCM under a data key used for this secret only; ``wrapped_key`` is
    that data key wrapped by the key-encryption key ``kek_id``. Both are bound to
    (tenant_id, connection_id), so a row copied to another connection does not decrypt.
    """

    __tablename__ = "credentials"

    connection_id: Mapped[str] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kek_id: Mapped[str] = mapped_column(String(64), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    rewrapped_at: Mapped[datetime | None]


class Calendar(Timestamped, Base):
    """A calendar of a connection, as the provider lists it."""

    __tablename__ = "calendars"
    __table_args__ = (UniqueConstraint("connection_id", "provider_calendar_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    provider_calendar_id: Mapped[str] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    color: Mapped[str | None] = mapped_column(String(32))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Whether the connection's settings include it in syncs (calendarsToSync).
    selected: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The window the busy index covers for this calendar: outside it we do not know.
    busy_indexed_from: Mapped[datetime | None]
    busy_indexed_until: Mapped[datetime | None]


class Event(Timestamped, Base):
    """One event of the local mirror: a single event, a series' master or an override.

    Times: ``start_at``/``end_at`` are UTC instants, with the zone the provider gave them in
    ``time_zone``/``end_time_zone``. All-day events store midnight UTC of their dates
    (``all_day``); floating events store their wall time as if it were UTC (``floating``).
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_calendar_start", "calendar_id", "start_at"),
        Index("ix_events_calendar_provider_id", "calendar_id", "provider_event_id"),
        Index("ix_events_calendar_ical_uid", "calendar_id", "ical_uid"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    calendar_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    provider_event_id: Mapped[str | None] = mapped_column(String(1024))
    ical_uid: Mapped[str] = mapped_column(String(1024))
    #: For an override: the original start of the instance it replaces, as RFC 5545 text.
    recurrence_id: Mapped[str | None] = mapped_column(String(64))
    #: RANGE=THISANDFUTURE on the override, else None.
    recurrence_range: Mapped[str | None] = mapped_column(String(32))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    time_zone: Mapped[str | None] = mapped_column(String(64))
    end_time_zone: Mapped[str | None] = mapped_column(String(64))
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    floating: Mapped[bool] = mapped_column(Boolean, default=False)
    #: RRULE values, one per line; RDATE and EXDATE values as lists of RFC 5545 text.
    rrule: Mapped[str | None] = mapped_column(Text)
    rdates: Mapped[list[str] | None] = mapped_column(NULLABLE_JSON)
    exdates: Mapped[list[str] | None] = mapped_column(NULLABLE_JSON)
    summary: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    transparency: Mapped[str] = mapped_column(String(16), default="opaque")
    visibility: Mapped[str] = mapped_column(String(16), default="default")
    organizer: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)
    #: [{"email", "name", "status", "role", "rsvp"}], status an RFC 5545 PARTSTAT in lower case.
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    conference: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)
    #: [{"minutes", "method"}]: VALARMs relative to the start.
    reminders: Mapped[list[dict[str, Any]] | None] = mapped_column(NULLABLE_JSON)
    #: "provider" for events read from the calendar, "calmesh" for events created through calmesh
    #: (the API, bookings): only those are written out by an OUTBOUND connection.
    origin: Mapped[str] = mapped_column(String(16), default="provider")
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    etag: Mapped[str | None] = mapped_column(String(256))
    #: A hash of the event's content without volatile properties: what the sync engine compares.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    #: The provider's own representation, kept for lossless write-back.
    raw: Mapped[str | None] = mapped_column(Text)
    provider_updated_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)


class SyncState(Base):
    """Where the last sync of a calendar left off."""

    __tablename__ = "sync_states"

    calendar_id: Mapped[str] = mapped_column(
        ForeignKey("calendars.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    #: The provider's cursor: a Google syncToken, a Graph deltaLink, a CalDAV sync-token.
    cursor: Mapped[str | None] = mapped_column(Text)
    last_sync_at: Mapped[datetime | None]
    last_full_sync_at: Mapped[datetime | None]
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Items the last sync could not read: [{"itemId", "message"}].
    problems: Mapped[list[dict[str, Any]] | None] = mapped_column(NULLABLE_JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)


class SyncItem(Base):
    """The sync engine's memory of one item: what both sides held when they last agreed.

    ``remote_hash`` is the fingerprint of what the provider holds (as calmesh wrote or read it),
    ``local_hash`` that of the mirror rows; a side whose current fingerprint differs has changed
    since. A mirror series with no row here is new locally; a row here with no mirror series
    was deleted locally (vdirsyncer's status, with the mirror as one side).
    """

    __tablename__ = "sync_items"
    __table_args__ = (UniqueConstraint("calendar_id", "ical_uid"),)

    calendar_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    ical_uid: Mapped[str] = mapped_column(String(1024))
    etag: Mapped[str | None] = mapped_column(String(256))
    remote_hash: Mapped[str] = mapped_column(String(64))
    local_hash: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16), default="provider")


class SyncConflict(Base):
    """A change on both sides of one item, and how the connection's policy settled it."""

    __tablename__ = "sync_conflicts"
    __table_args__ = (Index("ix_sync_conflicts_connection_detected", "connection_id", "detected_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    calendar_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    item_id: Mapped[str | None] = mapped_column(String(1024))
    ical_uid: Mapped[str] = mapped_column(String(1024))
    #: The policy that decided: remote_wins, local_wins or newest_wins.
    policy: Mapped[str] = mapped_column(String(16))
    #: "remote" or "local".
    winner: Mapped[str] = mapped_column(String(8))
    local_summary: Mapped[str | None] = mapped_column(Text)
    remote_summary: Mapped[str | None] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(default=utc_now)


class BusyBlock(Base):
    """One busy occurrence of a mirror event, materialised for fast availability answers.

    Recurring series are expanded over the calendar's indexed window
    (``Calendar.busy_indexed_from``/``until``); ``event_id`` is the row describing the occurrence
    (the master or its override), so changing one event recomputes only its series' blocks.
    Times are whole UTC epoch seconds: availability questions read tens of thousands of these,
    and integers compare and load far faster than timestamps. ``title`` is the event's summary,
    or null when the event itself is private or confidential.
    """

    __tablename__ = "busy_blocks"
    __table_args__ = (
        Index("ix_busy_blocks_calendar_start", "calendar_id", "start_ts"),
        Index("ix_busy_blocks_series", "calendar_id", "ical_uid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    calendar_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    ical_uid: Mapped[str] = mapped_column(String(1024))
    start_ts: Mapped[int] = mapped_column(BigInteger)
    end_ts: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(Text)


class EventType(Timestamped, Base):
    """A kind of meeting people can book (PRODUCT.md A3)."""

    __tablename__ = "event_types"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    slug: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    #: {"type": "ZOOM" | "GOOGLE_MEET" | "TEAMS" | "CUSTOM" | "IN_PERSON" | "PHONE", ...}
    location: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: {"timeZone", "weeklyHours": {"monday": [{"start", "end"}]}, "dateOverrides": [...]}
    schedule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    minimum_notice_minutes: Mapped[int] = mapped_column(Integer, default=0)
    booking_window_days: Mapped[int] = mapped_column(Integer, default=60)
    daily_limit: Mapped[int | None] = mapped_column(Integer)
    slot_interval_minutes: Mapped[int | None] = mapped_column(Integer)
    #: "all" (collective), "any" (round robin) or "n" (required_hosts of the hosts).
    host_policy: Mapped[str] = mapped_column(String(8), default="all")
    required_hosts: Mapped[int | None] = mapped_column(Integer)
    #: How many bookings one slot takes (seed 004: "multiple appointments per slot"); they share
    #: the hosts' time and one meeting link.
    seats_per_slot: Mapped[int] = mapped_column(Integer, default=1)
    version: Mapped[int] = mapped_column(Integer, default=1)


class EventTypeHost(Base):
    __tablename__ = "event_type_hosts"

    event_type_id: Mapped[str] = mapped_column(ForeignKey("event_types.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Booking(Timestamped, Base):
    """A booked meeting of an event type (PRODUCT.md A4)."""

    __tablename__ = "bookings"
    __table_args__ = (Index("ix_bookings_event_type_start", "event_type_id", "start_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    event_type_id: Mapped[str] = mapped_column(ForeignKey("event_types.id", ondelete="CASCADE"))
    #: "confirmed" or "cancelled".
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    attendee_name: Mapped[str] = mapped_column(String(200))
    attendee_email: Mapped[str] = mapped_column(String(320))
    attendee_time_zone: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None]
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    #: The users hosting it (chosen by the event type's host policy when it was booked).
    host_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: {"service", "joinUrl", "meetingId", "passcode", "dialIns"}: how to join (PRODUCT.md M4).
    conference: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)
    #: The meeting calmesh created for it at a connected service; shared by bookings in one slot.
    meeting_id: Mapped[str | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"), index=True)
    #: The event written to the organizing host's calendar (``createEventsIn``), if any.
    calendar_event_id: Mapped[str | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class HostReservation(Base):
    """The time a booking takes from one host, buffers included.

    No two active reservations of one host overlap: on PostgreSQL an exclusion constraint
    (``ex_host_reservations_no_overlap``, created by the migration) enforces it whatever the
    application does; on SQLite the booking service checks and inserts inside one serialised
    write transaction.
    """

    __tablename__ = "host_reservations"
    __table_args__ = (Index("ix_host_reservations_user_start", "user_id", "blocked_start_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    booking_id: Mapped[str] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    blocked_start_at: Mapped[datetime]
    blocked_end_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class HostLock(Base):
    """One row per host, written first in every booking transaction on SQLite.

    Writing it takes SQLite's write lock before anything is read, so two bookings for the same
    host run one after the other and the second sees the first (see services.bookings).
    """

    __tablename__ = "host_locks"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    bookings_made: Mapped[int] = mapped_column(Integer, default=0)
    last_booked_at: Mapped[datetime | None]


class WebhookEndpoint(Timestamped, Base):
    """Where a tenant wants its events POSTed (PRODUCT.md W1)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(500))
    #: The event types it receives; empty means every type.
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Switched by its owner: an inactive endpoint gets nothing new and its pending deliveries wait.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: HEALTHY, or FAILING once a delivery ran out of retries (back to HEALTHY on a success).
    health: Mapped[str] = mapped_column(String(16), default="HEALTHY")
    failing_since: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)


class WebhookSecret(Base):
    """A signing secret of an endpoint, sealed by the vault like a credential.

    Several may be active at once (rotation): every delivery is signed with each one whose
    ``expires_at`` has not passed.
    """

    __tablename__ = "webhook_secrets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    #: The first characters, enough for a person to tell secrets apart.
    display_prefix: Mapped[str] = mapped_column(String(20))
    kek_id: Mapped[str] = mapped_column(String(64), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime | None]


class WebhookEvent(Base):
    """The outbox: one row per thing that happened, written in the transaction that made it happen."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class WebhookDelivery(Base):
    """One event on its way to one endpoint: PENDING until DELIVERED, or FAILED past the budget."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    #: Who is sending it and until when; a sender that died leaves a lease that runs out.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_latency_ms: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    #: A replay asked for by a person (the event was delivered, or failed, before).
    replay: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    #: Declared so the unit of work inserts an event before the deliveries announcing it (without
    #: a relationship it may order the two tables either way); never loaded lazily.
    event: Mapped[WebhookEvent] = relationship(lazy="raise")


class WebhookAttempt(Base):
    """One HTTP request of a delivery, for the delivery log."""

    __tablename__ = "webhook_attempts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utc_now)
    #: None when no answer came (timeout, refused connection).
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class OAuthAuthorization(Base):
    """An OAuth consent in progress: made by ``auth-url``, completed by the callback or by
    ``POST /v1/integrations`` with the code (PRODUCT.md C1).

    ``state`` is what the provider hands back; it binds the consent to its tenant, provider and
    redirect URI. The PKCE verifier never leaves calmesh. Rows expire after ten minutes.
    """

    __tablename__ = "oauth_authorizations"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_verifier: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Re-authenticate this connection instead of creating one.
    connection_id: Mapped[str | None] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: Where calmesh's own callback sends the browser once the connection is made.
    return_to: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PushChannel(Base):
    """A provider's promise to notify calmesh when one synced calendar changes (a Google watch
    channel). Each notification is only a hint: it asks for an incremental sync."""

    __tablename__ = "push_channels"

    #: Our id for the channel, which the provider echoes in every notification.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    calendar_id: Mapped[str] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    #: The provider's id of the watched resource; stopping the channel needs it.
    resource_id: Mapped[str] = mapped_column(String(255))
    #: SHA-256 of the token the provider echoes: a notification must carry the token itself.
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    last_notified_at: Mapped[datetime | None]


class CustomConferencingProvider(Base):
    """A tenant's named, stable meeting link (PRODUCT.md M1 "custom"): a room everyone joins.

    ``service`` is what :func:`calmesh.conferencing.service_for_url` recognised in the URL
    (``ZOOM``, ``WEBEX``…), ``CUSTOM`` when it recognised none. ``user_id`` set: that user's own;
    None: the tenant's, offered to every user.
    """

    __tablename__ = "custom_conferencing_providers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    service: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class ConferencingDefault(Base):
    """A user's default conferencing (PRODUCT.md M2), for all their calendars (``calendar_id``
    None) or for one calendar; the calendar's own wins over the user's.

    ``service``: ``GOOGLE_MEET``, ``TEAMS``, ``ZOOM``, ``CUSTOM`` (with ``custom_provider_id``) or
    ``NONE`` (no conferencing added). ``set_by``: the user who chose it — the user themselves or
    an admin choosing for them.
    """

    __tablename__ = "conferencing_defaults"
    __table_args__ = (UniqueConstraint("user_id", "calendar_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    calendar_id: Mapped[str | None] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(32))
    custom_provider_id: Mapped[str | None] = mapped_column(
        ForeignKey("custom_conferencing_providers.id", ondelete="CASCADE")
    )
    set_by: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class Meeting(Base):
    """A meeting calmesh created at a connected conferencing service (a Zoom meeting).

    Bookings point at it (``bookings.meeting_id``); it is deleted at the service once no active
    booking uses it (PRODUCT.md M4). ``deleted_at`` set: gone at the service too.
    """

    __tablename__ = "meetings"
    __table_args__ = (Index("ix_meetings_connection_start", "connection_id", "start_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(32))
    #: The service's id (Zoom's meeting id: 64-bit, kept as text).
    provider_meeting_id: Mapped[str] = mapped_column(String(64))
    join_url: Mapped[str] = mapped_column(Text)
    passcode: Mapped[str | None] = mapped_column(String(64))
    #: True when it is the user's personal meeting room (Zoom PMI): never deleted at the service.
    personal: Mapped[bool] = mapped_column(Boolean, default=False)
    dial_ins: Mapped[list[str]] = mapped_column(JSON, default=list)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    deleted_at: Mapped[datetime | None]


class MeetingQuota(Base):
    """Requests made to a conferencing service for one connected user on one UTC day (PRODUCT.md
    M5: Zoom allows 100 creates, updates and deletes per user per day, resetting at 00:00 UTC).

    Counted in the database so that every process sees the same count; a request takes its
    place (``used + 1``) before it is sent. ``blocked_until``: the service answered 429 and
    asked to wait until then.
    """

    __tablename__ = "meeting_quotas"

    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None]
