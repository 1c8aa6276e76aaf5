"""The private-network guard (SSRF): feed URLs may not reach loopback, private or metadata hosts.

What can be proven on one machine without a public server, and how:

* ``check_url_is_public`` is unit-tested on address literals (no DNS involved) and on
  ``localhost``; a public literal passes.
* The provider as built for production (``allow_private_network=False``, its own guarded client)
  is pointed at the real loopback test server and at private literals: it refuses each before
  anything is sent — the server's log stays empty.
* A redirect to a private address needs a first hop the guard allows, and the only server a test
  can run is on loopback, which the guard refuses. So that test gives the provider a client whose
  request hook is the real guard with exactly one exemption, the first hop's URL: everything the
  redirect leads to goes through ``check_url_is_public`` unchanged. It proves that the provider
  sends every hop through the client's request hook and surfaces the guard's refusal; that the
  production client installs that hook is proven by the previous point.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

import httpx
import pytest

from calmesh.errors import UnsafeUrl
from calmesh.providers.base import ProviderConfig
from calmesh.providers.http import check_url_is_public
from calmesh.providers.ics_feed import IcsFeedProvider, open_ics_feed

from .conftest import TOKEN, FeedServer

APPLE = "ical4j/samples/valid/blalor.ics"

PRIVATE = [
    "http://127.0.0.1/",
    "http://127.1.2.3:8080/",
    "http://[::1]/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://localhost/",
]


@pytest.mark.parametrize("url", PRIVATE)
async def test_check_url_is_public_refuses_private_addresses(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="CALMESH_ALLOW_PRIVATE_NETWORK"):
        await check_url_is_public(httpx.URL(url))


async def test_check_url_is_public_lets_public_addresses_through() -> None:
    await check_url_is_public(httpx.URL("https://1.1.1.1/feed.ics"))
    await check_url_is_public(httpx.URL("http://[2606:4700:4700::1111]/feed.ics"))


@pytest.mark.parametrize("url", [u for u in PRIVATE if "localhost" not in u])
async def test_the_provider_refuses_private_feed_urls(url: str) -> None:
    async with IcsFeedProvider(f"{url}?token={TOKEN}", timeout_seconds=2) as provider:
        with pytest.raises(UnsafeUrl) as raised:
            await provider.list_calendars()
    assert TOKEN not in str(raised.value)


async def test_the_provider_refuses_the_loopback_server_before_sending(server: FeedServer) -> None:
    for url in [server.url(f"/files/{APPLE}"), server.url(f"/files/{APPLE}", scheme="webcal")]:
        provider = open_ics_feed(ProviderConfig(account={}, secrets={"url": url}, timeout_seconds=2))
        try:
            with pytest.raises(UnsafeUrl) as raised:
                await provider.changes("feed", None)
        finally:
            await provider.aclose()
        assert TOKEN not in str(raised.value)
    localhost = f"http://localhost:{server.server_address[1]}/files/{APPLE}?token={TOKEN}"
    async with IcsFeedProvider(localhost, timeout_seconds=2) as provider:
        with pytest.raises(UnsafeUrl, match="localhost resolves to"):
            await provider.list_calendars()
    assert server.log == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/feed.ics", "gopher://example.com:70/_x", "feed.ics"])
@pytest.mark.parametrize("allow_private_network", [False, True])
def test_only_http_schemes_are_accepted(url: str, allow_private_network: bool) -> None:
    with pytest.raises(UnsafeUrl, match="only http, https, webcal and webcals"):
        IcsFeedProvider(url, allow_private_network=allow_private_network)
    with pytest.raises(UnsafeUrl):
        open_ics_feed(ProviderConfig(account={}, secrets={"url": url}, allow_private_network=allow_private_network))


def _guard_except(first_hop: str) -> Callable[[httpx.Request], Awaitable[None]]:
    """The real guard, with one exemption: the loopback URL the test starts from."""

    async def hook(request: httpx.Request) -> None:
        if str(request.url) != first_hop:
            await check_url_is_public(request.url)

    return hook


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:10.0.0.1]/",
        "http://192.168.0.1/feed.ics",
        "LOOPBACK",  # the test server itself, by another path: allowed once is not allowed twice
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(server: FeedServer, target: str) -> None:
    if target == "LOOPBACK":
        target = server.url(f"/files/{APPLE}")
    first_hop = server.url("/redirect-to").replace(f"?token={TOKEN}", f"?url={quote(target, safe='')}")
    client = httpx.AsyncClient(event_hooks={"request": [_guard_except(first_hop)]}, timeout=2)
    async with IcsFeedProvider(first_hop, client=client) as provider:
        with pytest.raises(UnsafeUrl, match="private, loopback or link-local"):
            await provider.changes("feed", None)
    assert server.paths() == ["/redirect-to"]  # the target was never fetched
