"""OAuth 2.0 for providers that use it (Google and Zoom now; Microsoft later): the operator's app
registration, token sets, and the token keeper a provider asks for a fresh access token.

A provider never refreshes a token on its own: it asks its :class:`TokenKeeper`, which
serializes refreshes per connection and stores what the provider returned before handing it out
(Zoom and Microsoft rotate refresh tokens: a lost race would log the user out).

The client side of the web-server flow (RFC 6749 §4.1, with PKCE, RFC 7636), over Authlib:

* :func:`authorization_request` — where to send the user: the authorization URL with ``state``,
  an S256 code challenge of a fresh verifier (RFC 7636 §4.1-4.2) and the app's fixed
  parameters (Google: ``access_type=offline``, ``prompt=consent``,
  ``include_granted_scopes=true``); the verifier is kept by the caller until the redirect.
* :func:`exchange_code` — the authorization code for tokens (RFC 6749 §4.1.3).
* :func:`refresh_tokens` — new tokens for a refresh token (RFC 6749 §6); the old refresh token is
  kept when the answer has none (Google never rotates it).
* :func:`revoke_token` — RFC 7009 revocation; False when the token was already invalid (Zoom
  says so with 400 ``invalid_request`` "Invalid Token!").
* :class:`MemoryTokenKeeper` — a :class:`TokenKeeper` holding tokens in memory (tests, the
  benchmark); the database-backed keeper lives in :mod:`calmesh.services`.

How the client authenticates is the app's (:attr:`OAuthApp.token_endpoint_auth_method`,
:attr:`OAuthApp.revocation_endpoint_auth_method`; RFC 6749 §2.3.1, RFC 7591 §2 names): Google
takes the credentials in the form body and revokes without them; Zoom takes them only as HTTP
Basic, at both endpoints (protocols.md §3.1).

Errors: the provider refusing the grant or the client (``invalid_grant``, ``invalid_client``,
``unauthorized_client``, any 401) is ``ProviderAuthFailed`` — the user must connect again; no
answer, a timeout or a 5xx is ``ProviderUnreachable``; an answer that is not a token response is
``ProviderProtocolError``. Messages name the endpoint and the OAuth error code, never a token or
the client secret, and nothing here logs.

Authlib's httpx integration is imported lazily, on first use: it is only needed by processes that
talk OAuth, and Authlib 1.9 announces with a ``DeprecationWarning`` that it will want ``httpx2``
instead of ``httpx`` — silenced at that import, as calmesh uses httpx throughout.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol

import httpx

from calmesh.errors import (
    ProviderAuthFailed,
    ProviderProtocolError,
    ProviderRefused,
    ProviderUnreachable,
)

__all__ = [
    "AuthorizationRequest",
    "ClientAuthMethod",
    "MemoryTokenKeeper",
    "OAuthApp",
    "TokenKeeper",
    "TokenSet",
    "authorization_request",
    "exchange_code",
    "refresh_tokens",
    "revoke_token",
]


#: How a client authenticates at a token or revocation endpoint: credentials in the form body,
#: as HTTP Basic, or not at all.
ClientAuthMethod = Literal["client_secret_post", "client_secret_basic", "none"]


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """The operator's registration with one OAuth provider, and that provider's addresses."""

    #: The calmesh provider name (``GOOGLE``).
    provider: str
    client_id: str
    client_secret: str = field(repr=False)
    authorize_url: str
    token_url: str
    revoke_url: str | None
    #: Scopes asked for when the caller names none.
    scopes: tuple[str, ...]
    #: Where the provider's API lives (Google: ``https://www.googleapis.com/calendar/v3/``).
    api_base_url: str
    #: Fixed authorization parameters (Google: ``access_type=offline``, ``prompt=consent``).
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    #: How the client authenticates at ``token_url`` (Google: form body; Zoom: HTTP Basic only).
    token_endpoint_auth_method: ClientAuthMethod = "client_secret_post"
    #: How it authenticates at ``revoke_url`` (Google: not at all; Zoom: HTTP Basic).
    revocation_endpoint_auth_method: ClientAuthMethod = "none"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What a token endpoint granted. ``expires_at`` None: the provider did not say."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    scope: str | None = None

    def expires_within(self, seconds: float) -> bool:
        return self.expires_at is not None and self.expires_at - datetime.now(timezone.utc) < timedelta(seconds=seconds)

    def to_secrets(self) -> dict[str, str]:
        """As the vault keeps a connection's secrets."""
        secrets = {"accessToken": self.access_token}
        if self.refresh_token:
            secrets["refreshToken"] = self.refresh_token
        if self.expires_at is not None:
            secrets["expiresAt"] = self.expires_at.isoformat()
        if self.scope:
            secrets["scope"] = self.scope
        return secrets

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, str]) -> TokenSet:
        expires = secrets.get("expiresAt")
        return cls(
            access_token=secrets.get("accessToken", ""),
            refresh_token=secrets.get("refreshToken") or None,
            expires_at=datetime.fromisoformat(expires) if expires else None,
            scope=secrets.get("scope") or None,
        )


class TokenKeeper(Protocol):
    """A connection's tokens: the current ones, and a refresh serialized per connection."""

    async def current(self) -> TokenSet:
        ...

    async def refresh(self, stale: TokenSet) -> TokenSet:
        """Fresh tokens in place of ``stale``. When someone else already replaced ``stale``
        (a concurrent refresh), their tokens are returned without asking the provider again.
        Raises ``ProviderAuthFailed`` when the provider refuses the refresh token
        (``invalid_grant``): the user must re-authenticate."""
        ...


# --- the authorization code flow -------------------------------------------------------------

#: OAuth error codes (RFC 6749 §5.2) that mean the grant or the client is no good: the user
#: (or the operator) must act, retrying cannot help.
_AUTH_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client", "access_denied", "invalid_token"})
#: Error codes Google answers while it is having trouble (google-auth retries these).
_TRANSIENT_ERRORS = frozenset({"server_error", "temporarily_unavailable", "internal_failure"})
_TOKEN_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
#: RFC 7636 §4.1: 43-128 characters; Authlib's generate_token(48) gives 48 of [A-Za-z0-9].
_VERIFIER_LENGTH = 48


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the user, and what to keep until the provider redirects back."""

    url: str
    state: str
    #: The PKCE verifier: keep it server-side with ``state``; :func:`exchange_code` needs it.
    code_verifier: str = field(repr=False)


def authorization_request(
    app: OAuthApp,
    redirect_uri: str,
    state: str,
    *,
    scopes: Sequence[str] | None = None,
    login_hint: str | None = None,
) -> AuthorizationRequest:
    """The authorization URL for ``app`` with ``state`` and a PKCE S256 challenge of a new verifier."""
    from authlib.common.security import generate_token  # type: ignore[import-untyped]
    from authlib.oauth2.client import OAuth2Client  # type: ignore[import-untyped]

    verifier: str = generate_token(_VERIFIER_LENGTH)
    # The protocol-level client: it builds the URL and the challenge, and sends nothing.
    client = OAuth2Client(None, client_id=app.client_id, redirect_uri=redirect_uri, code_challenge_method="S256")
    params: dict[str, str] = {**app.authorize_params, "scope": " ".join(scopes if scopes is not None else app.scopes)}
    if login_hint:
        params["login_hint"] = login_hint
    url, _ = client.create_authorization_url(app.authorize_url, state=state, code_verifier=verifier, **params)
    return AuthorizationRequest(url=str(url), state=state, code_verifier=verifier)


async def exchange_code(
    app: OAuthApp,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    *,
    http: httpx.AsyncClient | None = None,
) -> TokenSet:
    """The tokens the provider grants for an authorization ``code`` (RFC 6749 §4.1.3)."""
    async with _client(app, http) as client:
        async with _token_errors(app, "code exchange", secrets=(code, code_verifier)):
            answer = await client.fetch_token(
                app.token_url,
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=code_verifier,
            )
    return _token_set(app, answer, keep_refresh_token=None)


async def refresh_tokens(app: OAuthApp, refresh_token: str, *, http: httpx.AsyncClient | None = None) -> TokenSet:
    """New tokens for ``refresh_token`` (RFC 6749 §6); it is kept when the answer has none."""
    async with _client(app, http) as client:
        async with _token_errors(app, "token refresh", secrets=(refresh_token,)):
            answer = await client.refresh_token(app.token_url, refresh_token=refresh_token)
    return _token_set(app, answer, keep_refresh_token=refresh_token)


async def revoke_token(app: OAuthApp, token: str, *, http: httpx.AsyncClient | None = None) -> bool:
    """Revoke ``token`` (RFC 7009; Google: access or refresh token, revoking either revokes the
    grant). True when revoked; False when the provider says the token is already invalid or the
    provider has no revocation endpoint."""
    if not app.revoke_url:
        return False
    what = f"{app.provider} token revocation"
    async with _client(app, http) as client:
        async with _token_errors(app, "token revocation", secrets=(token,)):
            response: httpx.Response = await client.revoke_token(app.revoke_url, token=token)
    if response.is_success:
        return True
    error, reason = _oauth_error(response)
    if error in ("invalid_token", "invalid_grant") or response.status_code == 404 or _zoom_invalid_token(error, reason):
        return False  # Already revoked or expired: what the caller wanted.
    if response.status_code >= 500:
        raise ProviderUnreachable(f"{what}: HTTP {response.status_code}, the provider failed")
    if response.status_code == 401 or error in _AUTH_ERRORS:
        raise ProviderAuthFailed(f"{what}: the provider refused the client ({error or f'HTTP {response.status_code}'})")
    raise ProviderRefused(f"{what}: HTTP {response.status_code}{f' ({error})' if error else ''}")


class MemoryTokenKeeper(TokenKeeper):
    """A connection's tokens held in memory; refreshes are serialized by an ``asyncio.Lock``.

    A refresh asked with tokens that are no longer the held ones (someone refreshed meanwhile)
    returns the held ones without asking the provider. ``refreshes`` counts the refreshes that
    did ask it.
    """

    def __init__(self, app: OAuthApp, tokens: TokenSet, *, http: httpx.AsyncClient | None = None) -> None:
        self._app = app
        self._tokens = tokens
        self._http = http
        self._lock = asyncio.Lock()
        self.refreshes = 0

    @property
    def tokens(self) -> TokenSet:
        return self._tokens

    async def current(self) -> TokenSet:
        return self._tokens

    async def refresh(self, stale: TokenSet) -> TokenSet:
        async with self._lock:
            if self._tokens.access_token != stale.access_token:
                return self._tokens
            if not self._tokens.refresh_token:
                raise ProviderAuthFailed(
                    f"{self._app.provider} gave calmesh no refresh token; connect the account again"
                )
            self._tokens = await refresh_tokens(self._app, self._tokens.refresh_token, http=self._http)
            self.refreshes += 1
            return self._tokens


# --- Authlib and the errors ---------------------------------------------------------------------


class _Through(httpx.AsyncBaseTransport):
    """Sends Authlib's requests through the caller's client (its pool, proxies and limits); the
    caller's client is the caller's to close."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._client.send(request)

    async def aclose(self) -> None:
        pass


def _client(app: OAuthApp, http: httpx.AsyncClient | None) -> Any:
    """An Authlib ``AsyncOAuth2Client`` for ``app`` (an ``httpx.AsyncClient``: use ``async with``)."""
    from calmesh.providers.http import USER_AGENT

    with warnings.catch_warnings():
        # Authlib 1.9 warns, once, that it falls back to httpx when httpx2 is not installed. Its
        # deprecate module adds an "always" filter for its warnings when imported: import it
        # first, so that the "ignore" below comes before that filter.
        import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401

        warnings.simplefilter("ignore", DeprecationWarning)
        from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

    extra: dict[str, Any] = {"transport": _Through(http)} if http is not None else {}
    return AsyncOAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secret,
        token_endpoint_auth_method=app.token_endpoint_auth_method,
        revocation_endpoint_auth_method=app.revocation_endpoint_auth_method,
        timeout=_TOKEN_TIMEOUT,
        headers={"User-Agent": USER_AGENT},
        **extra,
    )


@asynccontextmanager
async def _token_errors(app: OAuthApp, what: str, *, secrets: Sequence[str]) -> AsyncIterator[None]:
    """Everything that can go wrong talking to a token endpoint, as :mod:`calmesh.errors`."""
    from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]

    what = f"{app.provider} {what}"
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ProviderUnreachable(f"{what}: the provider did not answer in time") from exc
    except httpx.HTTPStatusError as exc:
        # Authlib raises these for a 5xx, and for an error status whose body is not JSON.
        status = exc.response.status_code
        if status >= 500:
            raise ProviderUnreachable(f"{what}: HTTP {status}, the provider failed") from exc
        if status == 401:
            raise ProviderAuthFailed(f"{what}: the provider refused the client credentials (HTTP 401)") from exc
        raise ProviderProtocolError(f"{what}: HTTP {status} without an OAuth error") from exc
    except httpx.TransportError as exc:
        raise ProviderUnreachable(f"{what}: {type(exc).__name__}") from exc
    except AuthlibBaseError as exc:
        error = str(getattr(exc, "error", "") or "")
        description = _scrub(str(getattr(exc, "description", "") or ""), (*secrets, app.client_secret))
        detail = f"{error}: {description}" if description else error
        if error in _AUTH_ERRORS:
            raise ProviderAuthFailed(
                f"{what}: the provider refused ({detail}); the user must connect the account again"
            ) from exc
        if error in _TRANSIENT_ERRORS:
            raise ProviderUnreachable(f"{what}: the provider failed ({detail})") from exc
        raise ProviderRefused(f"{what}: the provider refused the request ({detail})") from exc
    except ValueError as exc:
        # Authlib: an answer that is not a JSON object; OAuth2Token: a broken expires_in.
        raise ProviderProtocolError(f"{what}: the answer is not an OAuth token response") from exc


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """A provider's error description, safe to show: no secret we sent, one line, short."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return " ".join(text.split())[:200]


def _oauth_error(response: httpx.Response) -> tuple[str | None, str | None]:
    """``(error, reason)`` of an OAuth error body; Zoom words the reason ``reason``, RFC 6749
    §5.2 ``error_description``."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    reason = body.get("reason", body.get("error_description"))
    return (error if isinstance(error, str) else None), (reason if isinstance(reason, str) else None)


def _zoom_invalid_token(error: str | None, reason: str | None) -> bool:
    # Zoom answers a token it no longer knows with 400 invalid_request "Invalid Token!" rather
    # than RFC 7009's 200.
    return error == "invalid_request" and reason is not None and "invalid token" in reason.lower()


def _token_set(app: OAuthApp, answer: Mapping[str, Any], *, keep_refresh_token: str | None) -> TokenSet:
    what = f"{app.provider} token endpoint"
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProviderProtocolError(f"{what}: the answer has no access_token")
    refresh = answer.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        refresh = keep_refresh_token
    expires_at = None
    expires_in = answer.get("expires_in")
    if expires_in is not None:
        try:
            seconds = float(expires_in)
        except (TypeError, ValueError):
            raise ProviderProtocolError(f"{what}: expires_in is not a number") from None
        expires_at = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    scope = answer.get("scope")
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=expires_at,
        scope=scope if isinstance(scope, str) and scope else None,
    )
