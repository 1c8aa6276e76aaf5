"""The calendar-provider protocol every adapter implements, and the values it speaks in.

An adapter turns one provider's wire protocol into these few calls; the sync engine
(:mod:`calmesh.sync`, :mod:`calmesh.services.sync`) never sees anything else. The unit of
exchange is an *item*: one object at the provider, identified by the provider's own id (a CalDAV
href, a Google event id), holding one series — its master (or the single event) and its
overrides — as domain :class:`~calmesh.domain.events.Event` values.

Errors are translated at the adapter's edge into :mod:`calmesh.errors`:
``ProviderAuthFailed``, ``ProviderUnreachable``, ``ProviderRateLimited``,
``ProviderProtocolError``, ``ProviderRefused``, ``SyncCursorExpired`` and, for a failed
``If-Match``/``If-None-Match``, ``PreconditionFailed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from calmesh.auth.oauth import OAuthApp, TokenKeeper
from calmesh.domain.events import Event

__all__ = [
    "CalendarProvider",
    "Capabilities",
    "ChangeSet",
    "ConferencingAccount",
    "ConferencingProvider",
    "CreatedMeeting",
    "ItemProblem",
    "MeetingDefaults",
    "MeetingRequest",
    "MeetingRequestGate",
    "ProviderConfig",
    "PushChannel",
    "PushChannels",
    "RemoteCalendar",
    "RemoteItem",
    "WrittenItem",
]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can do; the engine and the API ask these instead of the provider's name."""

    #: Changes since a cursor, rather than a full listing every time.
    incremental: bool
    #: Tells us when something changed (watch channels, subscriptions).
    push: bool
    #: Events can be created, updated and deleted.
    write: bool
    #: Answers free/busy questions itself.
    free_busy: bool


@dataclass(frozen=True, slots=True)
class RemoteCalendar:
    """A calendar as the provider lists it."""

    id: str
    name: str
    color: str | None = None
    read_only: bool = False
    is_primary: bool = False
    time_zone: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RemoteItem:
    """One object at the provider: a series (master first, then overrides) or a single event."""

    id: str
    etag: str | None
    events: tuple[Event, ...]

    @property
    def uid(self) -> str:
        return self.events[0].uid


@dataclass(frozen=True, slots=True)
class ItemProblem:
    """An item the provider holds that could not be read (not valid iCalendar, no UID…).

    The engine records it and syncs the rest; the item is neither created nor deleted locally.
    """

    id: str
    message: str


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What changed at the provider since a cursor.

    With ``full`` set, ``items`` is everything the calendar holds (a first sync, a resync, or a
    provider that can only list): anything the engine knew that is not in it was deleted.
    Otherwise ``items`` are the created or changed items and ``deleted`` the ids of removed ones;
    items not mentioned did not change. ``cursor`` is what to pass next time; it is only stored
    once every item of this change set is safely applied.
    """

    items: tuple[RemoteItem, ...]
    deleted: tuple[str, ...] = ()
    cursor: str | None = None
    full: bool = False
    problems: tuple[ItemProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class WrittenItem:
    """Where a create or update left the item: its id and new etag (None if the provider gave none).

    ``events`` is the item as the provider now holds it, when its answer says (Google returns
    the event it stored, with the organizer it set and the Meet link it made); None when the
    answer carries no content (CalDAV).
    """

    id: str
    etag: str | None
    events: tuple[Event, ...] | None = None


@runtime_checkable
class CalendarProvider(Protocol):
    """One connected account at one provider. Adapters hold their own HTTP client: ``aclose`` it."""

    capabilities: Capabilities

    async def list_calendars(self) -> list[RemoteCalendar]:
        """Every calendar the account can see. Also how a connection proves its credentials."""
        ...

    async def changes(
        self, calendar_id: str, cursor: str | None, known_etags: Mapping[str, str | None] = {}
    ) -> ChangeSet:
        """Changes since ``cursor``; ``None`` asks for everything (``full``).

        ``known_etags`` (item id → etag at our last sync) lets a provider that can only list
        compare etags and fetch just what changed. Raises ``SyncCursorExpired`` when the
        provider no longer knows the cursor.
        """
        ...

    async def get(self, calendar_id: str, item_id: str) -> RemoteItem | None:
        """The item now, or None when it no longer exists."""
        ...

    async def create(self, calendar_id: str, events: Sequence[Event]) -> WrittenItem:
        """Create a new item (master first). ``PreconditionFailed`` when one with its UID exists."""
        ...

    async def update(
        self, calendar_id: str, item_id: str, events: Sequence[Event], etag: str | None
    ) -> WrittenItem:
        """Replace the item, only if it still has ``etag`` (``PreconditionFailed`` otherwise)."""
        ...

    async def delete(self, calendar_id: str, item_id: str, etag: str | None) -> None:
        """Delete the item, only if it still has ``etag``. Deleting a missing item is not an error."""
        ...

    async def revoke(self) -> bool:
        """Withdraw calmesh's access at the provider where its protocol allows it (an OAuth
        token revocation); True if something was revoked. A password or a feed cannot be: False."""
        ...

    async def aclose(self) -> None:
        ...


@dataclass(frozen=True, slots=True)
class PushChannel:
    """A provider's promise to tell ``address`` when a calendar changes (a Google watch channel)."""

    id: str
    #: The provider's id of the watched resource (Google's ``resourceId``); stopping needs it.
    resource_id: str
    expires_at: datetime


@runtime_checkable
class PushChannels(Protocol):
    """Adapters whose ``capabilities.push`` is true also implement this."""

    async def watch(self, calendar_id: str, channel_id: str, address: str, token: str, ttl_seconds: int) -> PushChannel:
        """Ask the provider to POST to ``address`` (with ``token``) when ``calendar_id`` changes."""
        ...

    async def stop_watching(self, channel_id: str, resource_id: str) -> None:
        """Stop a channel; one the provider no longer knows is not an error."""
        ...


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """What an adapter needs to open a connection.

    ``account`` holds the connection's non-secret parameters as the API took them (``serverUrl``,
    ``username``, ``preset``, ``url``…); ``secrets`` what the vault opened (``password``,
    tokens). ``allow_private_network`` is the operator's say on whether URLs may point at
    private, loopback or link-local addresses (:func:`calmesh.providers.http.guarded_client`).
    """

    account: Mapping[str, str]
    secrets: Mapping[str, str] = field(default_factory=dict)
    allow_private_network: bool = False
    timeout_seconds: float = 30.0
    #: The first wait before retrying a rate-limited or failing request; each next one doubles.
    retry_base_seconds: float = 1.0
    #: OAuth providers: the operator's app registration and the provider's addresses.
    oauth: OAuthApp | None = None
    #: OAuth providers: the connection's tokens, refreshed one at a time per connection.
    tokens: TokenKeeper | None = None
    #: Conferencing providers: the daily allowance of meeting requests (None: not counted).
    meeting_gate: MeetingRequestGate | None = None


# --- conferencing providers (Zoom) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConferencingAccount:
    """Who a conferencing connection acts as (Zoom's ``users/me``)."""

    #: The service's id of the user (Zoom's ``id``, which its webhooks name as ``user_id``).
    user_id: str
    email: str | None
    #: The service's account (organisation) the user belongs to.
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class MeetingDefaults:
    """A connection's ``defaultMeetingSettings`` (PRODUCT.md M3), applied to every meeting."""

    join_before_host: bool = False
    mute_upon_entry: bool = False
    waiting_room: bool = False
    auto_recording: Literal["none", "local", "cloud"] = "none"


@dataclass(frozen=True, slots=True)
class MeetingRequest:
    """The meeting to schedule: ``start`` is aware; ``time_zone`` is how the service shows it."""

    topic: str
    start: datetime
    duration_minutes: int
    time_zone: str = "UTC"
    agenda: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedMeeting:
    """A meeting the service made: how to join it."""

    id: str
    join_url: str
    passcode: str | None
    #: The user's personal meeting room (Zoom PMI), which must never be deleted.
    personal: bool = False
    dial_ins: tuple[str, ...] = ()


class MeetingRequestGate(Protocol):
    """Counts a conferencing user's meeting requests against the service's daily allowance
    (PRODUCT.md M5). An adapter calls ``admit`` before every create, update or delete it sends
    and ``blocked`` when the service answers 429; the gate calmesh runs on keeps the count in
    the database, so every process sees it."""

    async def admit(self) -> None:
        """Take one request of today's allowance; ``MeetingQuotaExhausted`` when none is left
        or the service asked us to wait."""
        ...

    async def blocked(self, until: datetime) -> None:
        """The service refused with 429 and asked to wait until ``until``."""
        ...


@runtime_checkable
class ConferencingProvider(Protocol):
    """One connected account at a conferencing service that makes meetings on request.

    Errors are translated at the adapter's edge as for calendar providers; a 429 is
    ``ProviderRateLimited`` with ``retry_after`` (Zoom's daily limit names an absolute time).
    """

    #: The service, as the API spells it (``ZOOM``).
    service: str

    async def account(self) -> ConferencingAccount:
        """Who the credentials act as. Also how a connection proves them."""
        ...

    async def create_meeting(self, request: MeetingRequest, defaults: MeetingDefaults) -> CreatedMeeting:
        """Schedule a meeting: the user's personal room when their settings say to use it for
        scheduled meetings, else a new meeting with a passcode their account's rules accept."""
        ...

    async def update_meeting(self, meeting_id: str, request: MeetingRequest, defaults: MeetingDefaults) -> None:
        """Change a meeting's topic, time or settings; its link stays."""
        ...

    async def delete_meeting(self, meeting_id: str) -> None:
        """Delete a meeting; one the service no longer knows is not an error."""
        ...

    async def revoke(self) -> bool:
        """Withdraw calmesh's access (OAuth token revocation); True if something was revoked."""
        ...

    async def aclose(self) -> None:
        ...
