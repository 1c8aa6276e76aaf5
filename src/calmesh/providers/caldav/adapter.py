"""The CalDAV adapter: :class:`CalDAVProvider` and :func:`open_caldav`.

Reading is in :mod:`._changes`, discovery in :mod:`._discovery`; this module lists calendars
and writes objects (RFC 4791 §5.3.2):

* **create** — ``PUT {calendar}{name}.ics`` with ``If-None-Match: *``, where ``name`` is the
  UID when it is a plain file name (``[A-Za-z0-9@._-]{1,200}``) and the UID's SHA-1 otherwise.
  412 (the href exists) or a ``no-uid-conflict`` (Radicale: 409; Xandikos: 412, the UID lives at
  another href) is ``PreconditionFailed``.
* **update** — ``PUT`` with ``If-Match: <etag>``, never ``If-Match: *``: Radicale compares
  ``*`` literally (it always fails) and iCloud gets it backwards. No etag, no precondition.
* **delete** — ``DELETE`` with ``If-Match`` when an etag is known; 200 (Radicale), 204
  (Xandikos) and 404 (already gone) are all success.

A write that comes back without an ``ETag`` (servers that rewrite the data may omit it) is
followed by a GET to learn it, so the engine always knows what it wrote.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from urllib.parse import unquote

import httpx

from calmesh.domain.events import Event
from calmesh.errors import InvalidTimeZone, PreconditionFailed, ProviderProtocolError
from calmesh.ical import resolve_time_zone, write_event
from calmesh.providers.base import (
    Capabilities,
    ChangeSet,
    ItemProblem,
    ProviderConfig,
    RemoteCalendar,
    RemoteItem,
    WrittenItem,
)
from calmesh.providers.caldav._changes import SYNC_COLLECTION_REPORT, ChangeReader
from calmesh.providers.caldav._discovery import find_calendar_home
from calmesh.providers.caldav._items import read_item
from calmesh.providers.caldav._paths import canonical_path, collection_url, resolve
from calmesh.providers.caldav._transport import Dav, describe
from calmesh.providers.caldav._xml import (
    CALENDAR_COLOR,
    CALENDAR_TIMEZONE,
    CURRENT_USER_PRIVILEGE_SET,
    DISPLAYNAME,
    LIST_CALENDARS,
    RESOURCETYPE,
    SUPPORTED_COMPONENTS,
    SUPPORTED_REPORTS,
    DavResponse,
    child_tags,
    error_mentions,
)
from calmesh.providers.caldav.presets import PASSWORD_HINTS, server_url_for
from calmesh.providers.http import ClientOwner, guarded_client

__all__ = ["CalDAVProvider", "open_caldav"]

_CALENDAR = "{urn:ietf:params:xml:ns:caldav}calendar"
_COMP = "{urn:ietf:params:xml:ns:caldav}comp"
_WRITE_PRIVILEGES = frozenset({"{DAV:}write", "{DAV:}write-content", "{DAV:}all"})
#: Collection names servers give the account's default calendar (Radicale and Xandikos
#: ``calendar``, Nextcloud ``personal``, iCloud ``home``, others ``default``).
_DEFAULT_NAMES = ("calendar", "default", "personal", "home")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9@._-]{1,200}")
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}(?:[0-9A-Fa-f]{2})?")
_ZONE_LINE = re.compile(r"^(?:X-WR-TIMEZONE|TZID)[;:](?:[^:\r\n]*:)?([^\r\n]+)", re.MULTILINE)
_ICS = "text/calendar; charset=utf-8"


class CalDAVProvider(ClientOwner):
    """One CalDAV account. Build it with :func:`open_caldav`; ``aclose`` it when done.

    Calendar ids are absolute collection URLs; item ids are the objects' href paths in one
    canonical spelling (:mod:`._paths`). ``use_sync_collection=False`` makes the adapter
    behave as with a server without sync-collection (ctag cursors and etag comparison).
    """

    capabilities = Capabilities(incremental=True, push=False, write=True, free_busy=False)

    def __init__(
        self,
        client: httpx.AsyncClient,
        server_url: str,
        *,
        use_sync_collection: bool = True,
        password_hint: str = "",
    ) -> None:
        self._client = client
        self._server_url = server_url
        self._dav = Dav(client, password_hint=password_hint)
        self._reader = ChangeReader(self._dav, use_sync_collection=use_sync_collection)
        self._home: httpx.URL | None = None


    # --- reading -------------------------------------------------------------------------

    async def calendar_home(self) -> httpx.URL:
        """The account's calendar home set, discovered once."""
        if self._home is None:
            self._home = await find_calendar_home(self._dav, self._server_url)
        return self._home

    async def revoke(self) -> bool:
        return False  # an app password can only be revoked by its owner, at the provider

    async def list_calendars(self) -> list[RemoteCalendar]:
        home = await self.calendar_home()
        _, multistatus = await self._dav.multistatus("PROPFIND", home, LIST_CALENDARS, depth="1")
        calendars: list[RemoteCalendar] = []
        for found in multistatus.responses:
            if _CALENDAR not in child_tags(found.props.get(RESOURCETYPE)) or not _holds_events(found):
                continue
            url = collection_url(str(home.join(found.href)))
            reports = found.props.get(SUPPORTED_REPORTS)
            if reports is not None:
                self._reader.sync_support[url] = SYNC_COLLECTION_REPORT in child_tags(reports)
            calendars.append(_calendar(url, found))
        return _mark_primary(calendars)

    async def changes(
        self, calendar_id: str, cursor: str | None, known_etags: Mapping[str, str | None] = {}
    ) -> ChangeSet:
        return await self._reader.changes(collection_url(calendar_id), cursor, known_etags)

    async def get(self, calendar_id: str, item_id: str) -> RemoteItem | None:
        url = resolve(collection_url(calendar_id), item_id)
        response = await self._dav.send("GET", url)
        if response.status_code == 404:
            return None
        self._dav.check(response, describe("GET", url))
        read = read_item(canonical_path(item_id), response.headers.get("ETag"), response.content)
        if isinstance(read, ItemProblem):
            raise ProviderProtocolError(f"{describe('GET', url)}: {read.message}")
        return read

    # --- writing -------------------------------------------------------------------------

    async def create(self, calendar_id: str, events: Sequence[Event]) -> WrittenItem:
        master, overrides = _split(events)
        url = resolve(collection_url(calendar_id), _object_name(master.uid) + ".ics")
        return await self._put(url, write_event(master, overrides), {"If-None-Match": "*"})

    async def update(
        self, calendar_id: str, item_id: str, events: Sequence[Event], etag: str | None
    ) -> WrittenItem:
        master, overrides = _split(events)
        url = resolve(collection_url(calendar_id), item_id)
        return await self._put(url, write_event(master, overrides), {"If-Match": etag} if etag else {})

    async def delete(self, calendar_id: str, item_id: str, etag: str | None) -> None:
        url = resolve(collection_url(calendar_id), item_id)
        response = await self._dav.send("DELETE", url, headers={"If-Match": etag} if etag else None)
        if response.status_code == 404:
            return  # Already gone: the outcome the caller wanted.
        self._dav.check(response, describe("DELETE", url))

    async def _put(self, url: httpx.URL, body: bytes, preconditions: Mapping[str, str]) -> WrittenItem:
        response = await self._dav.send("PUT", url, content=body, headers={"Content-Type": _ICS, **preconditions})
        what = describe("PUT", url)
        if response.status_code in (403, 409) and error_mentions(response.content, "no-uid-conflict"):
            raise PreconditionFailed(f"{what}: an event with this UID already exists in the calendar")
        self._dav.check(response, what)
        location = response.headers.get("Location")
        written_at = url.join(location) if location else url
        etag = response.headers.get("ETag") or await self._etag_of(written_at)
        return WrittenItem(canonical_path(written_at.raw_path.decode("ascii").partition("?")[0]), etag)

    async def _etag_of(self, url: httpx.URL) -> str | None:
        response = await self._dav.send("GET", url)
        self._dav.check(response, describe("GET", url))
        etag: str | None = response.headers.get("ETag")
        return etag


def open_caldav(config: ProviderConfig, *, use_sync_collection: bool = True) -> CalDAVProvider:
    """A :class:`CalDAVProvider` for ``config`` (``serverUrl``/``preset``, ``username``, password)."""
    server_url = server_url_for(config.account)
    username = config.account.get("username", "")
    password = config.secrets.get("password", "")
    # Xandikos and reverse-proxied servers may need no credentials at all.
    auth = httpx.BasicAuth(username, password) if username or password else None
    client = guarded_client(
        allow_private_network=config.allow_private_network,
        timeout_seconds=config.timeout_seconds,
        auth=auth,
    )
    hint = PASSWORD_HINTS.get((config.account.get("preset") or "").strip().lower(), "")
    return CalDAVProvider(client, server_url, use_sync_collection=use_sync_collection, password_hint=hint)


# --- calendars ---------------------------------------------------------------------------


def _holds_events(found: DavResponse) -> bool:
    """False only when the collection says which components it takes and VEVENT is not one."""
    components = found.props.get(SUPPORTED_COMPONENTS)
    if components is None:
        return True
    names = {comp.get("name", "").upper() for comp in components.iter(_COMP)}
    return "VEVENT" in names


def _calendar(url: str, found: DavResponse) -> RemoteCalendar:
    return RemoteCalendar(
        id=url,
        name=_name(url, found.text(DISPLAYNAME)),
        color=_color(found.text(CALENDAR_COLOR)),
        read_only=_read_only(found),
        time_zone=_time_zone(found.text(CALENDAR_TIMEZONE)),
    )


def _name(url: str, display_name: str | None) -> str:
    """The displayname, else the collection's last path segment.

    Radicale answers a calendar created without a displayname with its path
    (``alice/cal-1``); that is not a name anyone gave it, so it counts as none.
    """
    path = unquote(httpx.URL(url).raw_path.decode("ascii")).strip("/")
    if display_name and display_name.strip("/") != path:
        return display_name
    return _last_segment(url)


def _last_segment(url: str) -> str:
    return unquote(httpx.URL(url).raw_path.decode("ascii").rstrip("/").rpartition("/")[2])


def _color(value: str | None) -> str | None:
    """``#RRGGBB``; Apple's ``#RRGGBBAA`` loses its alpha; anything else is dropped."""
    if value is None or _COLOR.fullmatch(value) is None:
        return None
    return value[:7].upper()


def _read_only(found: DavResponse) -> bool:
    """Read-only when the server lists our privileges (RFC 3744 §5.4) and none allows writing."""
    privileges = found.props.get(CURRENT_USER_PRIVILEGE_SET)
    if privileges is None:
        return False
    return not (_WRITE_PRIVILEGES & child_tags(privileges))


def _time_zone(vcalendar: str | None) -> str | None:
    """The IANA name of the calendar-timezone's zone (RFC 4791 §5.2.2), when it resolves."""
    if vcalendar is None:
        return None
    for match in _ZONE_LINE.finditer(vcalendar):
        try:
            zone = resolve_time_zone(match.group(1).strip())
        except InvalidTimeZone:
            continue
        key = getattr(zone, "key", None)
        if isinstance(key, str):
            return key
    return None


def _mark_primary(calendars: list[RemoteCalendar]) -> list[RemoteCalendar]:
    """One calendar is primary: the first with a default's name, else the first listed.

    CalDAV has no "primary calendar" (RFC 6638's schedule-default-calendar-URL is rare and
    needs another round trip), but servers name the default calendar predictably.
    """
    if not calendars:
        return calendars
    names = [_last_segment(c.id).lower() for c in calendars]
    chosen = next((i for i, name in enumerate(names) if name in _DEFAULT_NAMES), 0)
    return [replace(c, is_primary=(i == chosen)) for i, c in enumerate(calendars)]


# --- objects -----------------------------------------------------------------------------


def _split(events: Sequence[Event]) -> tuple[Event, Sequence[Event]]:
    if not events:
        raise ValueError("an item holds at least one event")
    return events[0], events[1:]


def _object_name(uid: str) -> str:
    """The object's file name: the UID when it is a safe one, its SHA-1 otherwise."""
    if _PLAIN_NAME.fullmatch(uid):
        return uid
    return hashlib.sha1(uid.encode("utf-8"), usedforsecurity=False).hexdigest()
