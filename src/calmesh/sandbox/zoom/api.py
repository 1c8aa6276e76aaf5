"""The Zoom API v2 endpoints under ``/v2`` (protocols.md §3.2-§3.4; zoom_openapi.yaml).

Served: ``users/{userId}`` (GET), ``users/{userId}/settings`` (GET, ``?option=meeting_security``
and ``?option=meeting_authentication`` too), ``users/{userId}/meetings`` (GET list, POST create),
``meetings/{meetingId}`` (GET; PATCH → 204; DELETE → 204). Anything else under ``/v2`` is 404
``{"code":404,"message":"Not Found"}``.

Access, as at Zoom:

* every request needs ``Authorization: Bearer <access token>``; a missing, unknown, expired or
  revoked one is 401 ``{"code":124,"message":"Invalid access token."}``;
* each endpoint needs one of its scopes (reads accept the write scope too), else 400
  ``{"code":4711,"message":"Invalid access token, does not contain scopes:[…]."}``;
* ``userId`` is ``me``, the user's id or email; a user-level token reaches only its own user
  (others: 404 code 1001), an account-level (server-to-server) token every user of the account,
  ``me`` being the account owner. Meetings of other users are 404 code 3001, like missing ones.

Daily limits (§3.4): each user may send :attr:`ZoomState.daily_limit` create requests and, counted
apart, as many update requests per UTC day; every authenticated request to those endpoints
counts, whatever it answers, except the 429s themselves. Past the limit: 429
``{"code":429,"message":…}`` with ``X-RateLimit-Category`` (``Medium`` for create, ``Light``
for update), ``X-RateLimit-Type: Daily``, ``X-RateLimit-Limit``, ``X-RateLimit-Remaining: 0``
and ``Retry-After`` = the next 00:00 UTC as ``yyyy-MM-ddTHH:mm:ssZ``.

Successful creates, updates and deletes through the API also send ``meeting.created``,
``meeting.updated`` and ``meeting.deleted`` to the subscriptions that want them (as Zoom does
whatever made the change), unless :attr:`ZoomApi.webhooks_for_api_changes` is off. They are
queued in order before the answer goes out, so one may reach its endpoint before the client has
read the answer — as at Zoom.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from calmesh.sandbox._common import Call, Handler, Wrapper
from calmesh.sandbox.zoom.errors import ZoomApiError, invalid_token, meeting_not_found, validation_failed
from calmesh.sandbox.zoom.meetings import format_time, list_item
from calmesh.sandbox.zoom.oauth import Principal, ZoomOAuth
from calmesh.sandbox.zoom.state import StoredMeeting, ZoomState, ZoomUser

__all__ = ["METHODS", "Changed", "ZoomApi"]

#: ``changed(event, operator, meeting, before)``: what the API calls after a change that sends webhooks.
Changed = Callable[[str, ZoomUser, dict[str, Any], dict[str, Any] | None], None]

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

READ_USER = frozenset({"user:read", "user:read:admin", "user:write", "user:write:admin", "user_profile"})
READ_MEETINGS = frozenset({"meeting:read", "meeting:read:admin", "meeting:write", "meeting:write:admin"})
WRITE_MEETINGS = frozenset({"meeting:write", "meeting:write:admin"})
_MAX_PAGE = 300


class ZoomApi:
    """The API's handlers over one sandbox's state and tokens."""

    def __init__(self, state: ZoomState, oauth: ZoomOAuth, changed: Changed) -> None:
        self.state = state
        self.oauth = oauth
        #: ``changed(event, operator, meeting, before)`` after a successful create/update/delete.
        self._changed = changed
        self.base_url = "http://127.0.0.1"
        self.webhooks_for_api_changes = True

    def routes(self, wrap: Wrapper) -> list[Route]:
        def route(path: str, handler: Handler) -> Route:
            return Route("/v2" + path, wrap(handler, "api"), methods=METHODS)

        return [
            route("/users/{userId}", self._user),
            route("/users/{userId}/settings", self._settings),
            route("/users/{userId}/meetings", self._meetings),
            route("/meetings/{meetingId}", self._meeting),
            route("/{rest:path}", self.not_found),
        ]

    async def not_found(self, call: Call) -> Response:
        raise ZoomApiError(404, 404, "Not Found")

    # --- access --------------------------------------------------------------------------

    def _principal(self, call: Call, scopes: frozenset[str]) -> Principal:
        header = call.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        principal = self.oauth.principal(token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise invalid_token()
        if not principal.scopes & scopes:
            wanted = ", ".join(sorted(scopes - {"user_profile"}, key=lambda s: (s.count(":"), s)))
            raise ZoomApiError(400, 4711, f"Invalid access token, does not contain scopes:[{wanted}].")
        return principal

    def _target(self, principal: Principal, ref: str) -> ZoomUser:
        if ref == "me":
            user = self.state.users.get(principal.user_id) if principal.user_id else self.state.owner()
        else:
            user = self.state.user(ref)
            if user is not None and principal.user_id is not None and user.id != principal.user_id:
                user = None
        if user is None:
            raise ZoomApiError(404, 1001, f"User does not exist: {ref}.")
        return user

    def _meeting_of(self, principal: Principal, raw_id: str) -> StoredMeeting:
        stored = self.state.find(int(raw_id)) if raw_id.isdigit() else None
        if stored is None or (principal.user_id is not None and stored.host_id != principal.user_id):
            raise meeting_not_found(raw_id)
        return stored

    # --- users ---------------------------------------------------------------------------

    async def _user(self, call: Call) -> Response:
        if call.method != "GET":
            return await self.not_found(call)
        principal = self._principal(call, READ_USER)
        with self.state.lock:
            user = self._target(principal, call.request.path_params["userId"])
            return call.reply(self._user_json(user))

    def _user_json(self, user: ZoomUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "display_name": user.display_name,
            "email": user.email,
            "type": 2,
            "role_name": user.role,
            "pmi": user.pmi,
            "use_pmi": False,
            "personal_meeting_url": user.personal_meeting_url,
            "timezone": user.timezone,
            "verified": 1,
            "dept": "",
            "created_at": format_time(user.created_at),
            "last_login_time": format_time(self.state.clock.now()),
            "last_client_version": "6.2.0.46690(mac)",
            "pic_url": "",
            "language": "en-US",
            "phone_number": "",
            "status": "active",
            "role_id": "0" if user.role == "Owner" else "2",
            "employee_unique_id": "",
            "account_id": self.state.account_id,
            "account_number": self.state.account_number,
            "cluster": "us06",
            "user_created_at": format_time(user.created_at),
        }

    async def _settings(self, call: Call) -> Response:
        if call.method != "GET":
            return await self.not_found(call)
        principal = self._principal(call, READ_USER)
        with self.state.lock:
            user = self._target(principal, call.request.path_params["userId"])
            option = call.param("option")
            requirement = dict(user.password_requirement)
            if option == "meeting_security":
                return call.reply({"meeting_security": _meeting_security(requirement)})
            if option == "meeting_authentication":
                return call.reply({"meeting_authentication": False, "authentication_options": []})
            if option not in (None, ""):
                raise validation_failed("option", f"Invalid option: {option}.")
            return call.reply(_user_settings(user, requirement))

    # --- meetings ------------------------------------------------------------------------

    async def _meetings(self, call: Call) -> Response:
        if call.method == "GET":
            return self._list(call)
        if call.method != "POST":
            return await self.not_found(call)
        principal = self._principal(call, WRITE_MEETINGS)
        with self.state.lock:
            user = self._target(principal, call.request.path_params["userId"])
            self.state.take_daily(user, "create")
            stored = self.state.create(user, call.json)
            resource = stored.resource
        if self.webhooks_for_api_changes:
            self._changed("meeting.created", user, resource, None)
        return call.reply(resource, 201, {"Content-Location": f"{self.base_url}/v2/meetings/{stored.id}"})

    def _list(self, call: Call) -> Response:
        principal = self._principal(call, READ_MEETINGS)
        with self.state.lock:
            user = self._target(principal, call.request.path_params["userId"])
            kind = call.param("type") or "scheduled"
            now = format_time(self.state.clock.now())
            resources = [m.resource for m in self.state.meetings_of(user.id) if m.resource["type"] != 1]
        if kind == "scheduled":
            chosen = resources
        elif kind in ("upcoming", "upcoming_meetings"):
            chosen = [r for r in resources if "start_time" not in r or r["start_time"] >= now]
        elif kind == "previous_meetings":
            chosen = [r for r in resources if "start_time" in r and r["start_time"] < now]
        elif kind == "live":
            chosen = []  # nothing is ever in progress in the sandbox
        else:
            raise validation_failed("type", "Invalid field.")
        chosen.sort(key=lambda r: (r.get("start_time") is None, r.get("start_time") or "", r["created_at"]))
        size = _page_size(call.param("page_size"))
        offset = _offset(call.param("next_page_token"), call.param("page_number"), size, user.id)
        page = chosen[offset : offset + size]
        following = offset + size
        body: dict[str, Any] = {
            "page_size": size,
            "total_records": len(chosen),
            "next_page_token": _page_token(user.id, following) if following < len(chosen) else "",
            "page_count": max(1, math.ceil(len(chosen) / size)),
            "page_number": offset // size + 1,
            "meetings": [list_item(r) for r in page],
        }
        return call.reply(body)

    async def _meeting(self, call: Call) -> Response:
        raw_id = call.request.path_params["meetingId"]
        if call.method == "GET":
            principal = self._principal(call, READ_MEETINGS)
            with self.state.lock:
                return call.reply(self._meeting_of(principal, raw_id).resource)
        if call.method == "PATCH":
            principal = self._principal(call, WRITE_MEETINGS)
            with self.state.lock:
                caller = self._caller(principal)
                self.state.take_daily(caller, "update")
                stored = self._meeting_of(principal, raw_id)
                before, after = self.state.update(stored, call.json)
            if self.webhooks_for_api_changes and before != after:
                self._changed("meeting.updated", caller, after, before)
            return Response(status_code=204)
        if call.method == "DELETE":
            principal = self._principal(call, WRITE_MEETINGS)
            with self.state.lock:
                caller = self._caller(principal)
                stored = self._meeting_of(principal, raw_id)
                gone = self.state.delete(stored)
            if self.webhooks_for_api_changes:
                self._changed("meeting.deleted", caller, gone, None)
            return Response(status_code=204)
        return await self.not_found(call)

    def _caller(self, principal: Principal) -> ZoomUser:
        """Whose daily update budget a request spends: the token's user (the owner for an account token)."""
        user = self.state.users.get(principal.user_id) if principal.user_id else self.state.owner()
        if user is None:
            raise invalid_token()
        return user


def _page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return 30
    if not raw.isdigit() or int(raw) < 1:
        raise validation_failed("page_size", "Invalid field.")
    return min(int(raw), _MAX_PAGE)


def _page_token(user_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{user_id}:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None, page_number: str | None, size: int, user_id: str) -> int:
    if token:
        try:
            owner, _, offset = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
            if owner == user_id and offset.isdigit():
                return int(offset)
        except ValueError:
            pass
        raise ZoomApiError(400, 300, "Invalid next page token.")
    if page_number and page_number.isdigit() and int(page_number) > 1:
        return (int(page_number) - 1) * size
    return 0


def _meeting_security(requirement: dict[str, Any]) -> dict[str, Any]:
    return {
        "auto_security": True,
        "block_user_domain": False,
        "embed_password_in_join_link": True,
        "encryption_type": "enhanced_encryption",
        "end_to_end_encrypted_meetings": False,
        "meeting_password": True,
        "meeting_password_requirement": requirement,
        "phone_password": False,
        "pmi_password": True,
        "require_password_for_scheduled_meeting": True,
        "require_password_for_scheduled_webinar": False,
        "waiting_room": False,
        "webinar_password": False,
    }


def _user_settings(user: ZoomUser, requirement: dict[str, Any]) -> dict[str, Any]:
    return {
        "schedule_meeting": {
            "host_video": False,
            "participants_video": False,
            "audio_type": "both",
            "join_before_host": False,
            "jbh_time": 0,
            "force_pmi_jbh_password": False,
            "pstn_password_protected": False,
            "use_pmi_for_scheduled_meetings": user.use_pmi_for_scheduled_meetings,
            "use_pmi_for_instant_meetings": False,
            "require_password_for_scheduling_new_meetings": True,
            "require_password_for_scheduled_meetings": True,
            "require_password_for_instant_meetings": True,
            "require_password_for_pmi_meetings": "all",
            "default_password_for_scheduled_meetings": user.default_password,
            "pmi_password": user.pmi_password,
            "embed_password_in_join_link": True,
            "meeting_password_requirement": requirement,
            "personal_meeting": True,
            "mute_upon_entry": False,
            "continuous_meeting_chat": {"enable": False},
        },
        "in_meeting": {
            "e2e_encryption": False,
            "chat": True,
            "private_chat": True,
            "co_host": False,
            "waiting_room": False,
            "breakout_room": False,
            "allow_participants_to_rename": True,
        },
        "email_notification": {"jbh_reminder": True, "cancel_meeting_reminder": True, "alternative_host_reminder": True},
        "recording": {
            "local_recording": True,
            "cloud_recording": False,
            "auto_recording": "none",
            "auto_delete_cmr": False,
        },
        "telephony": {"third_party_audio": False, "audio_conference_info": "", "show_international_numbers_link": True},
        "feature": {"meeting_capacity": 100, "large_meeting": False, "webinar": False, "cn_meeting": False, "in_meeting": False},
    }
