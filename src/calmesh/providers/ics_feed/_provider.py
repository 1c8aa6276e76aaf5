"""The ICS feed as a :class:`~calmesh.providers.base.CalendarProvider`: one read-only calendar."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import httpx

from calmesh.domain.events import Event
from calmesh.errors import InvalidCalendarData, InvalidInput, ProviderProtocolError, ProviderRefused
from calmesh.ical import ParsedCalendar, parse_calendar
from calmesh.providers.base import (
    Capabilities,
    ChangeSet,
    ItemProblem,
    ProviderConfig,
    RemoteCalendar,
    RemoteItem,
    WrittenItem,
)
from calmesh.providers.http import ClientOwner, guarded_client
from calmesh.providers.ics_feed._download import Download, FeedUrl, download
from calmesh.providers.ics_feed._items import FeedCursor, body_digest, group_items

__all__ = ["DEFAULT_MAX_BYTES", "FEED_CALENDAR_ID", "IcsFeedProvider", "open_ics_feed"]

#: The largest feed calmesh downloads unless told otherwise: 20 MiB, decoded.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: A feed is one calendar; this is its id.
FEED_CALENDAR_ID = "feed"

_READ_ONLY = "ICS feeds are read-only"


def _reason(exc: InvalidCalendarData) -> str:
    reason = exc.message.rstrip(".")
    if len(reason) > 1 and reason[0].isupper() and reason[1].islower():
        reason = reason[0].lower() + reason[1:]
    return reason


def _time_zone_name(parsed: ParsedCalendar) -> str | None:
    key = getattr(parsed.time_zone, "key", None)
    return key if isinstance(key, str) else None


class IcsFeedProvider(ClientOwner):
    """A subscription to one iCalendar feed. Holds its own HTTP client: ``aclose`` it."""

    capabilities = Capabilities(incremental=False, push=False, write=False, free_busy=False)

    def __init__(
        self,
        url: str,
        *,
        allow_private_network: bool = False,
        timeout_seconds: float = 30.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """``url`` may be http, https, webcal or webcals; anything else is ``UnsafeUrl``.

        ``client`` replaces the guarded client this provider would build (the provider still
        owns and closes it); without one, private addresses are refused unless
        ``allow_private_network``.
        """
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self._feed = FeedUrl.parse(url)
        self._timeout = timeout_seconds
        self._max_bytes = max_bytes
        self._client = client or guarded_client(
            allow_private_network=allow_private_network, timeout_seconds=timeout_seconds
        )

    @property
    def origin(self) -> str:
        """The feed's scheme, host and port: what may be shown of its URL."""
        return self._feed.origin


    # --- reading ------------------------------------------------------------------------------

    async def _download(self, cursor: FeedCursor | None = None) -> Download:
        return await download(
            self._client,
            self._feed,
            max_bytes=self._max_bytes,
            timeout_seconds=self._timeout,
            etag=cursor.etag if cursor else None,
            last_modified=cursor.last_modified if cursor else None,
        )

    async def _parse(self, body: bytes) -> ParsedCalendar:
        try:
            # A 20 MB feed takes a while to read: not on the event loop.
            return await asyncio.to_thread(parse_calendar, body)
        except InvalidCalendarData as exc:
            raise ProviderProtocolError(
                f"{self._feed.origin} did not serve an iCalendar feed: {_reason(exc)}"
            ) from exc

    async def _items(self, body: bytes) -> tuple[tuple[RemoteItem, ...], tuple[ItemProblem, ...]]:
        parsed = await self._parse(body)
        return await asyncio.to_thread(group_items, parsed)

    def _check_calendar(self, calendar_id: str) -> None:
        if calendar_id != FEED_CALENDAR_ID:
            raise ProviderRefused(
                f"an ICS feed has one calendar, {FEED_CALENDAR_ID!r}; there is no calendar {calendar_id!r}"
            )

    async def revoke(self) -> bool:
        return False  # a feed address grants nothing calmesh could give back

    async def list_calendars(self) -> list[RemoteCalendar]:
        """The feed's one calendar; downloading and parsing it proves the URL serves a feed."""
        fetched = await self._download()
        assert fetched.body is not None
        parsed = await self._parse(fetched.body)
        return [
            RemoteCalendar(
                id=FEED_CALENDAR_ID,
                name=parsed.name or self._feed.url.host,
                read_only=True,
                is_primary=True,
                time_zone=_time_zone_name(parsed),
            )
        ]

    async def changes(
        self, calendar_id: str, cursor: str | None, known_etags: Mapping[str, str | None] = {}
    ) -> ChangeSet:
        """A conditional GET: nothing when the feed did not change, else everything (``full``)."""
        self._check_calendar(calendar_id)
        previous = FeedCursor.decode(cursor)
        fetched = await self._download(previous)
        if fetched.body is None:
            return ChangeSet(items=(), full=False, cursor=cursor)
        digest = body_digest(fetched.body)
        next_cursor = FeedCursor(
            etag=fetched.etag, last_modified=fetched.last_modified, sha256=digest
        ).encode()
        if previous is not None and previous.sha256 == digest:
            # Same bytes (a server without validators, or one that ignores them): no work, but
            # keep the validators it sent this time so the next request can be conditional.
            return ChangeSet(items=(), full=False, cursor=next_cursor)
        items, problems = await self._items(fetched.body)
        return ChangeSet(items=items, full=True, cursor=next_cursor, problems=problems)

    async def get(self, calendar_id: str, item_id: str) -> RemoteItem | None:
        """The item with UID ``item_id`` in the feed now (one whole download), or None."""
        self._check_calendar(calendar_id)
        fetched = await self._download()
        assert fetched.body is not None
        items, _ = await self._items(fetched.body)
        return next((item for item in items if item.id == item_id), None)

    # --- writing: never -----------------------------------------------------------------------

    async def create(self, calendar_id: str, events: Sequence[Event]) -> WrittenItem:
        raise ProviderRefused(_READ_ONLY)

    async def update(
        self, calendar_id: str, item_id: str, events: Sequence[Event], etag: str | None
    ) -> WrittenItem:
        raise ProviderRefused(_READ_ONLY)

    async def delete(self, calendar_id: str, item_id: str, etag: str | None) -> None:
        raise ProviderRefused(_READ_ONLY)


def open_ics_feed(config: ProviderConfig, *, max_bytes: int = DEFAULT_MAX_BYTES) -> IcsFeedProvider:
    """The provider for the feed at ``config.secrets["url"]``, under the config's limits."""
    url = config.secrets.get("url")
    if not url or not url.strip():
        raise InvalidInput("an ICS feed connection needs the feed's URL", field="url")
    return IcsFeedProvider(
        url,
        allow_private_network=config.allow_private_network,
        timeout_seconds=config.timeout_seconds,
        max_bytes=max_bytes,
    )
