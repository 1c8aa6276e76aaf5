""":class:`ZoomSandbox`: the Zoom emulator's Python face, and the Starlette routes that serve it.

Its routes (:attr:`ZoomSandbox.routes`; :attr:`ZoomSandbox.app` serves them alone) are Zoom's
OAuth endpoints under ``/oauth`` (:mod:`.oauth`), the API under ``/v2`` (:mod:`.api`) and JSON
admin endpoints under ``/_sandbox/zoom`` for developers and other processes (no auth):

* ``GET /_sandbox/zoom``: client id, account id, users (with PMI), meeting counts, subscriptions;
* ``POST /_sandbox/zoom/users`` ``{"email", "first_name"?, "last_name"?, "pmi"?,
  "use_pmi_for_scheduled_meetings"?, "password_requirement"?, "timezone"?}``;
* ``POST /_sandbox/zoom/tokens`` ``{"email", "scopes"?}``: tokens without the consent page;
* ``POST /_sandbox/zoom/faults`` ``{"status", "times"?, "path"?, "method"?, "code"?, "message"?, "retry_after"?}``;
* ``POST /_sandbox/zoom/delays`` ``{"seconds", "times"?, "path"?}``;
* ``POST /_sandbox/zoom/webhooks`` ``{"url", "events"?}``: subscribe (the URL is validated first);
* ``POST /_sandbox/zoom/deauthorize`` ``{"email"}``: the user removes the app;
* ``POST /_sandbox/zoom/clock`` ``{"now": "2026-03-10T23:59:00Z" | null}``;
* ``POST /_sandbox/zoom/reset`` ``{"seed"?: true}``.

None of these paths collide with the Google emulator's, so one Starlette app can serve both
(``calmesh sandbox`` does: ``Starlette(routes=[*zoom.routes, *google.app.routes])``).

Direct methods (``edit_meeting_in_zoom`` …) are changes "the user made in Zoom": they take the
API's code path (validation, stored resource) and send the webhooks Zoom would, but spend no
API limits.
"""

from __future__ import annotations

import copy
import logging
import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from calmesh.sandbox._common import Call, Emulator, Handler, admin_action, admin_body
from calmesh.sandbox.zoom.api import METHODS, ZoomApi
from calmesh.sandbox.zoom.errors import ZoomErrors, ZoomOAuthError, meeting_not_found
from calmesh.sandbox.zoom.meetings import format_time
from calmesh.sandbox.zoom.oauth import DEFAULT_SCOPES, ZoomOAuth
from calmesh.sandbox.zoom.seed import seed_demo
from calmesh.sandbox.zoom.state import DAILY_LIMIT, Clock, StoredMeeting, ZoomState, ZoomUser, changed_fields, new_zoom_id
from calmesh.sandbox.zoom.webhooks import SentWebhook, Subscription, WebhookHub, WebhookValidationError

__all__ = ["ZoomSandbox"]

logger = logging.getLogger("calmesh.sandbox.zoom")

_ALNUM = string.ascii_letters + string.digits
#: The meeting fields ``meeting.deleted`` shows (``meeting.created`` adds the join link and passcode).
_DELETED_FIELDS = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone")


class ZoomSandbox(Emulator[SentWebhook]):
    """An emulator of Zoom OAuth and the Zoom API v2 parts calmesh uses; see the package docstring.

    Serving, delays, token expiry (then 401 code 124) and revocation (no webhook), the history,
    ``reset`` and ``close`` are :class:`~calmesh.sandbox._common.Emulator`'s; ``base_url`` is
    what ``Content-Location`` names.
    """

    _admin_path = "/_sandbox/zoom"

    def __init__(
        self,
        client_id: str = "calmesh-zoom-sandbox",
        client_secret: str | None = None,
        webhook_secret_token: str | None = None,
    ) -> None:
        secret = client_secret or "".join(secrets.choice(_ALNUM) for _ in range(32))
        super().__init__(client_id, secret, ZoomErrors(), logger, "Zoom sandbox")
        #: The app's webhook "Secret Token": signs events and answers URL validation.
        self.webhook_secret_token = webhook_secret_token or "".join(secrets.choice(_ALNUM) for _ in range(22))
        self.account_id = new_zoom_id()
        self._clock = Clock()
        self._state = ZoomState(self._lock, self._clock, self.account_id)
        self._oauth: ZoomOAuth = ZoomOAuth(self._lock, self._state, self._clock)
        self._oauth.add_client(self.client_id, self.client_secret)
        self._outbox: WebhookHub = WebhookHub(
            self._lock, lambda: self.webhook_secret_token, self._clock.now_ms, self._history.record_notification
        )
        self._api = ZoomApi(self._state, self._oauth, self._changed)
        #: Zoom's routes and the admin ones, to serve beside another emulator's (no catch-all route).
        self.routes: list[BaseRoute] = self._build_routes()
        #: The routes alone; any other path answers Zoom's 404.
        fallback = Route("/{rest:path}", self._wrap(self._api.not_found, "api"), methods=[*METHODS, "HEAD"])
        self.app = Starlette(routes=[*self.routes, fallback])

    # --- users and tokens ----------------------------------------------------------------

    def add_user(
        self,
        email: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        pmi: int | None = None,
        use_pmi_for_scheduled_meetings: bool = False,
        password_requirement: Mapping[str, Any] | None = None,
        timezone: str = "UTC",
    ) -> str:
        """Add a user to the account; returns their Zoom user id.

        ``first_name`` defaults to the email's local part, capitalised; ``pmi`` to 10 random
        digits; ``password_requirement`` is Zoom's ``meeting_password_requirement`` (any of its
        fields; the rest off).
        """
        return self._state.add_user(
            email,
            first_name=first_name,
            last_name=last_name,
            pmi=pmi,
            use_pmi_for_scheduled_meetings=use_pmi_for_scheduled_meetings,
            password_requirement=password_requirement,
            timezone=timezone,
        )

    @property
    def users(self) -> list[ZoomUser]:
        """The account's users, in the order they were added (the first is the owner)."""
        with self._lock:
            return list(self._state.users.values())

    def issue_tokens(self, email: str, scopes: Sequence[str] = DEFAULT_SCOPES) -> dict[str, Any]:
        """A token response (``access_token``, ``refresh_token`` …) as if ``email`` had authorized the app."""
        return self._oauth.issue_tokens(email, scopes, self.client_id)

    @property
    def refresh_grace_seconds(self) -> float:
        """How long a rotated refresh token still replays its successor (default 0: not at all)."""
        return self._oauth.refresh_grace_seconds

    @refresh_grace_seconds.setter
    def refresh_grace_seconds(self, seconds: float) -> None:
        self._oauth.refresh_grace_seconds = float(seconds)

    # --- meetings ------------------------------------------------------------------------

    def meetings(self, email: str) -> list[dict[str, Any]]:
        """The user's meetings as ``GET /meetings/{id}`` shows them, oldest first."""
        with self._lock:
            user = self._state.user_by_email(email)
            return [copy.deepcopy(m.resource) for m in self._state.meetings_of(user.id)]

    def get_meeting(self, meeting_id: int | str) -> dict[str, Any] | None:
        """The meeting as ``GET /meetings/{id}`` shows it, or None when there is none."""
        with self._lock:
            stored = self._find(meeting_id)
            return copy.deepcopy(stored.resource) if stored is not None else None

    def create_meeting_in_zoom(self, email: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The user scheduled a meeting in Zoom: ``meeting.created`` to subscriptions that want it."""
        with self._lock:
            user = self._state.user_by_email(email)
            stored = self._state.create(user, dict(body))
            resource = stored.resource
        self._changed("meeting.created", user, resource, None)
        return copy.deepcopy(resource)

    def edit_meeting_in_zoom(self, meeting_id: int | str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """The host changed the meeting in Zoom (a PATCH body): ``meeting.updated`` is sent, signed.

        Raises :class:`~.errors.ZoomApiError` as the API would (404 code 3001, 400 code 300 …).
        """
        with self._lock:
            stored = self._existing(meeting_id)
            before, after = self._state.update(stored, dict(changes))
            host = self._state.users[stored.host_id]
        if before != after:
            self._changed("meeting.updated", host, after, before)
        return copy.deepcopy(after)

    def delete_meeting_in_zoom(self, meeting_id: int | str) -> None:
        """The host deleted the meeting in Zoom: ``meeting.deleted`` is sent, signed."""
        with self._lock:
            stored = self._existing(meeting_id)
            gone = self._state.delete(stored)
            host = self._state.users[stored.host_id]
        self._changed("meeting.deleted", host, gone, None)

    def _find(self, meeting_id: int | str) -> StoredMeeting | None:
        text = str(meeting_id)
        return self._state.find(int(text)) if text.isdigit() else None

    def _existing(self, meeting_id: int | str) -> StoredMeeting:
        stored = self._find(meeting_id)
        if stored is None:
            raise meeting_not_found(meeting_id)
        return stored

    # --- limits and the clock ------------------------------------------------------------

    @property
    def daily_limit(self) -> int:
        """Create requests, and separately update requests, per user per UTC day (default 100)."""
        return self._state.daily_limit

    @daily_limit.setter
    def daily_limit(self, limit: int) -> None:
        self._state.daily_limit = int(limit)

    @property
    def clock(self) -> datetime:
        """The sandbox's "now" (UTC); assigning it is :meth:`set_clock`."""
        return self._clock.now()

    @clock.setter
    def clock(self, when: datetime | None) -> None:
        self.set_clock(when)

    def set_clock(self, when: datetime | None) -> None:
        """The sandbox's clock reads ``when`` from now on and runs on from there (None: real time).

        Everything reads it: code and token expiry, timestamps, the UTC day of the daily limits,
        ``event_ts``. (A naive datetime is UTC.)
        """
        self._clock.set(when)

    @property
    def passcode_errors_as_xml(self) -> bool:
        """True: passcode validation failures answer XML, as Zoom sometimes does (calcom PR #26148)."""
        return self._state.passcode_errors_as_xml

    @passcode_errors_as_xml.setter
    def passcode_errors_as_xml(self, on: bool) -> None:
        self._state.passcode_errors_as_xml = on

    # --- faults --------------------------------------------------------------------------

    def inject(
        self,
        status: int,
        *,
        times: int = 1,
        path: str | None = None,
        method: str | None = None,
        code: int | str | None = None,
        message: str | None = None,
        retry_after: int | str | None = None,
    ) -> None:
        """The next ``times`` requests matching ``path`` (regex) and ``method`` answer this error.

        API paths answer ``{"code", "message"}`` (Zoom's usual code and wording for the status
        unless given); ``/oauth/*`` answers ``{"reason", "error"}`` — there ``code`` names the
        ``error`` (e.g. ``"invalid_grant"``). ``retry_after`` is sent as ``Retry-After``.
        """
        self._faults.add_fault(status, code=code, times=times, path=path, method=method, retry_after=retry_after, message=message)

    # --- webhooks ------------------------------------------------------------------------

    def subscribe_webhooks(self, url: str, events: Iterable[str] | None = None) -> Subscription:
        """Subscribe the event notification endpoint ``url`` after validating it (URL validation).

        Blocks until the endpoint answered the challenge; raises
        :class:`~.webhooks.WebhookValidationError` when the answer is wrong. Call it from a thread
        other than the one serving the endpoint (from async code: ``asyncio.to_thread``).
        ``events`` defaults to ``app_deauthorized``, ``meeting.updated``, ``meeting.deleted``;
        ``meeting.created`` may be added.
        """
        return self._outbox.subscribe(url, events)

    def unsubscribe_webhooks(self, url: str) -> bool:
        return self._outbox.unsubscribe(url)

    @property
    def subscriptions(self) -> list[Subscription]:
        return self._outbox.subscriptions()

    def deauthorize(self, email: str) -> None:
        """The user removed the app: their grant is revoked and ``app_deauthorized`` is sent, signed."""
        with self._lock:
            user = self._state.user_by_email(email)
            self._oauth.revoke_grants(email, self.client_id)
            now = self._clock.now()
        self._outbox.emit(
            "app_deauthorized",
            {
                "account_id": self.account_id,
                "user_id": user.id,
                "signature": secrets.token_hex(32),
                "deauthorization_time": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
                "client_id": self.client_id,
                "user_data_retention": "false",
            },
        )

    #: Waits before each retry of a failed webhook delivery, in seconds.
    webhook_retry_delays = Emulator._retry_delays

    @property
    def webhooks_for_api_changes(self) -> bool:
        """True (default): changes made through the API send webhooks too, as at Zoom."""
        return self._api.webhooks_for_api_changes

    @webhooks_for_api_changes.setter
    def webhooks_for_api_changes(self, on: bool) -> None:
        self._api.webhooks_for_api_changes = on

    def _changed(self, event: str, operator: ZoomUser, meeting: dict[str, Any], before: dict[str, Any] | None) -> None:
        base = {"account_id": self.account_id, "operator": operator.email, "operator_id": operator.id, "operation": "single"}
        if event == "meeting.updated":
            assert before is not None
            new, old = changed_fields(before, meeting)
            if not new and not old:
                return
            ids = {"id": meeting["id"], "uuid": meeting["uuid"]}
            payload = {**base, "object": {**ids, **new}, "old_object": {**ids, **old}, "time_stamp": self._clock.now_ms()}
        elif event == "meeting.created":
            settings = {k: meeting["settings"].get(k) for k in ("use_pmi", "alternative_hosts")}
            shown = {k: meeting[k] for k in (*_DELETED_FIELDS, "join_url", "password") if k in meeting}
            payload = {**base, "object": {**shown, "settings": settings}}
        else:
            payload = {**base, "object": {k: meeting[k] for k in _DELETED_FIELDS if k in meeting}}
        self._outbox.emit(event, copy.deepcopy(payload))

    # --- what happened -------------------------------------------------------------------

    def reset(self) -> None:
        """Back to empty: users, meetings, tokens, subscriptions, faults, history, counters, clock, switches.

        The client, its secret and the webhook secret token stay. (``notifications`` holds every
        webhook delivery attempt, URL validations included.)
        """
        with self._lock:
            super().reset()
            self._state.clear()
            self._state.daily_limit = DAILY_LIMIT
            self._state.passcode_errors_as_xml = False
            self._oauth.refresh_grace_seconds = 0.0
            self._api.webhooks_for_api_changes = True
            self._clock.set(None)

    # --- plumbing ------------------------------------------------------------------------

    def _build_routes(self) -> list[BaseRoute]:
        wrap = self._wrap
        oauth = self._oauth
        return [
            Route("/oauth/authorize", wrap(oauth.authorize, "page"), methods=["GET"]),
            Route("/oauth/authorize/consent", wrap(oauth.consent, "page"), methods=["POST"]),
            Route("/oauth/token", wrap(oauth.token, "oauth"), methods=["POST"]),
            Route("/oauth/revoke", wrap(oauth.revoke, "oauth"), methods=["POST"]),
            Route("/oauth/{rest:path}", wrap(self._oauth_not_found, "oauth"), methods=[*METHODS, "HEAD"]),
            *self._api.routes(wrap),
            *self._admin_routes(),
        ]

    async def _oauth_not_found(self, call: Call) -> Response:
        raise ZoomOAuthError(404, "invalid_request", "Not Found")

    def _moved_to(self, base_url: str) -> None:
        self._api.base_url = base_url

    def _seed_demo(self) -> None:
        seed_demo(self)

    # --- admin endpoints -----------------------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        state = self._state
        return {
            "account_id": self.account_id,
            "clock": format_time(self._clock.now()),
            "daily_limit": state.daily_limit,
            "users": [
                {
                    "id": u.id,
                    "email": u.email,
                    "first_name": u.first_name,
                    "last_name": u.last_name,
                    "pmi": u.pmi,
                    "timezone": u.timezone,
                    "use_pmi_for_scheduled_meetings": u.use_pmi_for_scheduled_meetings,
                    "meetings": len(state.meetings_of(u.id)),
                }
                for u in state.users.values()
            ],
            "subscriptions": [{"url": s.url, "events": sorted(s.events)} for s in self.subscriptions],
        }

    def _admin_actions(self) -> dict[str, Handler]:
        return {
            "users": admin_action(self._admin_user, refused=(KeyError, ValueError, TypeError, AttributeError), status=201),
            "webhooks": self._admin_webhooks,
            "deauthorize": admin_action(self._admin_deauthorize, refused=(KeyError,)),
            "clock": admin_action(self._admin_clock, refused=(ValueError,)),
        }

    def _admin_user(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = self.add_user(
            str(body["email"]),
            first_name=body.get("first_name"),
            last_name=body.get("last_name"),
            pmi=int(body["pmi"]) if body.get("pmi") is not None else None,
            use_pmi_for_scheduled_meetings=bool(body.get("use_pmi_for_scheduled_meetings", False)),
            password_requirement=body.get("password_requirement"),
            timezone=str(body.get("timezone", "UTC")),
        )
        return {"email": body["email"], "id": user_id}

    def _fault_details(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"code": body.get("code"), "retry_after": body.get("retry_after", body.get("retryAfter"))}

    async def _admin_webhooks(self, call: Call) -> Response:
        body = admin_body(call)
        try:
            events = body.get("events")
            subscription = await self._outbox.subscribe_async(str(body["url"]), [str(e) for e in events] if events else None)
        except (KeyError, ValueError, TypeError) as exc:
            status = 422 if isinstance(exc, WebhookValidationError) else 400
            return call.reply({"error": str(exc)}, status)
        return call.reply({"url": subscription.url, "events": sorted(subscription.events)}, 201)

    def _admin_deauthorize(self, body: dict[str, Any]) -> dict[str, Any]:
        self.deauthorize(str(body["email"]))
        return {}

    def _admin_clock(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("now")
        self.set_clock(datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None)
        return {"now": format_time(self._clock.now())}
