"""OAuth steps every provider's test helpers take alike (Google's and Zoom's emulators).

* :func:`connect_through_consent` ``(runtime, tenant_id, request, consent) -> str`` — the
  integration id, made through calmesh's auth URL, ``consent`` (the browser at the emulator) and
  ``integrations.connect`` with the code;
* :func:`keeper_for_grant` ``(app, grant) -> MemoryTokenKeeper`` — a token keeper holding what an
  emulator's ``issue_tokens`` answered, for adapter tests that skip the consent page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from calmesh.auth.oauth import MemoryTokenKeeper, OAuthApp, TokenSet
from calmesh.services import integrations, oauth
from calmesh.services.integrations import IntegrationCreate
from calmesh.services.runtime import Runtime

__all__ = ["connect_through_consent", "keeper_for_grant"]


async def connect_through_consent(
    runtime: Runtime,
    tenant_id: str,
    request: oauth.AuthUrlRequest,
    consent: Callable[[str], Awaitable[httpx.URL]],
) -> str:
    """Connect as production does, the browser played by ``consent(auth_url)`` (where the
    emulator sends it back): calmesh's auth URL, then the code to ``integrations.connect``.
    ``request.redirect_uri`` is the application's own page; returns the integration id."""
    redirect_uri = request.redirect_uri
    assert redirect_uri is not None, "the application's own redirect, so that the test reads the code"
    started = await oauth.create_auth_url(runtime, tenant_id, request)
    back = await consent(started.url)
    assert str(back).startswith(redirect_uri) and "code" in back.params, back
    created = await integrations.connect(
        runtime,
        tenant_id,
        IntegrationCreate(
            provider=request.provider, code=back.params["code"], state=back.params["state"], redirect_uri=redirect_uri
        ),
    )
    return created.id


def keeper_for_grant(app: OAuthApp, grant: Mapping[str, Any]) -> MemoryTokenKeeper:
    """A keeper holding ``grant``, an emulator's token answer (``sandbox.issue_tokens(…)``)."""
    tokens = TokenSet(
        access_token=grant["access_token"],
        refresh_token=grant["refresh_token"],
        expires_at=datetime.now(UTC) + timedelta(seconds=grant["expires_in"]),
    )
    return MemoryTokenKeeper(app, tokens)
