"""Google's OAuth 2.0 web-server flow (RFC 6749 §4.1, PKCE RFC 7636), as protocols.md §1.1 describes it.

Endpoints (all at the app's root):

* ``GET /o/oauth2/v2/auth`` (and the legacy ``/o/oauth2/auth``): checks the request — an unknown
  ``client_id`` or an unregistered ``redirect_uri`` is a 400 HTML error page, as at Google — and
  shows a small "Choose an account" page listing every sandbox user (``login_hint``'s account
  marked and focused) and a Deny button.
* ``POST /o/oauth2/v2/auth/consent``: what that page's forms send — the original parameters
  plus ``user=<email>`` and ``decision=allow|deny``. Answers 302 to
  ``redirect_uri?code=…&scope=…&state=…``, or ``?error=access_denied&state=…``.

  **Driving it from a program:** GET the authorization URL (200), then POST to
  ``<authorization path>/consent`` the URL's query parameters as form fields (they may also stay
  in the query string) plus ``user=ada@example.com&decision=allow``; read ``code`` and ``state``
  from the 302's ``Location``. With ``prompt=none`` the GET itself answers 302: a code when
  ``login_hint`` names a user who already granted the scopes, else ``error=interaction_required``.
* ``POST /token``: ``authorization_code`` and ``refresh_token`` grants. Client authentication
  by ``client_secret_post`` or HTTP Basic; a wrong client is 401 ``invalid_client``. Codes are
  single-use, live 10 minutes and are bound to the client, redirect URI, user, scopes and PKCE
  challenge. A refresh token is issued only with ``access_type=offline`` and only when the user
  has no live refresh token for the client from an earlier consent, unless ``prompt=consent``
  (tokens from ``sb.issue_tokens`` do not count). Refreshing does not
  rotate it (the answer has no ``refresh_token``).
* ``POST /revoke`` (``token=`` an access or refresh token): ends the whole grant of that user to
  that client — its refresh tokens and access tokens. GET is 404.

Token formats: access tokens ``ya29.…`` (valid 3599 s), refresh tokens ``1//0…``, codes ``4/0…``.
"""

from __future__ import annotations

import hmac
import html
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from calmesh.sandbox._common import Call
from calmesh.sandbox._oauth import Account, AuthorizationCode, AuthorizationPages, AuthorizationRequest, IssuedToken, PageError
from calmesh.sandbox._oauth import basic_credentials, consent_page, html_page, pkce_challenge, redirect_to, requested_pkce
from calmesh.sandbox.google.errors import OAuthError
from calmesh.sandbox.google.state import User

__all__ = ["ACCESS_TOKEN_SECONDS", "CALENDAR_SCOPE", "OAuthAuthority", "Principal"]

CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
#: ``expires_in`` of every access token, as Google answers it.
ACCESS_TOKEN_SECONDS = 3599
CODE_SECONDS = 600
_GOOGLE_SCOPE_PREFIX = "https://www.googleapis.com/auth/"
_OPENID_SCOPES = {"openid", "email", "profile"}


@dataclass
class Client:
    id: str
    secret: str
    #: None: any redirect URI is accepted.
    redirect_uris: tuple[str, ...] | None


@dataclass(frozen=True)
class Principal:
    """Who an access token speaks for."""

    email: str
    client_id: str
    scopes: frozenset[str]


@dataclass(kw_only=True)
class _Code(AuthorizationCode):
    email: str
    offline: bool
    force_consent: bool


@dataclass(kw_only=True)
class _Token(IssuedToken):
    email: str
    #: A refresh token from the consent flow (not from issue_tokens, which tests use on the side).
    consented: bool = False


@dataclass(frozen=True, kw_only=True)
class _AuthRequest(AuthorizationRequest):
    scopes: tuple[str, ...]
    offline: bool
    prompt: frozenset[str]
    login_hint: str | None
    include_granted: bool


class OAuthAuthority(AuthorizationPages[_AuthRequest, User]):
    """Clients, codes and tokens of one sandbox, and the OAuth endpoints' handlers."""

    account_noun = "account"

    def __init__(self, lock: threading.RLock, users: Callable[[], Iterable[User]]) -> None:
        self._lock = lock
        self._users = users
        self.now: Callable[[], float] = time.time
        self.clients: dict[str, Client] = {}
        self.clear()

    def clear(self) -> None:
        """Forget every code, token and grant (clients stay)."""
        with self._lock:
            self._codes: dict[str, _Code] = {}
            self._access: dict[str, _Token] = {}
            self._refresh: dict[str, _Token] = {}
            self._granted: dict[tuple[str, str], set[str]] = {}

    # --- for tests -----------------------------------------------------------------------

    def add_client(self, client_id: str, client_secret: str, redirect_uris: Iterable[str] | None = None) -> None:
        with self._lock:
            uris = tuple(redirect_uris) if redirect_uris is not None else None
            self.clients[client_id] = Client(client_id, client_secret, uris)

    def issue_tokens(self, email: str, scopes: Iterable[str], client_id: str) -> dict[str, Any]:
        with self._lock:
            if client_id not in self.clients:
                raise KeyError(f"the sandbox has no OAuth client {client_id}")
            user = self._user(email)
            if user is None:
                raise KeyError(f"the sandbox has no user {email}")
            return self._grant(user.email, client_id, tuple(scopes), with_refresh=True)

    def expire_access_tokens(self, email: str | None = None) -> None:
        with self._lock:
            for token in self._access.values():
                if email is None or token.email.lower() == email.lower():
                    token.expires_at = 0.0

    def revoke_grants(self, email: str) -> None:
        with self._lock:
            for token in [*self._access.values(), *self._refresh.values()]:
                if token.email.lower() == email.lower():
                    token.revoked = True
            for key in [key for key in self._granted if key[0].lower() == email.lower()]:
                del self._granted[key]

    def principal(self, access_token: str) -> Principal | None:
        """Who a bearer token speaks for; None if it is unknown, expired or revoked."""
        with self._lock:
            token = self._access.get(access_token)
            if token is None or token.revoked or token.expires_at <= self.now() or self._user(token.email) is None:
                return None
            return Principal(token.email, token.client_id, frozenset(token.scopes))

    # --- authorization page --------------------------------------------------------------

    def _answer_without_page(self, request: _AuthRequest) -> Response | None:
        if "none" not in request.prompt:
            return None
        # No page may be shown: answer at once from an existing grant, or refuse.
        user = self._user(request.login_hint) if request.login_hint else None
        with self._lock:
            granted = self._granted.get((user.email.lower(), request.client_id)) if user else None
        if user is None or granted is None or not set(request.scopes) <= granted:
            return redirect_to(request.redirect_uri, {"error": "interaction_required"}, request.state)
        return redirect_to(request.redirect_uri, self._new_code(request, user), request.state)

    def _account(self, email: str) -> User | None:
        return self._user(email)

    def _check(self, params: dict[str, str]) -> _AuthRequest:
        with self._lock:
            client = self.clients.get(params.get("client_id", ""))
        if client is None:
            raise PageError("The OAuth client was not found.", error="invalid_client")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise PageError("Missing required parameter: redirect_uri")
        if client.redirect_uris is not None and redirect_uri not in client.redirect_uris:
            raise PageError(f"The redirect URI {redirect_uri} is not registered for this client.", error="redirect_uri_mismatch")
        if params.get("response_type") != "code":
            raise PageError(f"Invalid response_type: {params.get('response_type', '')}", error="unsupported_response_type")
        scopes = tuple(dict.fromkeys(params.get("scope", "").split()))
        if not scopes:
            raise PageError("Missing required parameter: scope")
        unknown = [s for s in scopes if s not in _OPENID_SCOPES and not s.startswith(_GOOGLE_SCOPE_PREFIX)]
        if unknown:
            raise PageError(f"Some requested scopes were invalid: {' '.join(unknown)}", error="invalid_scope")
        challenge, method = requested_pkce(params)
        access_type = params.get("access_type", "online")
        if access_type not in ("online", "offline"):
            raise PageError(f"Invalid access_type: {access_type}")
        return _AuthRequest(
            client_id=client.id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=params.get("state"),
            offline=access_type == "offline",
            prompt=frozenset(params.get("prompt", "").split()),
            login_hint=params.get("login_hint") or None,
            include_granted=params.get("include_granted_scopes") == "true",
            challenge=challenge,
            method=method,
            params={k: v for k, v in params.items() if k not in ("user", "decision")},
        )

    def _new_code(self, request: _AuthRequest, user: User) -> dict[str, str]:
        email = user.email
        with self._lock:
            scopes = request.scopes
            if request.include_granted:
                earlier = self._granted.get((email.lower(), request.client_id), set())
                scopes = tuple(dict.fromkeys([*scopes, *sorted(earlier)]))
            # The user consented: prompt=none may answer from this grant from now on.
            self._granted.setdefault((email.lower(), request.client_id), set()).update(scopes)
            code = "4/0" + secrets.token_urlsafe(54)
            self._codes[code] = _Code(
                client_id=request.client_id,
                redirect_uri=request.redirect_uri,
                email=email,
                scopes=scopes,
                challenge=request.challenge,
                method=request.method,
                offline=request.offline,
                force_consent="consent" in request.prompt,
                expires_at=self.now() + CODE_SECONDS,
            )
            return {"code": code, "scope": " ".join(scopes)}

    def _consent_page(self, request: _AuthRequest) -> Response:
        hint = request.login_hint.lower() if request.login_hint is not None else None
        return consent_page(
            title="Sign in - Google Accounts (calmesh sandbox)",
            heading="Choose an account",
            intro=f"to continue to <b>{html.escape(request.client_id)}</b>, which asks for:",
            scopes=request.scopes,
            account_prompt=None,
            accounts=[Account(user.email, user.name or "", user.email.lower() == hint) for user in self._users()],
            no_accounts="No accounts in this sandbox yet (POST /_sandbox/users).",
            action="/o/oauth2/v2/auth/consent",
            params=request.params,
            deny="Deny",
        )

    def _error_page(self, error: PageError) -> Response:
        body = (
            f"<h1>Access blocked: authorization error</h1><p>Error {error.status}: <b>{html.escape(error.error)}</b></p>"
            f"<p>{html.escape(error.description)}</p>"
        )
        return html_page("Error 400 (OAuth 2.0 Error)", body, status=error.status)

    # --- token and revocation endpoints --------------------------------------------------

    async def token(self, call: Call) -> Response:
        fields = dict(call.form or {})
        if isinstance(call.json, dict):
            fields.update({k: str(v) for k, v in call.json.items()})
        client = self._client(call, fields)
        grant_type = fields.get("grant_type")
        if grant_type == "authorization_code":
            answer = self._exchange(client, fields)
        elif grant_type == "refresh_token":
            answer = self._refreshed(client, fields)
        else:
            raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type or ''}")
        return call.reply(answer, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _client(self, call: Call, fields: dict[str, str]) -> Client:
        client_id, secret = fields.get("client_id"), fields.get("client_secret")
        authorization = call.header("authorization") or ""
        if authorization[:6].lower() == "basic ":
            # A Basic header wins over body credentials, even when it cannot be read.
            client_id, secret = basic_credentials(authorization) or (None, None)
        with self._lock:
            client = self.clients.get(client_id or "")
        if client is None or secret is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
            raise OAuthError(401, "invalid_client", "Unauthorized")
        return client

    def _exchange(self, client: Client, fields: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            code = self._codes.get(fields.get("code", ""))
            if code is None or code.client_id != client.id:
                raise OAuthError(400, "invalid_grant", "Malformed auth code.")
            if code.used:
                raise OAuthError(400, "invalid_grant", "Code was already redeemed.")
            if code.expires_at <= self.now():
                raise OAuthError(400, "invalid_grant", "Code has expired.")
            if fields.get("redirect_uri") != code.redirect_uri:
                raise OAuthError(400, "invalid_grant", "redirect_uri does not match the authorization request.")
            if code.challenge is not None:
                verifier = fields.get("code_verifier")
                if not verifier:
                    raise OAuthError(400, "invalid_grant", "Missing code verifier.")
                if not hmac.compare_digest(pkce_challenge(verifier, code.method), code.challenge):
                    raise OAuthError(400, "invalid_grant", "Invalid code verifier.")
            code.used = True
            key = (code.email.lower(), client.id)
            has_live_refresh = any(
                t.consented and not t.revoked and (t.email.lower(), t.client_id) == key for t in self._refresh.values()
            )
            with_refresh = code.offline and (code.force_consent or not has_live_refresh)
            return self._grant(code.email, client.id, code.scopes, with_refresh=with_refresh, consented=True)

    def _refreshed(self, client: Client, fields: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            token = self._refresh.get(fields.get("refresh_token", ""))
            if token is None or token.revoked:
                raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
            if token.client_id != client.id:
                raise OAuthError(401, "unauthorized_client", "Unauthorized")
            scopes = token.scopes
            if fields.get("scope"):
                wanted = tuple(fields["scope"].split())
                if not set(wanted) <= set(scopes):
                    raise OAuthError(400, "invalid_scope", "Some requested scopes were not granted.")
                scopes = wanted
            access = "ya29." + secrets.token_urlsafe(96)
            expires = self.now() + ACCESS_TOKEN_SECONDS + 1
            self._access[access] = _Token(email=token.email, client_id=client.id, scopes=scopes, expires_at=expires)
            return {
                "access_token": access,
                "expires_in": ACCESS_TOKEN_SECONDS,
                "scope": " ".join(scopes),
                "token_type": "Bearer",
            }

    def _grant(
        self, email: str, client_id: str, scopes: tuple[str, ...], *, with_refresh: bool, consented: bool = False
    ) -> dict[str, Any]:
        access = "ya29." + secrets.token_urlsafe(96)
        expires = self.now() + ACCESS_TOKEN_SECONDS + 1
        self._access[access] = _Token(email=email, client_id=client_id, scopes=scopes, expires_at=expires)
        self._granted.setdefault((email.lower(), client_id), set()).update(scopes)
        answer: dict[str, Any] = {"access_token": access, "expires_in": ACCESS_TOKEN_SECONDS}
        if with_refresh:
            refresh = "1//0" + secrets.token_urlsafe(72)
            self._refresh[refresh] = _Token(
                email=email, client_id=client_id, scopes=scopes, expires_at=float("inf"), consented=consented
            )
            answer["refresh_token"] = refresh
        answer.update(scope=" ".join(scopes), token_type="Bearer")
        return answer

    async def revoke(self, call: Call) -> Response:
        if call.method != "POST":
            return call.reply({"error": {"code": 404, "message": "Not Found"}}, 404)
        value = call.field("token") or ""
        with self._lock:
            token = self._access.get(value) or self._refresh.get(value)
            if token is None or token.revoked:
                raise OAuthError(400, "invalid_token", "Token expired or revoked")
            key = (token.email.lower(), token.client_id)
            for other in [*self._access.values(), *self._refresh.values()]:
                if (other.email.lower(), other.client_id) == key:
                    other.revoked = True
            self._granted.pop(key, None)
        return call.reply({}, 200)

    def _user(self, email: str | None) -> User | None:
        if not email:
            return None
        for user in self._users():
            if user.email.lower() == email.lower():
                return user
        return None

