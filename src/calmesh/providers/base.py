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
from typing import Protocol, runtime_checkable

from calmesh.domain.events import Event

__all__ = [
    "CalendarProvider",
    "Capabilities",
    "ChangeSet",
    "ItemProblem",
    "ProviderConfig",
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
    """Where a create or update left the item: its id and new etag (None if the provider gave none)."""

    id: str
    etag: str | None


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
