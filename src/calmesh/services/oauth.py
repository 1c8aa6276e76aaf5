"""OAuth connections (PRODUCT.md C1, C3): the authorization URL, redeeming the code the provider
sends back, and the database-backed token keeper every OAuth adapter refreshes through.

The flow, as seed 001 calls it:

1. ``auth-url`` stores a consent in progress (:class:`~calmesh.storage.models.OAuthAuthorization`):
   a random ``state`` bound to the tenant, the provider and the redirect URI, and the PKCE
   verifier, which never leaves calmesh. The user goes to the URL and consents.
2. The provider sends the browser to the redirect URI with ``code`` and ``state``: either the
   application's own page, which then calls ``POST /v1/integrations`` with the code, or calmesh's
   callback (``GET /v1/integrations/oauth/callback``), which does that itself.
3. :func:`redeem` checks the state against the tenant, provider and redirect URI, exchanges the
   code with the verifier, and proves the tokens — a calendar provider by listing the account's
   calendars, a conferencing one (Zoom) by reading who the tokens act as. Only then does
   :mod:`calmesh.services.integrations` store anything.

Refreshing is serialized per connection (:class:`DatabaseTokenKeeper`): within a process by a
lock, across processes by a write on the credentials row as the refresh transaction's first
statement — a row lock on PostgreSQL, the database's write lock on SQLite (which ignores
``FOR UPDATE``) — and the new tokens are committed before anyone uses them: providers that
rotate refresh tokens (Zoom, Microsoft) log the user out when two refreshes race.
"""

from __future__ import annotations

import asyncio
import secrets as random_secrets
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from pydantic import Field, SecretStr
from sqlalchemy import delete, select, update

from calmesh.auth import oauth as oauth_client
from calmesh.auth.oauth import OAuthApp, TokenKeeper, TokenSet
from calmesh.config import Settings
from calmesh.errors import InvalidInput, InvalidState, NotFound, ProviderAuthFailed
from calmesh.providers.base import ProviderConfig, RemoteCalendar
from calmesh.providers.registry import CONFERENCING_PROVIDERS, open_conferencing_provider, open_provider
from calmesh.schemas import ApiModel
from calmesh.services.credentials import load_credentials, store_credentials
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models

__all__ = [
    "AUTHORIZATION_LIFETIME",
    "CALLBACK_PATH",
    "OAUTH_PROVIDERS",
    "AuthUrlRead",
    "AuthUrlRequest",
    "DatabaseTokenKeeper",
    "ProvenAccount",
    "callback_url",
    "connection_config",
    "create_auth_url",
    "oauth_app",
    "PendingSignIn",
    "pending_sign_in",
    "redeem",
]

#: Providers connected through OAuth (the others take a password or a URL).
OAUTH_PROVIDERS = frozenset({"GOOGLE", "ZOOM"})
#: OAuth providers whose accounts make meetings and have no calendars (proven by ``account()``).
_CONFERENCING = frozenset(CONFERENCING_PROVIDERS)
#: How long a user has between ``auth-url`` and coming back with the code.
AUTHORIZATION_LIFETIME = timedelta(minutes=10)
#: calmesh's own redirect target, for applications that let calmesh finish the flow.
CALLBACK_PATH = "/v1/integrations/oauth/callback"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def oauth_app(settings: Settings, provider: str) -> OAuthApp:
    """The operator's OAuth registration for ``provider``, from the settings."""
    if provider == "GOOGLE":
        from calmesh.providers.google import google_app

        client_id, client_secret = _client_credentials("Google", settings.google_client_id, settings.google_client_secret)
        return google_app(
            client_id,
            client_secret,
            accounts_url=settings.google_accounts_url,
            oauth_url=settings.google_oauth_url,
            api_url=settings.google_api_url,
        )
    if provider == "ZOOM":
        from calmesh.providers.zoom import zoom_app

        client_id, client_secret = _client_credentials(
            "Zoom", settings.zoom_client_id, settings.zoom_client_secret, source=" from the Zoom app"
        )
        return zoom_app(client_id, client_secret, oauth_url=settings.zoom_oauth_url, api_url=settings.zoom_api_url)
    raise InvalidInput(f"{provider} does not connect through OAuth", field="provider")


def _client_credentials(
    name: str, client_id: str | None, client_secret: SecretStr | None, *, source: str = ""
) -> tuple[str, str]:
    """The operator's client id and secret for ``name``; without them, which settings to set."""
    if not client_id or client_secret is None:
        setting = f"CALMESH_{name.upper()}"
        raise InvalidState(
            f"{name} is not set up on this calmesh: the operator sets {setting}_CLIENT_ID and"
            f" {setting}_CLIENT_SECRET{source} (`calmesh sandbox` prints values for its emulator)"
        )
    return client_id, client_secret.get_secret_value()


# --- the authorization URL ------------------------------------------------------------------


class AuthUrlRequest(ApiModel):
    """``integrations.getAuthUrl``: where to send the user to consent."""

    provider: Literal["GOOGLE", "ZOOM"]
    redirect_uri: str | None = Field(
        default=None,
        max_length=2000,
        description="Where the provider sends the user back with the code. Default: calmesh's own callback, which completes the connection itself.",
    )
    scopes: list[str] | None = Field(
        default=None, description="OAuth scopes; default: what calendar sync (Google) or making meetings (Zoom) needs."
    )
    connection_id: str | None = Field(default=None, description="Re-authenticate this integration instead of connecting a new one.")
    user_id: str | None = Field(
        default=None,
        description="The calmesh user whose account this is. Zoom: required with calmesh's own callback (a Zoom integration belongs to a user).",
    )
    login_hint: str | None = Field(default=None, max_length=320, description="The account's email, to preselect it.")
    return_to: str | None = Field(
        default=None, max_length=2000, description="With calmesh's callback: where the browser goes once connected (gets integrationId or error)."
    )


class AuthUrlRead(ApiModel):
    url: str
    state: str
    redirect_uri: str
    expires_at: datetime


def _http_url(value: str, field: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise InvalidInput("must be an absolute http(s) URL", field=field)
    return value


async def create_auth_url(runtime: Runtime, tenant_id: str, request: AuthUrlRequest) -> AuthUrlRead:
    app = oauth_app(runtime.settings, request.provider)
    redirect_uri = _http_url(request.redirect_uri, "redirectUri") if request.redirect_uri else callback_url(runtime.settings)
    return_to = _http_url(request.return_to, "returnTo") if request.return_to else None
    now = _now()
    async with UnitOfWork(runtime) as uow:
        if request.connection_id is not None:
            connection = await uow.owned(models.Connection, request.connection_id, tenant_id, "no such integration")
            if connection.provider != request.provider:
                raise InvalidInput(f"connectionId names a {connection.provider} integration, not {request.provider}", field="connectionId")
        if request.user_id is not None:
            await uow.owned(models.User, request.user_id, tenant_id, "no such user")
        elif request.provider in _CONFERENCING and request.connection_id is None and request.redirect_uri is None:
            # calmesh's callback has nobody else to ask whose meetings these will be.
            raise InvalidInput(f"a {request.provider} integration belongs to a calmesh user: give userId", field="userId")
        # Consents nobody came back for are forgotten as new ones are made.
        await uow.session.execute(delete(models.OAuthAuthorization).where(models.OAuthAuthorization.expires_at < now))
        authorization = oauth_client.authorization_request(
            app, redirect_uri, random_secrets.token_urlsafe(32), scopes=request.scopes, login_hint=request.login_hint
        )
        uow.session.add(
            models.OAuthAuthorization(
                state=authorization.state,
                tenant_id=tenant_id,
                provider=request.provider,
                redirect_uri=redirect_uri,
                code_verifier=authorization.code_verifier,
                scopes=list(request.scopes or app.scopes),
                connection_id=request.connection_id,
                user_id=request.user_id,
                return_to=return_to,
                created_at=now,
                expires_at=now + AUTHORIZATION_LIFETIME,
            )
        )
        await uow.commit()
    return AuthUrlRead(url=authorization.url, state=authorization.state, redirect_uri=redirect_uri, expires_at=now + AUTHORIZATION_LIFETIME)


def callback_url(settings: Settings) -> str:
    return settings.resolved_public_base_url + CALLBACK_PATH


# --- redeeming the code ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProvenAccount:
    """An account whose credentials just proved themselves (listed its calendars, or — a
    conferencing account — said who they act as): ready to be stored."""

    account: dict[str, str]
    secrets: dict[str, str]
    email: str | None
    calendars: list[RemoteCalendar]
    writable: bool
    #: From the consent: the integration to re-authenticate and the user it belongs to.
    connection_id: str | None
    user_id: str | None
    #: Where calmesh's callback sends the browser afterwards.
    return_to: str | None


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    tenant_id: str
    provider: str
    return_to: str | None


async def pending_sign_in(runtime: Runtime, state: str, *, forget: bool = False) -> PendingSignIn:
    """Whose consent ``state`` is (calmesh's callback has no API key to tell); ``forget`` drops
    it (the user declined)."""
    async with UnitOfWork(runtime) as uow:
        authorization = await uow.session.get(models.OAuthAuthorization, state)
        if authorization is None or authorization.expires_at < _now():
            raise NotFound("this sign-in has expired or was already used; start connecting again")
        pending = PendingSignIn(authorization.tenant_id, authorization.provider, authorization.return_to)
        if forget:
            await uow.session.delete(authorization)
            await uow.commit()
        return pending


async def _take_authorization(
    runtime: Runtime, tenant_id: str, provider: str, redirect_uri: str | None, state: str | None
) -> models.OAuthAuthorization:
    """The consent this code answers, removed so that it serves once.

    Without ``state`` (seed 001's ``connect({provider, code, redirectUri})``), the tenant's most
    recent consent for that provider and redirect URI is meant.
    """
    async with UnitOfWork(runtime) as uow:
        table = models.OAuthAuthorization
        if state is not None:
            authorization = await uow.session.get(table, state)
        else:
            authorization = await uow.session.scalar(
                select(table)
                .where(table.tenant_id == tenant_id, table.provider == provider, table.redirect_uri == (redirect_uri or callback_url(runtime.settings)))
                .order_by(table.created_at.desc())
                .limit(1)
            )
        if authorization is None or authorization.tenant_id != tenant_id or authorization.expires_at < _now():
            raise InvalidInput("no sign-in in progress matches this state; ask for a new auth URL", field="state")
        if authorization.provider != provider:
            raise InvalidInput(f"this state was issued for {authorization.provider}, not {provider}", field="provider")
        if redirect_uri is not None and redirect_uri != authorization.redirect_uri:
            raise InvalidInput("redirectUri differs from the one the auth URL was made for", field="redirectUri")
        await uow.session.delete(authorization)
        await uow.commit()
        uow.session.expunge(authorization)
        return authorization


async def redeem(
    runtime: Runtime,
    tenant_id: str,
    provider: str,
    code: str,
    *,
    redirect_uri: str | None,
    state: str | None,
    user_id: str | None = None,
    connection_id: str | None = None,
) -> ProvenAccount:
    """Exchange the code of a consent for tokens and prove them (see the module docstring).

    ``user_id`` and ``connection_id``: what the caller already knows; a conferencing account
    needs one of them or the consent's, refused before the code is exchanged."""
    app = oauth_app(runtime.settings, provider)
    authorization = await _take_authorization(runtime, tenant_id, provider, redirect_uri, state)
    if provider in _CONFERENCING and not (user_id or connection_id or authorization.user_id or authorization.connection_id):
        raise InvalidInput(
            f"a {provider} integration belongs to a calmesh user: give userId (here or to auth-url); then sign in again",
            field="userId",
        )
    tokens = await oauth_client.exchange_code(app, code, authorization.redirect_uri, authorization.code_verifier)
    keeper = oauth_client.MemoryTokenKeeper(app, tokens)
    config = _config(runtime.settings, app, keeper)
    calendars: list[RemoteCalendar] = []
    if provider in _CONFERENCING:
        service = open_conferencing_provider(provider, config)
        try:
            who = await service.account()
        finally:
            await service.aclose()
        email, writable = who.email, True
        account = {"email": who.email, "zoomUserId": who.user_id, "zoomAccountId": who.account_id}
    else:
        adapter = open_provider(provider, config)
        try:
            calendars = await adapter.list_calendars()
            email = await adapter.account_email()  # type: ignore[attr-defined]
            writable = adapter.capabilities.write
        finally:
            await adapter.aclose()
        account = {"email": email}
    held = await keeper.current()  # proving them may have refreshed them
    return ProvenAccount(
        account={key: value for key, value in account.items() if value},
        secrets=held.to_secrets(),
        email=email,
        calendars=calendars,
        writable=writable,
        connection_id=authorization.connection_id,
        user_id=authorization.user_id,
        return_to=authorization.return_to,
    )


def _config(settings: Settings, app: OAuthApp, tokens: TokenKeeper) -> ProviderConfig:
    return ProviderConfig(
        account={},
        allow_private_network=settings.allow_private_network,
        timeout_seconds=settings.provider_timeout_seconds,
        retry_base_seconds=settings.provider_retry_base_seconds,
        oauth=app,
        tokens=tokens,
    )


# --- refreshing -----------------------------------------------------------------------------

#: One lock per runtime and connection in this process; other processes (and other runtimes:
#: tests run two side by side) wait on the credentials row.
_refresh_locks: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = weakref.WeakValueDictionary()


class DatabaseTokenKeeper:
    """A stored connection's tokens: refreshed once however many callers find them stale, and
    committed to the vault before they are handed out."""

    def __init__(self, runtime: Runtime, tenant_id: str, connection_id: str, app: OAuthApp, tokens: TokenSet) -> None:
        self._runtime, self._tenant_id, self._connection_id = runtime, tenant_id, connection_id
        self._app, self._tokens = app, tokens

    async def current(self) -> TokenSet:
        return self._tokens

    async def refresh(self, stale: TokenSet) -> TokenSet:
        key = (id(self._runtime), self._connection_id)
        lock = _refresh_locks.get(key)
        if lock is None:
            lock = _refresh_locks[key] = asyncio.Lock()
        async with lock, UnitOfWork(self._runtime) as uow:
            # A write first, so that other processes' refreshes of this connection wait until we
            # commit: a no-op UPDATE takes the row's lock on PostgreSQL and the database's write
            # lock on SQLite (where FOR UPDATE is ignored, and a transaction that read first could
            # not write later). What we read after it is what the last refresh stored.
            credential = models.Credential
            held = await uow.session.execute(
                update(credential)
                .where(credential.connection_id == self._connection_id)
                .values(kek_id=credential.kek_id)
                .execution_options(synchronize_session=False)
            )
            if held.rowcount == 0:  # type: ignore[attr-defined]
                raise ProviderAuthFailed("this integration's credentials are gone (it was disconnected); connect the account again")
            secrets = dict((await load_credentials(uow, self._tenant_id, self._connection_id)).items())
            stored = TokenSet.from_secrets(secrets)
            if stored.access_token != stale.access_token:
                self._tokens = stored  # someone refreshed while we waited
                return stored
            if not stored.refresh_token:
                raise ProviderAuthFailed("the provider gave calmesh no refresh token; reconnect the account")
            fresh = await oauth_client.refresh_tokens(self._app, stored.refresh_token)
            await store_credentials(uow, self._tenant_id, self._connection_id, {**secrets, **fresh.to_secrets()})
            await uow.commit()
        self._tokens = fresh
        return fresh


def connection_config(runtime: Runtime, tenant_id: str, connection_id: str, provider: str, secrets: dict[str, str]) -> ProviderConfig:
    """The adapter configuration of a stored OAuth connection."""
    app = oauth_app(runtime.settings, provider)
    keeper = DatabaseTokenKeeper(runtime, tenant_id, connection_id, app, TokenSet.from_secrets(secrets))
    return _config(runtime.settings, app, keeper)
