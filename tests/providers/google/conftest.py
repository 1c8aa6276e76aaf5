"""The Google adapter against the served emulator (``google_sandbox``, from
``tests.google_sandbox``): an account for Ada with calmesh's scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from calmesh.auth.oauth import MemoryTokenKeeper, OAuthApp
from calmesh.providers.base import ProviderConfig
from calmesh.providers.google import GOOGLE_SCOPES, GoogleCalendarProvider, MeetPolling, RetryPolicy, google_app, open_google
from tests.oauth_flows import keeper_for_grant

if TYPE_CHECKING:
    from calmesh.sandbox.google import GoogleSandbox
    from tests.google_sandbox import ServedGoogleSandbox

ADA = "ada@example.com"
#: Tiny waits, so retry tests take milliseconds.
FAST_RETRIES = RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=0.5)
FAST_MEET = MeetPolling(first_seconds=0.01, total_seconds=1.0)


def sandbox_app(served: ServedGoogleSandbox) -> OAuthApp:
    sb = served.sandbox
    return google_app(sb.client_id, sb.client_secret, accounts_url=served.url, oauth_url=served.url, api_url=served.url)


def keeper_for(served: ServedGoogleSandbox, email: str = ADA) -> MemoryTokenKeeper:
    return keeper_for_grant(sandbox_app(served), served.sandbox.issue_tokens(email, scopes=GOOGLE_SCOPES))


@dataclass
class Account:
    served: ServedGoogleSandbox
    keeper: MemoryTokenKeeper
    provider: GoogleCalendarProvider

    @property
    def sb(self) -> GoogleSandbox:
        return self.served.sandbox


@pytest.fixture
async def account(google_sandbox: ServedGoogleSandbox) -> AsyncIterator[Account]:
    """Ada's Google account, opened through the registry's path with tiny retry waits."""
    keeper = keeper_for(google_sandbox)
    config = ProviderConfig(account={}, oauth=sandbox_app(google_sandbox), tokens=keeper, timeout_seconds=10)
    provider = open_google(config, retry=FAST_RETRIES, meet=FAST_MEET)
    try:
        yield Account(google_sandbox, keeper, provider)
    finally:
        await provider.aclose()
