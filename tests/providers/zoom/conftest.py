"""The Zoom adapter against the served emulator (``zoom_sandbox``, from ``tests.zoom_sandbox``):
Ada's connection, opened the way the registry opens it, with tiny retry waits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from calmesh.auth.oauth import MemoryTokenKeeper, OAuthApp
from calmesh.errors import MeetingQuotaExhausted
from calmesh.providers.base import ConferencingProvider, MeetingRequestGate, ProviderConfig
from calmesh.providers.registry import open_conferencing_provider
from calmesh.providers.zoom import zoom_app
from calmesh.sandbox.zoom import ZoomSandbox
from tests.oauth_flows import keeper_for_grant
from tests.zoom_sandbox import ADA, ServedZoomSandbox

__all__ = ["ADA", "Connect", "Connection", "CountingGate", "config_for", "connect", "keeper_for", "sandbox_app"]


def sandbox_app(served: ServedZoomSandbox) -> OAuthApp:
    return zoom_app(served.sandbox.client_id, served.sandbox.client_secret, oauth_url=served.url, api_url=served.url)


def keeper_for(served: ServedZoomSandbox, email: str = ADA, scopes: tuple[str, ...] | None = None) -> MemoryTokenKeeper:
    grant = served.sandbox.issue_tokens(email, *(() if scopes is None else (scopes,)))
    return keeper_for_grant(sandbox_app(served), grant)


@dataclass
class CountingGate(MeetingRequestGate):
    """A gate that admits ``allowance`` requests (None: any number) and notes what it was told."""

    allowance: int | None = None
    admitted: int = 0
    blocked_until: list[datetime] = field(default_factory=list)

    async def admit(self) -> None:
        if self.allowance is not None and self.admitted >= self.allowance:
            raise MeetingQuotaExhausted(resets_at=datetime.now(UTC) + timedelta(hours=1))
        self.admitted += 1

    async def blocked(self, until: datetime) -> None:
        self.blocked_until.append(until)


def config_for(
    served: ServedZoomSandbox, keeper: MemoryTokenKeeper, *, gate: MeetingRequestGate | None = None, timeout: float = 10
) -> ProviderConfig:
    return ProviderConfig(
        account={},
        oauth=sandbox_app(served),
        tokens=keeper,
        meeting_gate=gate,
        timeout_seconds=timeout,
        retry_base_seconds=0.001,
    )


@dataclass
class Connection:
    served: ServedZoomSandbox
    keeper: MemoryTokenKeeper
    gate: CountingGate
    provider: ConferencingProvider

    @property
    def sb(self) -> ZoomSandbox:
        return self.served.sandbox


#: ``await connect(email=ADA, *, scopes=None, gate=None, timeout=10)``
Connect = Callable[..., Awaitable[Connection]]


@pytest.fixture
async def connect(zoom_sandbox: ServedZoomSandbox) -> AsyncIterator[Connect]:
    """``await connect(email=ADA, scopes=None, gate=CountingGate(), timeout=10)``: a connection
    opened through the registry; every one opened is closed after the test."""
    opened: list[ConferencingProvider] = []

    async def open_connection(
        email: str = ADA, *, scopes: tuple[str, ...] | None = None, gate: CountingGate | None = None, timeout: float = 10
    ) -> Connection:
        keeper = keeper_for(zoom_sandbox, email, scopes)
        gate = gate if gate is not None else CountingGate()
        provider = open_conferencing_provider("ZOOM", config_for(zoom_sandbox, keeper, gate=gate, timeout=timeout))
        opened.append(provider)
        return Connection(zoom_sandbox, keeper, gate, provider)

    yield open_connection
    for provider in opened:
        await provider.aclose()
