"""HTTP for every adapter: a client that refuses private addresses, and status codes as errors.

:func:`guarded_client` is an ``httpx.AsyncClient`` whose every request — redirects included — is
checked before it leaves: the host is resolved and refused (:class:`~calmesh.errors.UnsafeUrl`)
when any of its addresses is private, loopback, link-local, multicast, reserved or unspecified,
unless the operator allowed private networks (``CALMESH_ALLOW_PRIVATE_NETWORK``). The check
resolves the name itself, so a DNS answer that changes between the check and the connection
(rebinding) is not covered; operators who need that run calmesh behind an egress proxy.

:func:`raise_for_status` and :func:`transport_errors` turn HTTP into :mod:`calmesh.errors` with
messages a user can act on, never echoing credentials or response bodies.

:class:`RetryPolicy` is how patient an API adapter is (Google, Zoom): attempts in all and an
exponential backoff with jitter; :func:`retry_after_until` reads a ``Retry-After`` value (and
:func:`retry_after_seconds` a response's, as seconds from now).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import random
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from email.utils import parsedate_to_datetime
from datetime import datetime, timedelta, timezone

import httpx

from calmesh.errors import (
    PreconditionFailed,
    ProviderAuthFailed,
    ProviderRateLimited,
    ProviderRefused,
    ProviderUnreachable,
    UnsafeUrl,
)

__all__ = [
    "USER_AGENT",
    "ClientOwner",
    "RetryPolicy",
    "check_url_is_public",
    "guarded_client",
    "operator_client",
    "raise_for_status",
    "retry_after_seconds",
    "retry_after_until",
    "transport_errors",
]

USER_AGENT = "calmesh/0.1 (+https://github.com/calmesh/calmesh)"


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def check_url_is_public(url: httpx.URL) -> None:
    """Raise :class:`UnsafeUrl` unless every address ``url``'s host resolves to is public."""
    if url.scheme not in ("http", "https"):
        raise UnsafeUrl(f"only http and https URLs are accepted, not {url.scheme or 'a relative URL'}")
    host = url.host
    if not host:
        raise UnsafeUrl("the URL has no host")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, url.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ProviderUnreachable(f"cannot resolve {host}: {exc.strerror}") from exc
    for info in infos:
        address = str(info[4][0])
        if not _is_public(address):
            raise UnsafeUrl(
                f"{host} resolves to {address}, a private, loopback or link-local address;"
                " the operator can allow these with CALMESH_ALLOW_PRIVATE_NETWORK=true"
            )


class ClientOwner:
    """Base of adapters holding their own HTTP client: ``aclose()`` (or ``async with``) closes it."""

    _client: httpx.AsyncClient

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()


async def _refuse_private(request: httpx.Request) -> None:
    await check_url_is_public(request.url)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle costs ~50 ms, every client shares it."""
    return httpx.create_ssl_context()


def guarded_client(
    *,
    allow_private_network: bool,
    timeout_seconds: float,
    base_url: str = "",
    auth: httpx.Auth | None = None,
    follow_redirects: bool = True,
) -> httpx.AsyncClient:
    hooks = {} if allow_private_network else {"request": [_refuse_private]}
    return httpx.AsyncClient(
        base_url=base_url,
        auth=auth,
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
        follow_redirects=follow_redirects,
        max_redirects=5,
        headers={"User-Agent": USER_AGENT},
        event_hooks=hooks,
        verify=_tls_context(),
    )


def operator_client(*, base_url: str, timeout_seconds: float) -> httpx.AsyncClient:
    """A client for an API at an address the operator configured (Google's, Zoom's — or the
    sandbox's on loopback), not one a user gave: no private-address guard. It never follows a
    redirect, which would carry the bearer token elsewhere."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        verify=_tls_context(),
    )


@asynccontextmanager
async def transport_errors(what: str) -> AsyncIterator[None]:
    """Network failures while doing ``what`` become :class:`ProviderUnreachable`."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ProviderUnreachable(f"{what}: the server did not answer in time") from exc
    except httpx.TooManyRedirects as exc:
        raise ProviderUnreachable(f"{what}: too many redirects") from exc
    except (httpx.NetworkError, httpx.ProtocolError, httpx.UnsupportedProtocol) as exc:
        reason = str(exc) or type(exc).__name__
        raise ProviderUnreachable(f"{what}: {reason}") from exc


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long an adapter retries rate limiting and failures."""

    #: Attempts in all, the first included.
    attempts: int = 5
    base_seconds: float = 1.0
    max_seconds: float = 32.0

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (0 for the first retry), with jitter."""
        return float(min(self.max_seconds, self.base_seconds * 2**retry * random.uniform(0.5, 1.5)))


def retry_after_until(value: str | None, now: datetime) -> datetime | None:
    """When a ``Retry-After`` value says to try again, in UTC: delta-seconds from ``now``, an HTTP
    date, or an ISO 8601 time (Zoom's daily limit: ``2026-11-22T00:00:00Z``); a time without a
    zone is UTC. None when absent or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return now + timedelta(seconds=max(0.0, float(value)))
    except (ValueError, OverflowError):  # not a number, or not a usable one ("nan", "1e400")
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The response's Retry-After header as seconds from now (see :func:`retry_after_until`), or None."""
    now = datetime.now(timezone.utc)
    until = retry_after_until(response.headers.get("Retry-After"), now)
    return None if until is None else max(0.0, (until - now).total_seconds())


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Turn an error status into the matching provider error; 2xx and 3xx pass."""
    status = response.status_code
    if status < 400:
        return
    label = f"{what}: HTTP {status}"
    if status == 401:
        raise ProviderAuthFailed(f"{what}: the server refused the credentials (HTTP 401)")
    if status == 412:
        raise PreconditionFailed(f"{what}: the item changed on the server (HTTP 412)")
    if status == 429 or (status == 503 and "Retry-After" in response.headers):
        raise ProviderRateLimited(f"{what}: rate limited (HTTP {status})", retry_after=retry_after_seconds(response))
    if status >= 500:
        raise ProviderUnreachable(f"{label}, the server failed")
    raise ProviderRefused(f"{label} {response.reason_phrase}".rstrip())
