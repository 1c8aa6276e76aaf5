"""Zoom OAuth for a user-level app (protocols.md §3.1): authorize, consent, token (with rotation), revoke.

Endpoints (at the app's root, where ``https://zoom.us`` would be):

* ``GET /oauth/authorize?response_type=code&client_id=…&redirect_uri=…&state=…`` (optional
  ``code_challenge`` with ``code_challenge_method=S256`` or ``plain``): an unknown client, a
  missing ``redirect_uri`` or another ``response_type`` is a 400 HTML error page; otherwise a
  small "Allow this app" page listing every sandbox user, with a Decline button. The app's
  scopes are the client's (a user-level app configures them; the request does not name them).
* ``POST /oauth/authorize/consent``: what that page sends — the authorize parameters (as form
  fields or still in the query string) plus ``user=<email>`` and ``decision=allow|deny``.
  Answers 302 to ``redirect_uri?code=…&state=…`` or ``?error=access_denied&state=…``.
* ``POST /oauth/token`` — client authentication by HTTP Basic only (else 400
  ``invalid_client``); fields from the form body or the query string (Zoom documents both):

  - ``grant_type=authorization_code&code=…&redirect_uri=…[&code_verifier=…]``: codes are
    single-use, live 5 minutes and are bound to the client, redirect URI, user and PKCE challenge;
  - ``grant_type=refresh_token&refresh_token=…``: **rotation** — every refresh answers a new
    refresh token and the presented one is dead at once (400 ``invalid_grant``); two concurrent
    refreshes with the same token: one wins, the other gets ``invalid_grant``. With
    :attr:`ZoomOAuth.refresh_grace_seconds` > 0 (default 0: none), a rotated token presented again
    within that many seconds answers the *same* tokens it was rotated into (a replay, no new
    rotation) as long as those are still unused; after that it is ``invalid_grant``;
  - ``grant_type=account_credentials&account_id=…`` (server-to-server): an account-level token
    with the admin scopes, no refresh token.

  Answers ``{"access_token","token_type":"bearer","refresh_token","expires_in":3599,"scope"}``;
  access tokens live an hour, refresh tokens 90 days (on the sandbox's clock). Errors are
  ``{"reason","error"}``: ``invalid_grant`` (``Invalid Token!`` for refresh tokens),
  ``invalid_client``, ``unsupported_grant_type``, ``invalid_request``.
* ``POST /oauth/revoke?token=<access token>`` (Basic auth; a refresh token works too): ends the
  user's whole grant to the app — every access and refresh token. Answers ``{"status":"success"}``.
"""

from __future__ import annotations

import hmac
import html
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from calmesh.sandbox._common import Call
from calmesh.sandbox._oauth import Account, AuthorizationCode, AuthorizationPages, AuthorizationRequest, IssuedToken, PageError
from calmesh.sandbox._oauth import basic_credentials, consent_page, html_page, pkce_challenge, requested_pkce
from calmesh.sandbox.zoom.errors import ZoomOAuthError
from calmesh.sandbox.zoom.state import Clock, ZoomState, ZoomUser

__all__ = [
    "ACCESS_TOKEN_SECONDS",
    "ADMIN_SCOPES",
    "CODE_SECONDS",
    "DEFAULT_SCOPES",
    "REFRESH_TOKEN_SECONDS",
    "Principal",
    "ZoomOAuth",
]

#: ``expires_in`` of every access token.
ACCESS_TOKEN_SECONDS = 3599
CODE_SECONDS = 300
REFRESH_TOKEN_SECONDS = 90 * 24 * 3600
DEFAULT_SCOPES = ("meeting:write", "meeting:read", "user:read")
#: What a server-to-server (account_credentials) token gets.
ADMIN_SCOPES = ("meeting:read:admin", "meeting:write:admin", "user:read:admin")


@dataclass(frozen=True)
class Principal:
    """Who an access token speaks for: a user, or (server-to-server) the whole account."""

    #: None for an account-level token.
    user_id: str | None
    client_id: str
    scopes: frozenset[str]


@dataclass
class _Client:
    id: str
    secret: str
    scopes: tuple[str, ...]


@dataclass(kw_only=True)
class _Code(AuthorizationCode):
    user_id: str


@dataclass(kw_only=True)
class _Access(IssuedToken):
    #: None for an account-level (server-to-server) token.
    user_id: str | None


@dataclass(kw_only=True)
class _Refresh(IssuedToken):
    user_id: str
    #: When it was exchanged for its successor (rotation), if it was.
    rotated_at: float | None = None
    #: The answer it was rotated into (replayed within the grace period).
    successor: dict[str, Any] | None = None


class ZoomOAuth(AuthorizationPages[AuthorizationRequest, ZoomUser]):
    """The app's client, codes and tokens, and the OAuth endpoints' handlers."""

    account_noun = "user"

    def __init__(self, lock: threading.RLock, state: ZoomState, clock: Clock) -> None:
        self._lock = lock
        self._state = state
        self._clock = clock
        self.clients: dict[str, _Client] = {}
        #: Seconds a rotated refresh token still replays its successor (0: not at all).
        self.refresh_grace_seconds = 0.0
        self.clear()

    def clear(self) -> None:
        """Forget every code and token (clients stay)."""
        with self._lock:
            self._codes: dict[str, _Code] = {}
            self._access: dict[str, _Access] = {}
            self._refresh: dict[str, _Refresh] = {}

    def now(self) -> float:
        return self._clock.timestamp()

    # --- for tests -----------------------------------------------------------------------

    def add_client(self, client_id: str, client_secret: str, scopes: Iterable[str] = DEFAULT_SCOPES) -> None:
        with self._lock:
            self.clients[client_id] = _Client(client_id, client_secret, tuple(scopes))

    def issue_tokens(self, email: str, scopes: Iterable[str], client_id: str) -> dict[str, Any]:
        with self._lock:
            if client_id not in self.clients:
                raise KeyError(f"the sandbox has no OAuth client {client_id}")
            user = self._state.user_by_email(email)
            return self._grant(user.id, client_id, tuple(scopes))

    def expire_access_tokens(self, email: str | None = None) -> None:
        with self._lock:
            user_id = self._state.user_by_email(email).id if email is not None else None
            for token in self._access.values():
                if user_id is None or token.user_id == user_id:
                    token.expires_at = 0.0

    def revoke_grants(self, email: str, client_id: str | None = None) -> None:
        """Every token of the user (for one client, or all) dies: refresh invalid_grant, access 401."""
        with self._lock:
            user_id = self._state.user_by_email(email).id
            self._revoke(user_id, client_id)

    def has_grant(self, user_id: str, client_id: str) -> bool:
        with self._lock:
            now = self.now()
            return any(
                t.user_id == user_id and t.client_id == client_id and not t.revoked and t.expires_at > now
                for t in self._tokens()
            )

    def principal(self, access_token: str) -> Principal | None:
        """Who a bearer token speaks for; None if it is unknown, expired or revoked."""
        with self._lock:
            token = self._access.get(access_token)
            if token is None or token.revoked or token.expires_at <= self.now():
                return None
            if token.user_id is not None and token.user_id not in self._state.users:
                return None
            return Principal(token.user_id, token.client_id, frozenset(token.scopes))

    # --- authorization page --------------------------------------------------------------

    def _account(self, email: str) -> ZoomUser | None:
        return self._state.user(email)

    def _check(self, params: dict[str, str]) -> AuthorizationRequest:
        with self._lock:
            client = self.clients.get(params.get("client_id", ""))
        if client is None:
            raise PageError(f"Invalid client_id: {params.get('client_id', '')}")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise PageError("Invalid redirect: (none given)")
        if params.get("response_type") != "code":
            raise PageError(f"Unsupported response_type: {params.get('response_type', '')}")
        challenge, method = requested_pkce(params)
        return AuthorizationRequest(
            client_id=client.id,
            redirect_uri=redirect_uri,
            state=params.get("state"),
            challenge=challenge,
            method=method,
            params={k: v for k, v in params.items() if k not in ("user", "decision")},
        )

    def _new_code(self, request: AuthorizationRequest, user: ZoomUser) -> dict[str, str]:
        with self._lock:
            code = secrets.token_urlsafe(24)
            self._codes[code] = _Code(
                client_id=request.client_id,
                redirect_uri=request.redirect_uri,
                user_id=user.id,
                scopes=self.clients[request.client_id].scopes,
                challenge=request.challenge,
                method=request.method,
                expires_at=self.now() + CODE_SECONDS,
            )
            return {"code": code}

    def _consent_page(self, request: AuthorizationRequest) -> Response:
        return consent_page(
            title="Zoom - Authorize App (calmesh sandbox)",
            heading="Allow this app to use your shared access permissions?",
            intro=f"<b>{html.escape(request.client_id)}</b> asks for:",
            scopes=self.clients[request.client_id].scopes,
            account_prompt="Sign in as:",
            accounts=[Account(user.email, user.display_name) for user in list(self._state.users.values())],
            no_accounts="No users in this sandbox yet (POST /_sandbox/zoom/users).",
            action="/oauth/authorize/consent",
            params=request.params,
            deny="Decline",
        )

    def _error_page(self, error: PageError) -> Response:
        body = f"<h1>Invalid request</h1><p>Error code: 4,700</p><p>{html.escape(error.description)}</p>"
        return html_page("Error - Zoom", body, status=error.status)

    # --- token and revocation endpoints --------------------------------------------------

    async def token(self, call: Call) -> Response:
        fields = dict(call.query)
        fields.update(call.form or {})
        client = self._client(call)
        grant_type = fields.get("grant_type")
        if grant_type == "authorization_code":
            answer = self._exchange(client, fields)
        elif grant_type == "refresh_token":
            answer = self._refreshed(client, fields)
        elif grant_type == "account_credentials":
            answer = self._account_token(client, fields)
        else:
            raise ZoomOAuthError(400, "unsupported_grant_type", "Unsupported grant type")
        return call.reply(answer, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _client(self, call: Call) -> _Client:
        credentials = basic_credentials(call.header("authorization"))
        if credentials is None:
            raise ZoomOAuthError(400, "invalid_client", "Missing client_id or client_secret")
        client_id, secret = credentials
        with self._lock:
            client = self.clients.get(client_id)
        if client is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
            raise ZoomOAuthError(400, "invalid_client", "Invalid client_id or client_secret")
        return client

    def _exchange(self, client: _Client, fields: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            value = fields.get("code", "")
            code = self._codes.get(value)
            if code is None or code.client_id != client.id or code.used or code.expires_at <= self.now():
                raise ZoomOAuthError(400, "invalid_grant", "Invalid authorization code")
            if fields.get("redirect_uri") != code.redirect_uri:
                raise ZoomOAuthError(400, "invalid_grant", "Redirect URI mismatch.")
            if code.challenge is not None:
                verifier = fields.get("code_verifier")
                if not verifier or not hmac.compare_digest(pkce_challenge(verifier, code.method), code.challenge):
                    raise ZoomOAuthError(400, "invalid_grant", "Invalid code_verifier")
            code.used = True
            if code.user_id not in self._state.users:
                raise ZoomOAuthError(400, "invalid_grant", "Invalid authorization code")
            return self._grant(code.user_id, client.id, code.scopes)

    def _refreshed(self, client: _Client, fields: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            now = self.now()
            token = self._refresh.get(fields.get("refresh_token", ""))
            if token is None or token.revoked or token.expires_at <= now or token.client_id != client.id:
                raise ZoomOAuthError(400, "invalid_grant", "Invalid Token!")
            if token.user_id not in self._state.users:
                raise ZoomOAuthError(400, "invalid_grant", "Invalid Token!")
            if token.rotated_at is not None:
                successor = token.successor or {}
                follower = self._refresh.get(str(successor.get("refresh_token", "")))
                in_grace = self.refresh_grace_seconds > 0 and now - token.rotated_at <= self.refresh_grace_seconds
                if in_grace and follower is not None and not follower.revoked and follower.rotated_at is None:
                    return dict(successor)
                raise ZoomOAuthError(400, "invalid_grant", "Invalid Token!")
            answer = self._grant(token.user_id, client.id, token.scopes)
            token.rotated_at = now
            token.successor = dict(answer)
            return answer

    def _account_token(self, client: _Client, fields: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            if fields.get("account_id") != self._state.account_id:
                raise ZoomOAuthError(400, "invalid_request", "Invalid account_id")
            access = _new_token()
            expires = self.now() + ACCESS_TOKEN_SECONDS + 1
            self._access[access] = _Access(user_id=None, client_id=client.id, scopes=ADMIN_SCOPES, expires_at=expires)
            scope = " ".join(ADMIN_SCOPES)
            return {"access_token": access, "token_type": "bearer", "expires_in": ACCESS_TOKEN_SECONDS, "scope": scope}

    def _grant(self, user_id: str, client_id: str, scopes: tuple[str, ...]) -> dict[str, Any]:
        now = self.now()
        access, refresh = _new_token(), _new_token()
        access_expiry, refresh_expiry = now + ACCESS_TOKEN_SECONDS + 1, now + REFRESH_TOKEN_SECONDS
        self._access[access] = _Access(user_id=user_id, client_id=client_id, scopes=scopes, expires_at=access_expiry)
        self._refresh[refresh] = _Refresh(user_id=user_id, client_id=client_id, scopes=scopes, expires_at=refresh_expiry)
        return {
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": refresh,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": " ".join(scopes),
        }

    async def revoke(self, call: Call) -> Response:
        client = self._client(call)
        value = call.field("token") or ""
        with self._lock:
            token: _Access | _Refresh | None = self._access.get(value) or self._refresh.get(value)
            if token is None or token.revoked or token.client_id != client.id:
                raise ZoomOAuthError(400, "invalid_request", "Invalid Token!")
            if token.user_id is None:
                token.revoked = True
            else:
                self._revoke(token.user_id, client.id)
        return call.reply({"status": "success"})

    def _tokens(self) -> list[_Access | _Refresh]:
        return [*self._access.values(), *self._refresh.values()]

    def _revoke(self, user_id: str, client_id: str | None) -> None:
        for token in self._tokens():
            if token.user_id == user_id and (client_id is None or token.client_id == client_id):
                token.revoked = True


def _new_token() -> str:
    # Zoom's tokens are JWTs; clients must treat them as opaque, so these only look the part.
    return "eyJ" + secrets.token_urlsafe(120)

