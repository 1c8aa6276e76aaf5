""":class:`GoogleSandbox`: the emulator's Python face, and the Starlette app that serves it.

The app serves, at its root: Google's OAuth endpoints (:mod:`.oauth`), the Calendar API under
``/calendar/v3/`` (:mod:`.calendar_api`) and JSON admin endpoints for developers and other
processes (no auth):

* ``GET /_sandbox``: client id, base URL, users, calendars (with event counts), channels;
* ``POST /_sandbox/users`` ``{"email", "name"?, "timeZone"?}``;
* ``POST /_sandbox/tokens`` ``{"email", "scopes"?}``: tokens without the consent page;
* ``POST /_sandbox/faults`` ``{"status", "times"?, "path"?, "method"?, "reason"?, "message"?, "retryAfter"?}``;
* ``POST /_sandbox/delays`` ``{"seconds", "times"?, "path"?}``;
* ``POST /_sandbox/invalidate-sync-tokens`` ``{"calendarId"?}``;
* ``POST /_sandbox/reset`` ``{"seed"?: true}``.

Direct methods (``sb.insert_event`` …) are changes "made by another client": they take the
API's code path (validation, change log, etags, push notifications), keep conference data as a
``conferenceDataVersion=1`` client would, and may set ``organizer`` (an invitation).
"""

from __future__ import annotations

import copy
import logging
import secrets
import time
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from calmesh.sandbox._common import Call, Emulator, Handler, admin_action, admin_body
from calmesh.sandbox.google.calendar_api import METHODS, CalendarApi
from calmesh.sandbox.google.endpoint import GoogleErrors
from calmesh.sandbox.google.errors import GoogleApiError
from calmesh.sandbox.google.listing import EventQuery, collect
from calmesh.sandbox.google.oauth import CALENDAR_SCOPE, OAuthAuthority
from calmesh.sandbox.google.push import Channel, PushHub, SentNotification
from calmesh.sandbox.google.seed import seed_demo
from calmesh.sandbox.google.state import SandboxState, User

__all__ = ["GoogleSandbox"]

logger = logging.getLogger("calmesh.sandbox.google")


class GoogleSandbox(Emulator[SentNotification]):
    """An emulator of Google OAuth 2.0 and Calendar API v3; see the package docstring.

    Serving, delays, token expiry and revocation, the history, ``reset`` and ``close`` are
    :class:`~calmesh.sandbox._common.Emulator`'s; ``base_url`` is used in ``htmlLink`` and
    ``resourceUri``.
    """

    _admin_path = "/_sandbox"

    def __init__(self, client_id: str = "calmesh-sandbox", client_secret: str | None = None) -> None:
        secret = client_secret or "GOCSPX-" + secrets.token_urlsafe(21)
        super().__init__(client_id, secret, GoogleErrors(), logger, "Google sandbox")
        self._state = SandboxState(self._lock)
        self._oauth: OAuthAuthority = OAuthAuthority(self._lock, lambda: list(self._state.users.values()))
        self._oauth.add_client(self.client_id, self.client_secret, None)
        self._outbox: PushHub = PushHub(self._lock, _now_ms, self._history.record_notification)
        self._state.on_change = self._outbox.changed
        self._api = CalendarApi(self._state, self._oauth, self._outbox, _now_ms)
        self.app = self._build_app()

    # --- users, calendars, clients, tokens -----------------------------------------------

    def add_user(self, email: str, name: str | None = None, *, time_zone: str = "UTC") -> str:
        """Create a user and their primary calendar (id == email); returns the calendar id."""
        return self._state.add_user(email, name, time_zone=time_zone)

    def add_calendar(self, owner_email: str, summary: str, *, time_zone: str = "UTC", calendar_id: str | None = None) -> str:
        """Create a secondary calendar (``<random>@group.calendar.google.com`` unless given)."""
        return self._state.add_calendar(owner_email, summary, time_zone=time_zone, calendar_id=calendar_id)

    def share_calendar(self, calendar_id: str, email: str, role: str = "reader") -> None:
        """Put the calendar on ``email``'s calendar list with this access role."""
        self._state.share_calendar(calendar_id, email, role)

    def add_client(self, client_id: str, client_secret: str, redirect_uris: Iterable[str] | None = None) -> None:
        """Register an OAuth client (``redirect_uris=None``: any redirect URI)."""
        self._oauth.add_client(client_id, client_secret, redirect_uris)

    def issue_tokens(
        self, email: str, scopes: Sequence[str] = (CALENDAR_SCOPE,), client_id: str | None = None
    ) -> dict[str, Any]:
        """A token response (with a refresh token) as if ``email`` had consented."""
        return self._oauth.issue_tokens(email, scopes, client_id or self.client_id)

    def invalidate_sync_tokens(self, calendar_id: str | None = None) -> None:
        """Every sync token issued so far (for one calendar, or all) answers 410 fullSyncRequired."""
        self._state.invalidate_sync_tokens(calendar_id)

    # --- events, as another client changes them ------------------------------------------

    def insert_event(self, calendar_id: str, body: dict[str, Any], *, conference_data_version: int = 0) -> dict[str, Any]:
        calendar = self._state.calendar(calendar_id)
        return copy.deepcopy(self._state.insert_event(calendar, body, version=conference_data_version, trusted=True))

    def patch_event(self, calendar_id: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        calendar = self._state.calendar(calendar_id)
        return copy.deepcopy(self._state.rewrite_event(calendar, event_id, body, "patch", version=1, trusted=True))

    def update_event(self, calendar_id: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        calendar = self._state.calendar(calendar_id)
        return copy.deepcopy(self._state.rewrite_event(calendar, event_id, body, "update", version=1, trusted=True))

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        self._state.delete_event(self._state.calendar(calendar_id), event_id)

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        """The event as events.get shows it (cancelled ones included), or None."""
        with self._lock:
            try:
                return copy.deepcopy(self._state.lookup(self._state.calendar(calendar_id), event_id)[1])
            except GoogleApiError as exc:
                if exc.status == 404:
                    return None
                raise

    def events(self, calendar_id: str, *, include_cancelled: bool = False) -> list[dict[str, Any]]:
        """Stored masters, single events and exceptions, as events.list(singleEvents=false) shows them.

        Without ``include_cancelled`` nothing cancelled is returned (not even cancelled
        instances, which events.list would show); with it, as ``showDeleted=true``.
        """
        with self._lock:
            calendar = self._state.calendar(calendar_id)
            query = EventQuery(show_deleted=include_cancelled)
            items = collect(calendar, query, now=self._state.clock(), base_url=self._state.base_url)
            if not include_cancelled:
                items = [item for item in items if item.get("status") != "cancelled"]
            return copy.deepcopy(items)

    def bulk_insert(self, calendar_id: str, bodies: Iterable[dict[str, Any]]) -> int:
        """Insert many events quickly (one push notification at the end); returns how many."""
        return self._state.bulk_insert(self._state.calendar(calendar_id), bodies)

    # --- faults and switches -------------------------------------------------------------

    def inject(
        self,
        status: int,
        *,
        reason: str | None = None,
        times: int = 1,
        path: str | None = None,
        method: str | None = None,
        retry_after: int | None = None,
        message: str | None = None,
    ) -> None:
        """The next ``times`` requests matching ``path`` (regex) and ``method`` answer this error."""
        self._faults.add_fault(
            status, reason=reason, times=times, path=path, method=method, retry_after=retry_after, message=message
        )

    @property
    def meet_pending_reads(self) -> int:
        """>0: a new Meet conference stays pending for that many reads (get/list) before success."""
        return self._state.meet_pending_reads

    @meet_pending_reads.setter
    def meet_pending_reads(self, reads: int) -> None:
        self._state.meet_pending_reads = reads

    @property
    def meet_fails(self) -> bool:
        """True: Meet create requests end in ``failure``."""
        return self._state.meet_fails

    @meet_fails.setter
    def meet_fails(self, fails: bool) -> None:
        self._state.meet_fails = fails

    #: Waits before each retry of a failed push delivery, in seconds.
    push_retry_delays = Emulator._retry_delays

    # --- what happened -------------------------------------------------------------------

    @property
    def users(self) -> list[User]:
        """The sandbox's users, in the order they were added."""
        with self._lock:
            return list(self._state.users.values())

    @property
    def channels(self) -> list[Channel]:
        """Channels that are open and not expired."""
        return self._outbox.active()

    def reset(self) -> None:
        """Back to empty: no users, calendars, tokens, channels, faults or history (clients stay)."""
        with self._lock:
            super().reset()
            self._state.clear()
            self._state.meet_pending_reads = 0
            self._state.meet_fails = False

    # --- plumbing ------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        wrap = self._wrap
        oauth = self._oauth
        routes = [
            Route("/o/oauth2/v2/auth", wrap(oauth.authorize, "page"), methods=["GET"]),
            Route("/o/oauth2/auth", wrap(oauth.authorize, "page"), methods=["GET"]),
            Route("/o/oauth2/v2/auth/consent", wrap(oauth.consent, "page"), methods=["POST"]),
            Route("/o/oauth2/auth/consent", wrap(oauth.consent, "page"), methods=["POST"]),
            Route("/token", wrap(oauth.token, "oauth"), methods=["POST"]),
            Route("/revoke", wrap(oauth.revoke, "oauth"), methods=["GET", "POST"]),
            *self._api.routes(wrap),
            *self._admin_routes(),
            # Everything else, and known paths with a wrong method: Google's 404.
            Route("/{rest:path}", wrap(self._api.not_found, "api"), methods=[*METHODS, "HEAD"]),
        ]
        return Starlette(routes=routes)

    def _moved_to(self, base_url: str) -> None:
        self._state.set_base_url(base_url)

    def _seed_demo(self) -> None:
        seed_demo(self)

    # --- admin endpoints -----------------------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        state = self._state
        return {
            "users": [{"email": u.email, "name": u.name, "calendar_id": u.calendar_id} for u in state.users.values()],
            "calendars": [
                {
                    "id": c.id,
                    "summary": c.summary,
                    "owner": c.owner,
                    "time_zone": c.zone_name,
                    "events": sum(1 for e in c.events.values() if not e.cancelled),
                    "acl": dict(c.acl),
                }
                for c in state.calendars.values()
            ],
            "channels": [
                {
                    "id": ch.id,
                    "resource_id": ch.resource_id,
                    "calendar_id": ch.calendar_id,
                    "address": ch.address,
                    "token": ch.token,
                    "expiration": ch.expiration,
                }
                for ch in self.channels
            ],
        }

    def _admin_actions(self) -> dict[str, Handler]:
        return {
            "users": admin_action(self._admin_user, refused=(KeyError, ValueError), status=201),
            "invalidate-sync-tokens": self._admin_invalidate,
        }

    def _admin_user(self, body: dict[str, Any]) -> dict[str, Any]:
        calendar_id = self.add_user(str(body["email"]), body.get("name"), time_zone=str(body.get("timeZone", "UTC")))
        return {"email": body["email"], "calendar_id": calendar_id}

    def _fault_details(self, body: dict[str, Any]) -> dict[str, Any]:
        retry_after = body.get("retryAfter", body.get("retry_after"))
        return {"reason": body.get("reason"), "retry_after": int(retry_after) if retry_after is not None else None}

    async def _admin_invalidate(self, call: Call) -> Response:
        body = admin_body(call)
        calendar_id = body.get("calendarId", body.get("calendar_id"))
        self.invalidate_sync_tokens(str(calendar_id) if calendar_id is not None else None)
        return call.reply({})


def _now_ms() -> int:
    return int(time.time() * 1000)
