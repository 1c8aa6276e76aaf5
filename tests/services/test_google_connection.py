"""A Google connection's tokens and channels over its life: refreshes serialized per connection
and stored before use, and a disconnect that stops the push channels and revokes the grant.

The account is connected the way the API does it — an auth URL, the emulator's consent form,
the code redeemed — against calmesh's Google emulator served on loopback.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from calmesh.auth.oauth import TokenSet
from calmesh.errors import ProviderAuthFailed
from calmesh.sandbox.google import GoogleSandbox
from calmesh.services import integrations, oauth
from calmesh.services.credentials import load_credentials
from calmesh.services.integrations import IntegrationCreate
from calmesh.services.oauth import AuthUrlRequest, DatabaseTokenKeeper
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.sync import sync_connection
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage.migrate import upgrade
from tests.conftest import make_settings
from tests.mirror_helpers import make_tenant

REDIRECT = "https://app.example.com/oauth"


@pytest.fixture
async def runtime(google_sandbox: object, database_url: str, tmp_path: Path) -> Runtime:  # type: ignore[misc]
    url: str = google_sandbox.url  # type: ignore[attr-defined]
    sandbox: GoogleSandbox = google_sandbox.sandbox  # type: ignore[attr-defined]
    rt = build_runtime(
        make_settings(
            database_url, tmp_path,
            google_client_id=sandbox.client_id, google_client_secret=sandbox.client_secret,
            google_accounts_url=url, google_oauth_url=url, google_api_url=url,
        )
    )
    await upgrade(rt.engine)
    yield rt
    await rt.close()


async def connect(runtime: Runtime, email: str = "ada@example.com") -> tuple[str, str]:
    tenant_id = await make_tenant(runtime)
    started = await oauth.create_auth_url(runtime, tenant_id, AuthUrlRequest(provider="GOOGLE", redirect_uri=REDIRECT))
    parts = urlsplit(started.url)
    async with httpx.AsyncClient(timeout=10) as browser:
        answer = await browser.post(
            f"{parts.scheme}://{parts.netloc}{parts.path}/consent", data=dict(parse_qsl(parts.query)) | {"user": email, "decision": "allow"}
        )
    back = httpx.URL(answer.headers["location"])
    created = await integrations.connect(
        runtime, tenant_id, IntegrationCreate(provider="GOOGLE", code=back.params["code"], state=back.params["state"], redirect_uri=REDIRECT)
    )
    return tenant_id, created.id


async def stored_tokens(runtime: Runtime, tenant_id: str, connection_id: str) -> TokenSet:
    async with UnitOfWork(runtime) as uow:
        return TokenSet.from_secrets(dict((await load_credentials(uow, tenant_id, connection_id)).items()))


def refresh_requests(sandbox: GoogleSandbox) -> int:
    return sum(1 for r in sandbox.requests if r.path == "/token" and "refresh_token" in str(r.body))


async def test_concurrent_refreshes_ask_google_once_and_everyone_gets_the_stored_tokens(google_sandbox: object, runtime: Runtime) -> None:
    sandbox: GoogleSandbox = google_sandbox.sandbox  # type: ignore[attr-defined]
    tenant_id, connection_id = await connect(runtime)
    stale = await stored_tokens(runtime, tenant_id, connection_id)
    app = oauth.oauth_app(runtime.settings, "GOOGLE")
    before = refresh_requests(sandbox)

    # Eight syncs and checks at once, each with its own keeper, all holding the same stale token.
    keepers = [DatabaseTokenKeeper(runtime, tenant_id, connection_id, app, stale) for _ in range(8)]
    fresh = await asyncio.gather(*(keeper.refresh(stale) for keeper in keepers))

    assert refresh_requests(sandbox) - before == 1
    assert len({t.access_token for t in fresh}) == 1 and fresh[0].access_token != stale.access_token
    stored = await stored_tokens(runtime, tenant_id, connection_id)
    assert stored.access_token == fresh[0].access_token
    assert stored.refresh_token == stale.refresh_token, "Google does not rotate: the refresh token is kept"


async def test_an_expired_access_token_is_refreshed_inside_the_sync_and_a_revoked_grant_needs_the_user(
    google_sandbox: object, runtime: Runtime
) -> None:
    sandbox: GoogleSandbox = google_sandbox.sandbox  # type: ignore[attr-defined]
    tenant_id, connection_id = await connect(runtime)
    await sync_connection(runtime, connection_id)
    before = await stored_tokens(runtime, tenant_id, connection_id)

    sandbox.expire_access_tokens()
    await sync_connection(runtime, connection_id)
    assert (await stored_tokens(runtime, tenant_id, connection_id)).access_token != before.access_token
    assert (await integrations.sync_status(runtime, tenant_id, connection_id)).state == "ACTIVE"

    sandbox.revoke_grants("ada@example.com")
    sandbox.expire_access_tokens()
    with pytest.raises(ProviderAuthFailed) as raised:
        await sync_connection(runtime, connection_id)
    assert "ya29." not in str(raised.value) and "1//" not in str(raised.value)
    assert (await integrations.sync_status(runtime, tenant_id, connection_id)).state == "TOKEN_EXPIRED"


async def test_disconnect_stops_the_channels_and_revokes_the_grant(google_sandbox: object, runtime: Runtime) -> None:
    sandbox: GoogleSandbox = google_sandbox.sandbox  # type: ignore[attr-defined]
    tenant_id, connection_id = await connect(runtime)
    await sync_connection(runtime, connection_id)
    assert len(sandbox.channels) == 1, "the synced primary calendar is watched"
    tokens = await stored_tokens(runtime, tenant_id, connection_id)

    await integrations.disconnect(runtime, tenant_id, connection_id)

    assert sandbox.channels == []
    async with httpx.AsyncClient(timeout=10) as client:
        refused = await client.post(
            f"{google_sandbox.url}/token",  # type: ignore[attr-defined]
            data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token or "", "client_id": sandbox.client_id, "client_secret": sandbox.client_secret},
        )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
