"""One delivery attempt over HTTP, and when to try again.

An attempt succeeds on any 2xx. Anything else — another status, a redirect (never followed:
a webhook URL must be the receiver itself), a refused connection, no complete answer within
the timeout (10 s by default, for the whole exchange) — is a failure to retry. Receivers must
not rely on ordering: retries and concurrent senders deliver events in any order.
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from calmesh.errors import CalmeshError, InvalidInput, ProviderUnreachable, UnsafeUrl
from calmesh.providers.http import check_url_is_public, guarded_client

__all__ = ["Attempt", "RetryPolicy", "WebhookSender", "check_webhook_url"]


@dataclass(frozen=True, slots=True)
class Attempt:
    status_code: int | None
    latency_ms: int
    #: Why it failed, for the delivery log (None on success).
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, for at least ``budget`` after the event.

    The n-th retry waits ``first_delay * factor**(n-1)``, at most ``max_delay``, times a random
    factor in [1 - jitter, 1 + jitter] (so endpoints that failed together do not retry together).
    The last retry is placed exactly at the end of the budget; a delivery that fails then is
    given up. The defaults retry after about 5 s, 15 s, 45 s, 2 min, 7 min, 20 min, 1 h, 3 h,
    then every 6 h, until 24 h have passed: about 13 attempts.
    """

    first_delay: timedelta = timedelta(seconds=5)
    factor: float = 3.0
    max_delay: timedelta = timedelta(hours=6)
    budget: timedelta = timedelta(hours=24)
    jitter: float = 0.2

    def next_attempt(self, created_at: datetime, failed_attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``failed_attempts`` failures, or None: give up."""
        deadline = created_at + self.budget
        if now >= deadline:
            return None
        base = min(self.first_delay.total_seconds() * self.factor ** (failed_attempts - 1), self.max_delay.total_seconds())
        delay = base * random.uniform(1 - self.jitter, 1 + self.jitter)
        return min(now + timedelta(seconds=delay), deadline)


#: HTTP clients a sender spreads endpoints over. One client's pool bookkeeping serialises its
#: requests: 32 in flight through one reach about 45% of what they reach through 8
#: (benchmarks/webhooks.py). An endpoint always uses the same client, so its connections are reused.
CLIENTS = 8


class WebhookSender:
    """POSTs signed bodies, each endpoint through one of a few HTTP clients."""

    def __init__(self, *, timeout_seconds: float, allow_private_network: bool) -> None:
        self.timeout_seconds = timeout_seconds
        self._clients = [
            guarded_client(allow_private_network=allow_private_network, timeout_seconds=timeout_seconds, follow_redirects=False)
            for _ in range(CLIENTS)
        ]
        for client in self._clients:
            client.headers["User-Agent"] = "calmesh-webhooks/1"

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            async with asyncio.timeout(self.timeout_seconds):
                client = self._clients[zlib.crc32(url.encode()) % CLIENTS]
                response = await client.post(url, content=body, headers=headers)
        except TimeoutError:
            return Attempt(None, elapsed(), f"no answer within {self.timeout_seconds:g} s")
        except CalmeshError as error:  # the address guard refused the URL
            return Attempt(None, elapsed(), error.message)
        except httpx.HTTPError as error:
            return Attempt(None, elapsed(), f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
        if 200 <= response.status_code < 300:
            return Attempt(response.status_code, elapsed(), None)
        return Attempt(response.status_code, elapsed(), f"HTTP {response.status_code} {response.reason_phrase}".rstrip())


async def check_webhook_url(url: str, *, allow_private_network: bool) -> None:
    """Refuse a webhook URL that is not absolute http(s), or (unless private networks are allowed)
    whose host does not resolve or resolves to a private address — the ICS feeds' guard."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidInput(f"not a URL: {exc}", field="url") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UnsafeUrl("a webhook URL must be an absolute http or https URL")
    if allow_private_network:
        return
    try:
        await check_url_is_public(parsed)
    except ProviderUnreachable as exc:
        raise InvalidInput(exc.message, field="url") from exc
