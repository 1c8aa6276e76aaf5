"""The Google Calendar adapter: :class:`GoogleCalendarProvider` and :func:`open_google`.

Requests, tokens, retries and errors are :mod:`._api`'s; event JSON is :mod:`._mapping`'s; the
series an item stands for is :mod:`._series`'s. This module decides which requests to send:

* **list_calendars** — ``users/me/calendarList`` page by page; ``deleted`` entries are skipped;
  only ``owner`` and ``writer`` calendars are writable (``freeBusyReader`` ones are read-only).
* **changes** — without a cursor, ``events.list`` with ``singleEvents=false``,
  ``showDeleted=false`` and ``maxResults=2500`` page by page until ``nextSyncToken``, the next
  cursor (Google still lists cancelled instances of series: they become EXDATEs). With a
  cursor, ``syncToken`` and ``pageToken`` only (the parameters Google forbids with a sync token
  are never sent). A cancelled master or single event is deleted; any other change to a series
  — its master, or one of its instances changed or cancelled — is answered with the *whole*
  series, read with ``events.list?iCalUID=…&showDeleted=true&singleEvents=false`` (a plain
  listing, outside the sync). A 410 is ``SyncCursorExpired``.
* **get** — ``events.get`` of the master, and for a series the iCalUID listing for its instances.
* **create** — insert the master with its ``iCalUID`` (never a client-chosen id) and
  ``conferenceDataVersion=1``; cancelled overrides go in as EXDATEs of the master; every other
  override is a ``PUT`` of the instance ``{masterId}_{stamp}`` (:func:`._mapping.instance_id`,
  the id Google gives instances). A 409 is ``PreconditionFailed``. The :class:`WrittenItem`
  carries the item as Google stored it (its organizer, its Meet link), read from the answers —
  or, when instances were written, from one iCalUID listing, which the series etag needs anyway.
* **update** — read the series; a given etag that is not the item's etag is
  ``PreconditionFailed``; ``PUT`` the master with ``If-Match: <master etag>`` and
  ``conferenceDataVersion=1``. The body starts from the stored event, so fields calmesh does not
  model (colour, attachments, guest permissions, other applications' private properties) are
  kept. The conference is kept unless the new event removed it or names another link; a Meet
  asked for (no link yet) is created only when the event has no Meet already — an update from a
  mirror that has not seen the link yet must not replace the link attendees were sent. Then the
  overrides: a changed or new one is a ``PUT`` of its instance; a cancelled one an EXDATE on the
  master (and a ``DELETE`` of an instance Google holds as changed); an instance no longer
  overridden is **reset** with a ``PUT`` of the series' own fields at its original time —
  Google has no "revert instance" call, and an instance identical to its series is not an
  override when read back (:mod:`._series`). Google refuses a ``sequence`` lower than the one it
  holds, so the higher of the two is sent.
* **delete** — ``DELETE`` the master; with an etag, the series is read first and the etag
  compared (a series' etag covers its instances), then ``If-Match: <master etag>`` is sent.
  404 and 410 mean it is gone already.
* **Meet** — creation is asynchronous: while the answer's ``createRequest`` is ``pending``, the
  event is read again after 0.5 s, 1 s, 2 s… up to :attr:`MeetPolling.total_seconds`. If Google
  reports ``failure`` or the time runs out, the event (and its overrides) is still written, just
  without a link, and :class:`MeetLinkFailed` (a ``PartiallyWritten``) is raised *afterwards*,
  carrying the :class:`WrittenItem` so the caller still learns the item's id.
* **Push** — ``events.watch`` / ``channels.stop`` (:class:`~calmesh.providers.base.PushChannels`).
* **revoke** — the refresh token (else the access token) is revoked at ``oauth.revoke_url``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import httpx

from calmesh.auth.oauth import OAuthApp, TokenKeeper, revoke_token
from calmesh.domain.events import ConferenceData, Event, EventStatus, EventTime, Recurrence, RecurrenceId
from calmesh.errors import ConfigurationError, PartiallyWritten, PreconditionFailed, ProviderProtocolError, SyncCursorExpired
from calmesh.ical._times import align_to_start
from calmesh.providers.base import (
    Capabilities,
    ChangeSet,
    ItemProblem,
    ProviderConfig,
    PushChannel,
    RemoteCalendar,
    RemoteItem,
    WrittenItem,
)
from calmesh.providers.google._api import GoogleApi, RetryPolicy
from calmesh.providers.google._mapping import (
    MEET,
    JsonObject,
    conference_from_google,
    create_status,
    event_from_google,
    event_to_google,
    instance_id,
    is_managed_property,
    meet_conference_data,
    meet_create_request,
    time_from_google,
    wants_new_meet,
)
from calmesh.providers.google._series import group, is_cancelled, item_etag, orphan_problem, read_series
from calmesh.providers.http import ClientOwner, operator_client

__all__ = ["GoogleCalendarProvider", "MeetLinkFailed", "MeetPolling", "open_google"]

#: events.list's largest page (protocols.md §1.3).
_PAGE_SIZE = 2500
#: calendarList.list's largest page.
_CALENDAR_PAGE_SIZE = 250
#: A listing that keeps handing out page tokens this long is not going to end.
_MAX_PAGES = 10_000
_WRITABLE_ROLES = frozenset({"owner", "writer"})
#: Fields of a stored event that are Google's to set: never sent back on a full update.
_READ_ONLY = frozenset({"kind", "etag", "htmlLink", "created", "updated", "creator", "hangoutLink", "conferenceData"})
#: Fields :func:`._mapping.event_to_google` owns: on a full update, ours replace the stored ones
#: and the ones we leave out are removed.
_MANAGED = frozenset(
    {
        "summary", "description", "location", "status", "transparency", "visibility", "start", "end",
        "recurrence", "originalStartTime", "attendees", "reminders", "sequence", "extendedProperties",
    }
)  # fmt: skip
_CONFERENCE_VERSION = {"conferenceDataVersion": 1}


@dataclass(frozen=True, slots=True)
class MeetPolling:
    """How long to wait for Google to create a Meet link (first wait, doubled each time)."""

    first_seconds: float = 0.5
    total_seconds: float = 15.0


class MeetLinkFailed(PartiallyWritten):
    """Google could not create the Meet link; the event was saved without one."""


@dataclass(frozen=True, slots=True)
class _Series:
    """A series as Google stores it: the master (or single event) and its exceptions."""

    master: JsonObject
    exceptions: tuple[JsonObject, ...]

    @property
    def etag(self) -> str | None:
        return item_etag(self.master, self.exceptions)


class GoogleCalendarProvider(ClientOwner):
    """One Google account. Build it with :func:`open_google`; ``aclose`` it when done.

    Calendar ids are Google's (the primary calendar's id is the account's email address); item
    ids are the masters' event ids.
    """

    capabilities = Capabilities(incremental=True, push=True, write=True, free_busy=False)

    def __init__(
        self,
        client: httpx.AsyncClient,
        app: OAuthApp,
        tokens: TokenKeeper,
        *,
        retry: RetryPolicy = RetryPolicy(),
        meet: MeetPolling = MeetPolling(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._app = app
        self._tokens = tokens
        self._api = GoogleApi(client, tokens, retry, sleep=sleep)
        self._meet = meet
        self._sleep = sleep
        #: Calendar id -> its time zone, as Google last said (floating times are written in it).
        self._zones: dict[str, str] = {}

    # --- calendars -----------------------------------------------------------------------

    async def list_calendars(self) -> list[RemoteCalendar]:
        calendars: list[RemoteCalendar] = []
        page_token: str | None = None
        for _ in range(_MAX_PAGES):
            params: dict[str, str | int] = {"maxResults": _CALENDAR_PAGE_SIZE}
            if page_token:
                params["pageToken"] = page_token
            data = (await self._api.call("GET", "users/me/calendarList", params=params)).data
            for entry in _items(data, "calendarList"):
                calendar = self._calendar(entry)
                if calendar is not None:
                    calendars.append(calendar)
            page_token = _page_token(data)
            if page_token is None:
                return calendars
        raise ProviderProtocolError("Google calendarList: the listing never ends")

    def _calendar(self, entry: JsonObject) -> RemoteCalendar | None:
        calendar_id = entry.get("id")
        if not isinstance(calendar_id, str) or not calendar_id or entry.get("deleted") is True:
            return None
        zone = _string(entry.get("timeZone"))
        if zone:
            self._zones[calendar_id] = zone
        return RemoteCalendar(
            id=calendar_id,
            name=_string(entry.get("summaryOverride")) or _string(entry.get("summary")) or calendar_id,
            color=_string(entry.get("backgroundColor")),
            read_only=entry.get("accessRole") not in _WRITABLE_ROLES,
            is_primary=entry.get("primary") is True,
            time_zone=zone,
            description=_string(entry.get("description")),
        )

    async def account_email(self) -> str | None:
        """The account's email address: the id of its primary calendar (Google's convention)."""
        return next((c.id for c in await self.list_calendars() if c.is_primary), None)

    # --- reading -------------------------------------------------------------------------

    async def changes(
        self, calendar_id: str, cursor: str | None, known_etags: Mapping[str, str | None] = {}
    ) -> ChangeSet:
        # Google keeps sync tokens: known_etags is not needed to find what changed.
        if cursor is None:
            return await self._full(calendar_id)
        return await self._since(calendar_id, cursor)

    async def _full(self, calendar_id: str) -> ChangeSet:
        params: dict[str, str | int] = {"maxResults": _PAGE_SIZE, "singleEvents": "false", "showDeleted": "false"}
        events, sync_token = await self._listing(calendar_id, params)
        if sync_token is None:
            raise ProviderProtocolError(f"Google events.list {calendar_id}: the last page has no nextSyncToken")
        zone = self._zones.get(calendar_id)
        grouped = group(events)
        items: list[RemoteItem] = []
        problems: list[ItemProblem] = []
        for master_id, master in grouped.masters.items():
            if is_cancelled(master):
                continue  # Not asked for (showDeleted=false); a full listing omits what is gone.
            _collect(read_series(master, grouped.exceptions.get(master_id, ()), zone), items, problems)
        for master_id, exceptions in grouped.exceptions.items():
            if master_id not in grouped.masters and not all(is_cancelled(e) for e in exceptions):
                problems.append(orphan_problem(master_id))
        return ChangeSet(items=tuple(items), cursor=sync_token, full=True, problems=tuple(problems))

    async def _since(self, calendar_id: str, cursor: str) -> ChangeSet:
        params: dict[str, str | int] = {"syncToken": cursor, "maxResults": _PAGE_SIZE, "singleEvents": "false"}
        events, sync_token = await self._listing(calendar_id, params, syncing=True)
        if sync_token is None:
            raise ProviderProtocolError(f"Google events.list {calendar_id}: the last page has no nextSyncToken")
        zone = self._zones.get(calendar_id)
        grouped = group(events)
        items: dict[str, RemoteItem] = {}
        problems: list[ItemProblem] = []
        deleted: set[str] = set()
        whole_series: dict[str, str | None] = {}  # master id -> iCalUID (None: not known yet)
        for master_id, master in grouped.masters.items():
            if is_cancelled(master):
                # The series or single event was deleted (a tombstone may carry only its id).
                deleted.add(master_id)
            elif master.get("recurrence"):
                # A changed master: its exceptions did not change, but the item needs them.
                whole_series[master_id] = _string(master.get("iCalUID"))
            else:
                found = read_series(master, (), zone)
                if isinstance(found, RemoteItem):
                    items[master_id] = found
                else:
                    problems.append(found)
        for master_id, exceptions in grouped.exceptions.items():
            if master_id in deleted or master_id in whole_series:
                continue
            # An instance changed or was cancelled: the whole series is the item that changed.
            whole_series[master_id] = next((u for e in exceptions if (u := _string(e.get("iCalUID")))), None)
        for master_id, uid in whole_series.items():
            series = await self._series(calendar_id, master_id, uid)
            if series is None:
                live = [e for e in grouped.exceptions.get(master_id, ()) if not is_cancelled(e)]
                if master_id not in grouped.masters and live and len(live) == len(grouped.exceptions[master_id]):
                    # Changed instances of a series this calendar does not hold, as in a full listing.
                    problems.append(orphan_problem(master_id))
                else:
                    deleted.add(master_id)  # Deleted since: its instances went with it.
                continue
            found = read_series(series.master, series.exceptions, zone)
            if isinstance(found, RemoteItem):
                items[master_id] = found
            else:
                problems.append(found)
        for master_id in deleted:
            items.pop(master_id, None)
        return ChangeSet(
            items=tuple(items.values()),
            deleted=tuple(sorted(deleted)),
            cursor=sync_token,
            full=False,
            problems=tuple(problems),
        )

    async def get(self, calendar_id: str, item_id: str) -> RemoteItem | None:
        series = await self._series(calendar_id, item_id, None)
        if series is None:
            return None
        found = read_series(series.master, series.exceptions, self._zones.get(calendar_id))
        if isinstance(found, ItemProblem):
            raise ProviderProtocolError(found.message)
        return found

    async def _series(self, calendar_id: str, master_id: str, uid: str | None) -> _Series | None:
        """The series ``master_id`` heads, or None when it is gone (missing or cancelled).

        With its iCalUID known, one listing of everything with that UID gives the master and its
        exceptions; otherwise the master is read first (a single event needs nothing more).
        """
        master: JsonObject | None = None
        if uid is None:
            master = await self._event(calendar_id, master_id)
            if master is None or is_cancelled(master) or _string(master.get("recurringEventId")):
                return None
            uid = _string(master.get("iCalUID"))
            if not master.get("recurrence") or uid is None:
                return _Series(master, ())
        params: dict[str, str | int] = {
            "iCalUID": uid, "showDeleted": "true", "singleEvents": "false", "maxResults": _PAGE_SIZE
        }
        events, _ = await self._listing(calendar_id, params)
        listed = next((e for e in events if e.get("id") == master_id and not e.get("recurringEventId")), None)
        if listed is None:
            if master is None:
                # The UID we were told is not the series' (it changed?): read the master itself.
                return await self._series(calendar_id, master_id, None)
            listed = master
        if is_cancelled(listed):
            return None
        return _Series(listed, tuple(e for e in events if e.get("recurringEventId") == master_id))

    async def _event(self, calendar_id: str, event_id: str) -> JsonObject | None:
        answer = await self._api.call("GET", _event_path(calendar_id, event_id), allow=(404, 410))
        return answer.data if answer.status == 200 else None

    async def _listing(
        self, calendar_id: str, params: Mapping[str, str | int], *, syncing: bool = False
    ) -> tuple[list[JsonObject], str | None]:
        """Every event of an events.list, page by page, and the final nextSyncToken."""
        events: list[JsonObject] = []
        page_token: str | None = None
        for _ in range(_MAX_PAGES):
            query = dict(params)
            if page_token:
                query["pageToken"] = page_token
            answer = await self._api.call("GET", _events_path(calendar_id), params=query, allow=(410,) if syncing else ())
            if answer.status == 410:
                raise SyncCursorExpired(
                    f"Google events.list {calendar_id}: the sync token is no longer valid"
                    f" (HTTP 410 {answer.reason or ''}); a full resync is needed".replace(" )", ")")
                )
            data = answer.data
            zone = _string(data.get("timeZone"))
            if zone:
                self._zones[calendar_id] = zone
            events.extend(_items(data, "events.list"))
            page_token = _page_token(data)
            if page_token is None:
                return events, _string(data.get("nextSyncToken"))
        raise ProviderProtocolError(f"Google events.list {calendar_id}: the listing never ends")

    # --- writing -------------------------------------------------------------------------

    async def create(self, calendar_id: str, events: Sequence[Event]) -> WrittenItem:
        master, overrides = _split(events)
        zone = await self._zone_for(calendar_id, events)
        master, live = _fold_cancelled(master, overrides)
        body = event_to_google(master, calendar_zone=zone)
        body["iCalUID"] = master.uid
        conference = _new_conference(master.conference)
        if conference is not None:
            body["conferenceData"] = conference
        answer = await self._api.call("POST", _events_path(calendar_id), params=_CONFERENCE_VERSION, body=body)
        created, meet_failure = await self._await_meet(calendar_id, answer.data)
        master_id = _string(created.get("id"))
        if master_id is None:
            raise ProviderProtocolError(f"Google events.insert {calendar_id}: the answer has no event id")
        for override in live:
            await self._write_instance(calendar_id, master_id, master, created, override, None, zone)
        stored = await self._series(calendar_id, master_id, master.uid) if live else _Series(created, ())
        return _written(_written_item(master_id, stored, zone), meet_failure)

    async def update(
        self, calendar_id: str, item_id: str, events: Sequence[Event], etag: str | None
    ) -> WrittenItem:
        master, overrides = _split(events)
        current = await self._series(calendar_id, item_id, master.uid)
        if current is None:
            raise PreconditionFailed(f"Google event {item_id} no longer exists in {calendar_id}")
        if etag is not None and etag != current.etag:
            raise PreconditionFailed(f"Google event {item_id} changed at Google since calmesh read it")
        zone = await self._zone_for(calendar_id, events)
        master, live = _fold_cancelled(master, overrides)
        body = _merged(current.master, event_to_google(master, calendar_zone=zone))
        stored_sequence = current.master.get("sequence")
        if isinstance(stored_sequence, int) and stored_sequence > master.sequence:
            body["sequence"] = stored_sequence  # Google refuses a lower sequence (HTTP 400).
        conference = _updated_conference(master.conference, current.master)
        if conference is not None:
            body["conferenceData"] = conference
        headers = {"If-Match": etag_value} if (etag_value := _string(current.master.get("etag"))) else None
        answer = await self._api.call(
            "PUT", _event_path(calendar_id, item_id), params=_CONFERENCE_VERSION, body=body, headers=headers
        )
        updated, meet_failure = await self._await_meet(calendar_id, answer.data)
        written_any = await self._write_overrides(calendar_id, item_id, master, updated, live, current.exceptions, zone)
        if written_any or current.exceptions:
            # The series etag covers the exceptions: read them as they are now.
            stored = await self._series(calendar_id, item_id, master.uid)
        else:
            stored = _Series(updated, ())
        return _written(_written_item(item_id, stored, zone), meet_failure)

    async def _write_overrides(
        self,
        calendar_id: str,
        master_id: str,
        master: Event,
        stored_master: JsonObject,
        live: Sequence[Event],
        stored: Sequence[JsonObject],
        zone: str | None,
    ) -> bool:
        """Make the stored exceptions say what ``live`` (and the master's EXDATEs) say."""
        by_id = {e["id"]: e for e in stored if isinstance(e.get("id"), str)}
        wanted: dict[str, Event] = {}
        for override in live:
            assert override.recurrence_id is not None
            wanted[instance_id(master_id, override.recurrence_id.value, master.start, zone)] = override
        excluded = {
            instance_id(master_id, moment, master.start, zone)
            for moment in (master.recurrence.exdates if master.recurrence else ())
        }
        wrote = False
        for iid, override in wanted.items():
            existing = by_id.get(iid)
            if existing is not None and _unchanged(override, existing, zone):
                continue
            await self._write_instance(calendar_id, master_id, master, stored_master, override, existing, zone)
            wrote = True
        for iid, existing in by_id.items():
            if iid in wanted:
                continue
            if iid in excluded:
                if not is_cancelled(existing):
                    # The master's EXDATE covers it, but Google keeps the changed instance: cancel it.
                    await self._api.call("DELETE", _event_path(calendar_id, iid), allow=(404, 410))
                    wrote = True
                continue
            # No longer overridden (or no longer cancelled): back to what the series says.
            await self._reset_instance(calendar_id, master_id, master, stored_master, existing, zone)
            wrote = True
        return wrote

    async def _write_instance(
        self,
        calendar_id: str,
        master_id: str,
        master: Event,
        stored_master: JsonObject,
        override: Event,
        existing: JsonObject | None,
        zone: str | None,
    ) -> None:
        assert override.recurrence_id is not None
        iid = instance_id(master_id, override.recurrence_id.value, master.start, zone)
        body = event_to_google(override, calendar_zone=zone)
        if existing is not None:
            body = _merged(existing, body)
        conference = _instance_conference(override.conference, stored_master)
        if conference is not None:
            body["conferenceData"] = conference
        await self._api.call("PUT", _event_path(calendar_id, iid), params=_CONFERENCE_VERSION, body=body)

    async def _reset_instance(
        self,
        calendar_id: str,
        master_id: str,
        master: Event,
        stored_master: JsonObject,
        existing: JsonObject,
        zone: str | None,
    ) -> None:
        original = align_to_start(time_from_google(existing.get("originalStartTime"), "originalStartTime"), master.start)
        instance = replace(
            master,
            start=original,
            end=_shifted_end(master, original),
            recurrence=None,
            recurrence_id=RecurrenceId(original),
            status=EventStatus.CONFIRMED,
        )
        await self._write_instance(calendar_id, master_id, master, stored_master, instance, existing, zone)

    async def delete(self, calendar_id: str, item_id: str, etag: str | None) -> None:
        headers: dict[str, str] | None = None
        if etag is not None:
            current = await self._series(calendar_id, item_id, None)
            if current is None:
                return  # Already gone: the outcome the caller wanted.
            if current.etag != etag:
                raise PreconditionFailed(f"Google event {item_id} changed at Google since calmesh read it")
            master_etag = _string(current.master.get("etag"))
            headers = {"If-Match": master_etag} if master_etag else None
        await self._api.call("DELETE", _event_path(calendar_id, item_id), headers=headers, allow=(404, 410))

    async def _zone_for(self, calendar_id: str, events: Sequence[Event]) -> str | None:
        """The calendar's zone when a floating time must be written in it (asked once)."""
        if calendar_id not in self._zones and any(_has_floating(e) for e in events):
            # Every events.list answer names the calendar's zone; a one-event page is the cheapest.
            data = (await self._api.call("GET", _events_path(calendar_id), params={"maxResults": 1})).data
            zone = _string(data.get("timeZone"))
            if zone:
                self._zones[calendar_id] = zone
        return self._zones.get(calendar_id)

    async def _await_meet(self, calendar_id: str, event: JsonObject) -> tuple[JsonObject, str | None]:
        """``event`` once its Meet link exists, and why there is none if creating it failed."""
        status = create_status(event)
        if status == "failure":
            return event, "Google could not create the Meet link; the event was saved without one"
        if status != "pending" or not isinstance(event.get("id"), str):
            return event, None
        waited, delay = 0.0, self._meet.first_seconds
        while waited < self._meet.total_seconds:
            pause = min(delay, self._meet.total_seconds - waited)
            await self._sleep(pause)
            waited, delay = waited + pause, delay * 2
            current = await self._event(calendar_id, event["id"])
            if current is None:
                return event, None  # Deleted meanwhile: nothing left to wait for.
            event = current
            status = create_status(event)
            if status == "failure":
                return event, "Google could not create the Meet link; the event was saved without one"
            if status != "pending":
                return event, None
        return event, (
            f"Google could not create the Meet link within {self._meet.total_seconds:g} s;"
            " the event was saved without one"
        )

    # --- push ----------------------------------------------------------------------------

    async def watch(self, calendar_id: str, channel_id: str, address: str, token: str, ttl_seconds: int) -> PushChannel:
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": token, "params": {"ttl": str(ttl_seconds)}}
        data = (await self._api.call("POST", f"{_events_path(calendar_id)}/watch", body=body)).data
        resource_id = _string(data.get("resourceId"))
        if resource_id is None:
            raise ProviderProtocolError(f"Google events.watch {calendar_id}: the answer has no resourceId")
        return PushChannel(id=_string(data.get("id")) or channel_id, resource_id=resource_id, expires_at=_expiration(data.get("expiration"), ttl_seconds))

    async def stop_watching(self, channel_id: str, resource_id: str) -> None:
        await self._api.call("POST", "channels/stop", body={"id": channel_id, "resourceId": resource_id}, allow=(404,))

    async def revoke(self) -> bool:
        tokens = await self._tokens.current()
        token = tokens.refresh_token or tokens.access_token
        if not token:
            return False
        return await revoke_token(self._app, token, http=self._client)


def open_google(
    config: ProviderConfig,
    *,
    retry: RetryPolicy | None = None,
    meet: MeetPolling = MeetPolling(),
) -> GoogleCalendarProvider:
    """A :class:`GoogleCalendarProvider` for ``config`` (``oauth`` and ``tokens`` are required).

    The API base URL is the operator's configuration (``oauth.api_base_url``), not a user's
    input: :func:`~calmesh.providers.http.operator_client`.
    """
    if config.oauth is None or config.tokens is None:
        raise ConfigurationError("a Google connection needs the operator's OAuth app and the connection's tokens")
    client = operator_client(base_url=config.oauth.api_base_url, timeout_seconds=config.timeout_seconds)
    retry = retry or RetryPolicy(base_seconds=config.retry_base_seconds)
    return GoogleCalendarProvider(client, config.oauth, config.tokens, retry=retry, meet=meet)


# --- helpers ---------------------------------------------------------------------------------


def _events_path(calendar_id: str) -> str:
    return f"calendars/{quote(calendar_id, safe='')}/events"


def _event_path(calendar_id: str, event_id: str) -> str:
    return f"{_events_path(calendar_id)}/{quote(event_id, safe='')}"


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _items(data: JsonObject, what: str) -> list[JsonObject]:
    items = data.get("items", [])
    if not isinstance(items, list):
        raise ProviderProtocolError(f"Google {what}: items is not a list")
    return [item for item in items if isinstance(item, dict)]


def _page_token(data: JsonObject) -> str | None:
    return _string(data.get("nextPageToken"))


def _collect(found: RemoteItem | ItemProblem, items: list[RemoteItem], problems: list[ItemProblem]) -> None:
    if isinstance(found, RemoteItem):
        items.append(found)
    else:
        problems.append(found)


def _split(events: Sequence[Event]) -> tuple[Event, list[Event]]:
    if not events:
        raise ValueError("an item holds at least one event")
    master, overrides = events[0], list(events[1:])
    strangers = [o for o in overrides if o.recurrence_id is None]
    if strangers:
        raise ValueError("every event after the master must be an override (it needs a recurrence_id)")
    return master, overrides


def _fold_cancelled(master: Event, overrides: Sequence[Event]) -> tuple[Event, list[Event]]:
    """The master with every cancelled override as an EXDATE, and the overrides left."""
    cancelled = [o.recurrence_id.value for o in overrides if o.status is EventStatus.CANCELLED and o.recurrence_id]
    live = [o for o in overrides if o.status is not EventStatus.CANCELLED]
    if not cancelled:
        return master, live
    recurrence = master.recurrence or Recurrence()
    exdates = recurrence.exdates + tuple(align_to_start(m, master.start) for m in cancelled)
    return replace(master, recurrence=replace(recurrence, exdates=exdates)), live


def _has_floating(event: Event) -> bool:
    return event.start.floating or event.end.floating or (event.recurrence_id is not None and event.recurrence_id.value.floating)


def _shifted_end(master: Event, start: EventTime) -> EventTime:
    """The end of the instance of ``master`` starting at ``start`` (same length)."""
    value = start.value
    if not isinstance(value, datetime):
        assert not isinstance(master.start.value, datetime) and not isinstance(master.end.value, datetime)
        return EventTime(value + (master.end.value - master.start.value), start.tzid)
    length = master.duration()
    if value.tzinfo is None:
        return EventTime(value + length, start.tzid)
    return EventTime((value.astimezone(timezone.utc) + length).astimezone(value.tzinfo), start.tzid)


def _merged(stored: JsonObject, ours: JsonObject) -> JsonObject:
    """A full-update body: the stored event's other fields, and ours for the ones we manage."""
    body = {k: v for k, v in stored.items() if k not in _READ_ONLY and k not in _MANAGED}
    if "organizer" in stored and "organizer" not in ours:
        body["organizer"] = stored["organizer"]
    body.update({k: v for k, v in ours.items() if k != "extendedProperties"})
    found = stored.get("extendedProperties")
    properties: JsonObject = found if isinstance(found, dict) else {}
    stored_private = properties.get("private")
    private = {
        k: v for k, v in (stored_private if isinstance(stored_private, dict) else {}).items() if not is_managed_property(k)
    }
    private.update((ours.get("extendedProperties") or {}).get("private") or {})
    merged = {k: v for k, v in properties.items() if k != "private"}
    if private:
        merged["private"] = private
    if merged:
        body["extendedProperties"] = merged
    return body


def _new_conference(conference: ConferenceData | None) -> JsonObject | None:
    if wants_new_meet(conference):
        return meet_create_request()
    return meet_conference_data(conference) if conference is not None else None


def _updated_conference(wanted: ConferenceData | None, stored: JsonObject) -> JsonObject | None:
    """The ``conferenceData`` of a full update (None: the event has none)."""
    if wanted is None:
        return None
    data = stored.get("conferenceData")
    have = conference_from_google(stored)
    if wants_new_meet(wanted):
        # Asked for a Meet: one that exists already answers it (see the module docstring).
        if have is not None and have.service == MEET and have.join_url and isinstance(data, dict):
            return data
        return meet_create_request()
    if have is not None and have.join_url == wanted.join_url and isinstance(data, dict):
        return data
    return meet_conference_data(wanted)


def _instance_conference(wanted: ConferenceData | None, stored_master: JsonObject) -> JsonObject | None:
    """An override's ``conferenceData``: the series' own conference when it asks for the same
    one (or for a Meet while the series has one), another Meet when it names one, else none."""
    if wanted is None:
        return None
    series = conference_from_google(stored_master)
    data = stored_master.get("conferenceData")
    if series is not None and series.join_url and isinstance(data, dict):
        if wanted.join_url == series.join_url or (wants_new_meet(wanted) and series.service == MEET):
            return {k: v for k, v in data.items() if k != "createRequest"}
    if wants_new_meet(wanted):
        return None  # A Meet per instance is not something calmesh asks for.
    return meet_conference_data(wanted)


def _unchanged(override: Event, stored: JsonObject, zone: str | None) -> bool:
    """Whether the stored exception already says what ``override`` says."""
    if is_cancelled(stored):
        return False
    try:
        current = event_from_google(stored, calendar_zone=zone)
    except ValueError:
        return False
    current = replace(current, uid=override.uid, recurrence=None, recurrence_id=override.recurrence_id)
    if event_to_google(current, calendar_zone=zone) != event_to_google(override, calendar_zone=zone):
        return False
    have = current.conference.join_url if current.conference else None
    want = override.conference.join_url if override.conference else None
    return have == want or (wants_new_meet(override.conference) and have is not None)


def _expiration(value: object, ttl_seconds: int) -> datetime:
    """A channel's ``expiration`` (Unix milliseconds, as a string) as an aware datetime."""
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(timezone.utc) + timedelta(seconds=ttl_seconds)


def _written_item(item_id: str, stored: _Series | None, zone: str | None) -> WrittenItem:
    """The item as Google now holds it (its events too, when they can be read)."""
    if stored is None:
        return WrittenItem(item_id, None)  # Deleted by someone else right after our write.
    found = read_series(stored.master, stored.exceptions, zone)
    return WrittenItem(item_id, stored.etag, found.events if isinstance(found, RemoteItem) else None)


def _written(written: WrittenItem, meet_failure: str | None) -> WrittenItem:
    if meet_failure is not None:
        raise MeetLinkFailed(meet_failure, written=written)
    return written
