"""The Calendar API v3 endpoints under ``/calendar/v3/`` (protocols.md §1.2-§1.7).

Served here: ``users/me/calendarList`` (GET), ``calendars/{cid}/events`` (GET list, POST insert),
``calendars/{cid}/events/{eid}`` (GET, PATCH, PUT, DELETE), ``…/events/{eid}/instances`` (GET),
``calendars/{cid}/events/watch`` (POST), ``channels/stop`` (POST), ``freeBusy`` (POST). Any other
path or method is 404 ``notFound``.

Access, as at Google:

* every request needs ``Authorization: Bearer <access token>``; otherwise 401 ``authError``
  with ``WWW-Authenticate: Bearer``;
* a token reaches only the calendars on its user's calendar list (others: 404 ``notFound``);
  ``primary`` is the user's primary calendar;
* each method needs one of its discovery-document scopes (else 403 ``insufficientPermissions``),
  and writes need the writer or owner role (else 403 ``requiredAccessLevel``); a
  freeBusyReader sees only times.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from calmesh.sandbox._common import Call, Handler, Wrapper, zone
from calmesh.sandbox.google.errors import GoogleApiError
from calmesh.sandbox.google.listing import EventQuery, busy_periods, collect, instances, present
from calmesh.sandbox.google.oauth import CALENDAR_SCOPE, OAuthAuthority, Principal
from calmesh.sandbox.google.push import Channel, PushHub
from calmesh.sandbox.google.state import ROLES, Calendar, Cursor, SandboxState
from calmesh.sandbox.google.times import UTC, format_in_zone, parse_instant, stamp

__all__ = ["CalendarApi", "METHODS"]

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

_S = CALENDAR_SCOPE
#: Scopes each group of methods accepts (from the discovery document).
READ_EVENTS = frozenset(
    {_S, *(f"{_S}.{s}" for s in ("app.created", "events", "events.freebusy", "events.owned", "events.owned.readonly", "events.public.readonly", "events.readonly", "readonly"))}
)
WRITE_EVENTS = frozenset({_S, f"{_S}.app.created", f"{_S}.events", f"{_S}.events.owned"})
READ_LIST = frozenset({_S, f"{_S}.calendarlist", f"{_S}.calendarlist.readonly", f"{_S}.readonly"})
FREE_BUSY = frozenset({_S, f"{_S}.events.freebusy", f"{_S}.freebusy", f"{_S}.readonly"})
CHANNELS = READ_EVENTS | READ_LIST | frozenset(f"{_S}.{s}" for s in ("acls", "acls.readonly", "calendarlist", "settings", "settings.readonly"))

#: Query parameters events.list refuses together with syncToken.
_NOT_WITH_SYNC = ("iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin")
_EVENT_TYPES = ("birthday", "default", "focusTime", "fromGmail", "outOfOffice", "workingLocation")
#: Channel lifetime when the watch request gives no ``params.ttl`` (protocols.md §1.6): 7 days.
DEFAULT_TTL_SECONDS = 604800

_FULL_SYNC = GoogleApiError(
    410,
    "fullSyncRequired",
    "Sync token is no longer valid, a full sync is required.",
    domain="calendar",
    location_type="parameter",
    location="syncToken",
)


class CalendarApi:
    """The Calendar API's handlers over one sandbox's state, OAuth tokens and push channels."""

    def __init__(self, state: SandboxState, oauth: OAuthAuthority, push: PushHub, now_ms: Callable[[], int]) -> None:
        self.state = state
        self.oauth = oauth
        self.push = push
        self._now_ms = now_ms

    def routes(self, wrap: Wrapper) -> list[Route]:
        def route(path: str, handler: Handler) -> Route:
            return Route("/calendar/v3" + path, wrap(handler, "api"), methods=METHODS)

        return [
            route("/users/me/calendarList", self._calendar_list),
            route("/calendars/{calendarId}/events", self._events),
            route("/calendars/{calendarId}/events/watch", self._watch),
            route("/calendars/{calendarId}/events/{eventId}", self._event),
            route("/calendars/{calendarId}/events/{eventId}/instances", self._instances),
            route("/channels/stop", self._stop),
            route("/freeBusy", self._free_busy),
        ]

    # --- access --------------------------------------------------------------------------

    def _principal(self, call: Call, scopes: frozenset[str]) -> Principal:
        header = call.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        principal = self.oauth.principal(token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise GoogleApiError(
                401,
                "authError",
                "Invalid Credentials",
                location_type="header",
                location="Authorization",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.scopes & scopes:
            raise GoogleApiError(
                403,
                "insufficientPermissions",
                "Insufficient Permission",
                top_message="Request had insufficient authentication scopes.",
            )
        return principal

    def _calendar(self, principal: Principal, calendar_id: str, *, write: bool = False) -> tuple[Calendar, str]:
        with self.state.lock:
            if calendar_id == "primary":
                calendar_id = self.state.user(principal.email).calendar_id
            calendar = self.state.calendars.get(calendar_id)
            role = calendar.role_of(principal.email) if calendar is not None else None
            if calendar is None or role is None:
                raise GoogleApiError(404, "notFound", "Not Found")
            if write and role not in ("writer", "owner"):
                raise GoogleApiError(403, "requiredAccessLevel", "You need to have writer access to this calendar.", domain="calendar")
            return calendar, role

    # --- calendarList --------------------------------------------------------------------

    async def _calendar_list(self, call: Call) -> Response:
        if call.method != "GET":
            raise _not_found()
        principal = self._principal(call, READ_LIST)
        sync = call.param("syncToken")
        if sync is not None:
            for name in ("minAccessRole", "showOwnOrganizationOnly"):
                if call.param(name) is not None:
                    raise _not_with_sync(name)
        size = min(_integer(call, "maxResults", 1) or 100, 250)
        minimum = call.param("minAccessRole")
        if minimum is not None and minimum not in ROLES:
            raise _invalid_parameter("minAccessRole", minimum)
        scope = f"calendarList:{principal.email.lower()}"
        with self.state.lock:
            token = call.param("pageToken")
            if token:
                items, next_page, next_sync = self.state.next_page(token, scope, size)
            else:
                since = None
                if sync is not None:
                    since = self.state.read_sync_token(sync, scope, self.state.list_generation)
                    if since is None:
                        raise _FULL_SYNC
                rank = ROLES.index(minimum) if minimum else 0
                entries = [
                    self._list_entry(calendar, role, principal)
                    for calendar, role in self.state.calendars_of(principal.email)
                    if ROLES.index(role) >= rank and (since is None or calendar.list_seq > since)
                ]
                cursor = Cursor(scope, entries, self.state.sync_token(scope, self.state.list_generation, self.state.list_seq))
                items, next_page, next_sync = self.state.first_page(cursor, size)
        body: dict[str, Any] = {"kind": "calendar#calendarList", "etag": f'"p{self.state.list_seq}"'}
        _add_tokens(body, next_page, next_sync)
        body["items"] = items
        return call.reply(body)

    def _list_entry(self, calendar: Calendar, role: str, principal: Principal) -> dict[str, Any]:
        primary = calendar.id.lower() == principal.email.lower()
        color_id, background, foreground = calendar.color
        entry: dict[str, Any] = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{1_600_000_000_000_000 + calendar.list_seq}"',
            "id": calendar.id,
            "summary": calendar.summary,
        }
        if calendar.description:
            entry["description"] = calendar.description
        entry.update(timeZone=calendar.zone_name, colorId=color_id, backgroundColor=background, foregroundColor=foreground)
        entry.update(selected=True, accessRole=role, defaultReminders=_default_reminders(role))
        if primary:
            entry["notificationSettings"] = {
                "notifications": [
                    {"type": kind, "method": "email"} for kind in ("eventCreation", "eventChange", "eventCancellation", "eventResponse")
                ]
            }
            entry["primary"] = True
        elif calendar.owner.lower() != calendar.id.lower():
            entry["dataOwner"] = calendar.owner
        entry["conferenceProperties"] = {"allowedConferenceSolutionTypes": ["hangoutsMeet"]}
        return entry

    # --- events --------------------------------------------------------------------------

    async def _events(self, call: Call) -> Response:
        if call.method == "GET":
            return await self._list(call)
        if call.method == "POST":
            principal = self._principal(call, WRITE_EVENTS)
            calendar, _ = self._calendar(principal, call.request.path_params["calendarId"], write=True)
            resource = self.state.insert_event(calendar, _body(call), version=_conference_version(call))
            return call.reply(present(resource, max_attendees=_integer(call, "maxAttendees", 1)))
        raise _not_found()

    async def _list(self, call: Call) -> Response:
        principal = self._principal(call, READ_EVENTS)
        calendar, role = self._calendar(principal, call.request.path_params["calendarId"])
        sync = call.param("syncToken")
        show_deleted = _boolean(call, "showDeleted")
        if sync is not None:
            for name in _NOT_WITH_SYNC:
                if call.param(name) is not None:
                    raise _not_with_sync(name)
            if show_deleted is False:
                raise _not_with_sync("showDeleted")
        single = bool(_boolean(call, "singleEvents"))
        time_min, time_max = _instant(call, "timeMin"), _instant(call, "timeMax")
        _check_range(time_min, time_max)
        order_by = call.param("orderBy")
        if order_by is not None and order_by not in ("startTime", "updated"):
            raise _invalid_parameter("orderBy", order_by)
        if order_by == "startTime" and not single:
            raise GoogleApiError(400, "badRequest", "The requested ordering is not available for the particular query.")
        event_types = tuple(call.params("eventTypes"))
        for kind in event_types:
            if kind not in _EVENT_TYPES:
                raise _invalid_parameter("eventTypes", kind)
        time_zone = _time_zone(call)
        size = min(_integer(call, "maxResults", 1) or 250, 2500)
        scope = f"events:{calendar.id}"
        with self.state.lock:
            self.state.note_read(calendar)
            token = call.param("pageToken")
            if token:
                items, next_page, next_sync = self.state.next_page(token, f"{scope}:{principal.email.lower()}", size)
            else:
                since = None
                if sync is not None:
                    since = self.state.read_sync_token(sync, scope, calendar.sync_generation)
                    if since is None:
                        raise _FULL_SYNC
                query = EventQuery(
                    single_events=single,
                    show_deleted=bool(show_deleted),
                    time_min=time_min,
                    time_max=time_max,
                    order_by=order_by,
                    q=call.param("q"),
                    ical_uid=call.param("iCalUID"),
                    private=_properties(call, "privateExtendedProperty"),
                    shared=_properties(call, "sharedExtendedProperty"),
                    updated_min=_instant(call, "updatedMin"),
                    event_types=event_types,
                    since=since,
                )
                found = collect(calendar, query, now=self.state.clock(), base_url=self.state.base_url)
                cursor = Cursor(
                    f"{scope}:{principal.email.lower()}",
                    found,
                    self.state.sync_token(scope, calendar.sync_generation, calendar.seq),
                )
                items, next_page, next_sync = self.state.first_page(cursor, size)
            body = self._collection(calendar, role, time_zone, next_page, next_sync)
        body["items"] = self._presented(call, items, role, time_zone)
        return call.reply(body)

    def _collection(
        self, calendar: Calendar, role: str, time_zone: str | None, next_page: str | None, next_sync: str | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "calendar#events", "etag": f'"p{calendar.seq}"', "summary": calendar.summary}
        if calendar.description:
            body["description"] = calendar.description
        body.update(
            updated=stamp(calendar.updated),
            timeZone=time_zone or calendar.zone_name,
            accessRole=role,
            defaultReminders=_default_reminders(role),
        )
        _add_tokens(body, next_page, next_sync)
        return body

    @staticmethod
    def _presented(call: Call, items: list[dict[str, Any]], role: str, time_zone: str | None) -> list[dict[str, Any]]:
        max_attendees = _integer(call, "maxAttendees", 1)
        busy_only = role == "freeBusyReader"
        if max_attendees is None and time_zone is None and not busy_only:
            return items
        return [present(item, max_attendees=max_attendees, time_zone=time_zone, busy_only=busy_only) for item in items]

    async def _event(self, call: Call) -> Response:
        calendar_id = call.request.path_params["calendarId"]
        event_id = call.request.path_params["eventId"]
        if call.method == "GET":
            principal = self._principal(call, READ_EVENTS)
            calendar, role = self._calendar(principal, calendar_id)
            resource = self.state.get_event(calendar, event_id)
            return call.reply(self._presented(call, [resource], role, _time_zone(call))[0])
        if call.method not in ("PATCH", "PUT", "DELETE"):
            raise _not_found()
        principal = self._principal(call, WRITE_EVENTS)
        calendar, _ = self._calendar(principal, calendar_id, write=True)
        if_match = call.header("if-match")
        if call.method == "DELETE":
            self.state.delete_event(calendar, event_id, if_match=if_match)
            return Response(status_code=204)
        how: Literal["patch", "update"] = "patch" if call.method == "PATCH" else "update"
        resource = self.state.rewrite_event(calendar, event_id, _body(call), how, version=_conference_version(call), if_match=if_match)
        return call.reply(present(resource, max_attendees=_integer(call, "maxAttendees", 1)))

    async def _instances(self, call: Call) -> Response:
        if call.method != "GET":
            raise _not_found()
        principal = self._principal(call, READ_EVENTS)
        calendar, role = self._calendar(principal, call.request.path_params["calendarId"])
        event_id = call.request.path_params["eventId"]
        time_min, time_max = _instant(call, "timeMin"), _instant(call, "timeMax")
        _check_range(time_min, time_max)
        time_zone = _time_zone(call)
        size = min(_integer(call, "maxResults", 1) or 250, 2500)
        scope = f"instances:{calendar.id}:{event_id}:{principal.email.lower()}"
        with self.state.lock:
            self.state.note_read(calendar)
            token = call.param("pageToken")
            if token:
                items, next_page, _ = self.state.next_page(token, scope, size)
            else:
                stored, _ = self.state.lookup(calendar, event_id)
                if stored is None:
                    raise GoogleApiError(404, "notFound", "Not Found")
                found = instances(
                    calendar,
                    stored,
                    time_min=time_min,
                    time_max=time_max,
                    show_deleted=bool(_boolean(call, "showDeleted")),
                    original_start=_instant(call, "originalStart"),
                    now=self.state.clock(),
                    base_url=self.state.base_url,
                )
                items, next_page, _ = self.state.first_page(Cursor(scope, found, None), size)
            body = self._collection(calendar, role, time_zone, next_page, None)
        body["items"] = self._presented(call, items, role, time_zone)
        return call.reply(body)

    # --- push ----------------------------------------------------------------------------

    async def _watch(self, call: Call) -> Response:
        if call.method != "POST":
            raise _not_found()
        principal = self._principal(call, READ_EVENTS)
        calendar, _ = self._calendar(principal, call.request.path_params["calendarId"])
        body = _body(call)
        channel_id = body.get("id")
        if not isinstance(channel_id, str) or not channel_id:
            raise GoogleApiError(400, "required", "Required", location_type="parameter", location="id")
        if len(channel_id) > 64:
            raise GoogleApiError(400, "invalid", "Invalid channel id.", location_type="parameter", location="id")
        if body.get("type") not in ("web_hook", "webhook"):
            raise GoogleApiError(400, "invalid", f"Invalid value for: type = {body.get('type')}", location_type="parameter", location="type")
        address = body.get("address")
        if not isinstance(address, str) or not address:
            raise GoogleApiError(400, "required", "Required", location_type="parameter", location="address")
        if not address.startswith(("https://", "http://")):
            raise GoogleApiError(400, "invalid", f"WebHook callback must be HTTPS: {address}", location_type="parameter", location="address")
        token = body.get("token")
        if token is not None and not isinstance(token, str):
            raise GoogleApiError(400, "invalid", "Invalid channel token.", location_type="parameter", location="token")
        params = body.get("params") or {}
        try:
            ttl = int(params.get("ttl", DEFAULT_TTL_SECONDS)) if isinstance(params, dict) else DEFAULT_TTL_SECONDS
            requested = int(body["expiration"]) if body.get("expiration") is not None else None
        except (TypeError, ValueError):
            raise GoogleApiError(400, "invalid", "Invalid channel expiration or ttl.") from None
        if ttl <= 0:
            raise GoogleApiError(400, "invalid", "Invalid ttl.", location_type="parameter", location="params.ttl")
        if self.push.has(channel_id):
            raise GoogleApiError(400, "channelIdNotUnique", f"Channel id {channel_id} not unique")
        now = self._now_ms()
        expiration = now + ttl * 1000
        if requested is not None:
            expiration = min(expiration, requested)
        uri = f"{self.state.base_url}/calendar/v3/calendars/{quote(calendar.id, safe='@')}/events?alt=json"
        channel = Channel(channel_id, calendar.resource_id, calendar.id, address, token, expiration, uri)
        self.push.open(channel)
        # Google sends "sync" once the channel exists, i.e. after this answer.
        call.later(lambda: self.push.announce(channel_id))
        answer: dict[str, Any] = {"kind": "api#channel", "id": channel_id, "resourceId": channel.resource_id, "resourceUri": uri}
        if token is not None:
            answer["token"] = token
        answer["expiration"] = str(expiration)
        return call.reply(answer)

    async def _stop(self, call: Call) -> Response:
        if call.method != "POST":
            raise _not_found()
        self._principal(call, CHANNELS)
        body = _body(call)
        channel_id, resource_id = body.get("id"), body.get("resourceId")
        if not isinstance(channel_id, str) or not self.push.stop(channel_id, resource_id if isinstance(resource_id, str) else None):
            raise GoogleApiError(404, "notFound", f"Channel '{channel_id}' not found for project 'calmesh-sandbox'")
        return Response(status_code=204)

    # --- freeBusy ------------------------------------------------------------------------

    async def _free_busy(self, call: Call) -> Response:
        if call.method != "POST":
            raise _not_found()
        principal = self._principal(call, FREE_BUSY)
        body = _body(call)
        bounds: list[datetime] = []
        for name in ("timeMin", "timeMax"):
            value = body.get(name)
            if not isinstance(value, str):
                raise GoogleApiError(400, "required", "Required", location_type="parameter", location=name)
            parsed = parse_instant(value)
            if parsed is None:
                raise GoogleApiError(400, "invalid", f"Invalid value for: {name}", location_type="parameter", location=name)
            bounds.append(parsed)
        time_min, time_max = bounds
        _check_range(time_min, time_max)
        where = zone(str(body.get("timeZone") or "UTC"))
        if where is None:
            raise GoogleApiError(400, "invalid", "Invalid time zone.", location_type="parameter", location="timeZone")
        expansion = body.get("calendarExpansionMax", 50)
        groups = body.get("groupExpansionMax", 100)
        if not isinstance(expansion, int) or not 1 <= expansion <= 50:
            raise GoogleApiError(400, "invalid", "Invalid value for: calendarExpansionMax", location_type="parameter", location="calendarExpansionMax")
        if not isinstance(groups, int) or not 1 <= groups <= 100:
            raise GoogleApiError(400, "invalid", "Invalid value for: groupExpansionMax", location_type="parameter", location="groupExpansionMax")
        items = body.get("items") or []
        if not isinstance(items, list):
            raise GoogleApiError(400, "invalid", "Invalid value for: items")
        calendars: dict[str, Any] = {}
        for index, item in enumerate(items):
            requested = item.get("id") if isinstance(item, dict) else None
            if not isinstance(requested, str):
                raise GoogleApiError(400, "required", "Required", location_type="parameter", location=f"items[{index}].id")
            if index >= expansion:
                calendars[requested] = {"errors": [{"domain": "usageLimits", "reason": "tooManyCalendarsRequested"}], "busy": []}
                continue
            try:
                calendar, _ = self._calendar(principal, requested)
            except GoogleApiError:
                calendars[requested] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            with self.state.lock:
                periods = busy_periods(calendar, time_min, time_max, now=self.state.clock())
            calendars[requested] = {
                "busy": [{"start": format_in_zone(start, where), "end": format_in_zone(end, where)} for start, end in periods]
            }
        return call.reply(
            {"kind": "calendar#freeBusy", "timeMin": stamp(time_min), "timeMax": stamp(time_max), "calendars": calendars}
        )

    async def not_found(self, call: Call) -> Response:
        raise _not_found()


# --- parameters --------------------------------------------------------------------------


def _not_found() -> GoogleApiError:
    return GoogleApiError(404, "notFound", "Not Found")


def _not_with_sync(name: str) -> GoogleApiError:
    return GoogleApiError(
        400, "invalid", f"The parameter {name} cannot be used together with syncToken.", location_type="parameter", location="syncToken"
    )


def _invalid_parameter(name: str, value: str) -> GoogleApiError:
    return GoogleApiError(400, "invalidParameter", f"Invalid value '{value}' for {name}.", location_type="parameter", location=name)


def _integer(call: Call, name: str, minimum: int) -> int | None:
    value = call.param(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise _invalid_parameter(name, value) from None
    if number < minimum:
        raise _invalid_parameter(name, value)
    return number


def _boolean(call: Call, name: str) -> bool | None:
    value = call.param(name)
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise _invalid_parameter(name, value)
    return value.lower() == "true"


def _instant(call: Call, name: str) -> datetime | None:
    value = call.param(name)
    if value is None:
        return None
    parsed = parse_instant(value)
    if parsed is None:
        raise GoogleApiError(400, "invalid", f"Invalid value for: {name}", location_type="parameter", location=name)
    return parsed.astimezone(UTC)


def _check_range(time_min: datetime | None, time_max: datetime | None) -> None:
    if time_min is not None and time_max is not None and time_min >= time_max:
        raise GoogleApiError(
            400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar", location_type="parameter", location="timeMax"
        )


def _time_zone(call: Call) -> str | None:
    value = call.param("timeZone")
    if value is not None and zone(value) is None:
        raise _invalid_parameter("timeZone", value)
    return value


def _properties(call: Call, name: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in call.params(name):
        key, sep, wanted = value.partition("=")
        if not sep or not key:
            raise _invalid_parameter(name, value)
        pairs.append((key, wanted))
    return tuple(pairs)


def _conference_version(call: Call) -> int:
    value = _integer(call, "conferenceDataVersion", 0)
    if value is not None and value > 1:
        raise _invalid_parameter("conferenceDataVersion", str(value))
    return value or 0


def _body(call: Call) -> dict[str, Any]:
    if call.json is None:
        return {}
    if not isinstance(call.json, dict):
        raise GoogleApiError(400, "parseError", "Parse Error")
    return call.json


def _default_reminders(role: str) -> list[dict[str, Any]]:
    return [{"method": "popup", "minutes": 10}] if role in ("writer", "owner") else []


def _add_tokens(body: dict[str, Any], next_page: str | None, next_sync: str | None) -> None:
    if next_page is not None:
        body["nextPageToken"] = next_page
    elif next_sync is not None:
        body["nextSyncToken"] = next_sync
