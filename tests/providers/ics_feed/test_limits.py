"""What goes wrong with feed hosts: not a calendar, too big, too slow, errors, redirects.

Every error is checked to name the feed by scheme and host only: the test URLs carry a secret
token in their query, and neither it nor the path may appear in any message.
"""

from __future__ import annotations

import time

import pytest

from calmesh.errors import (
    CalmeshError,
    ProviderAuthFailed,
    ProviderProtocolError,
    ProviderRefused,
    ProviderUnreachable,
    UnsafeUrl,
)
from calmesh.providers.ics_feed import IcsFeedProvider

from .conftest import TOKEN, FeedServer, require_corpus

APPLE = "ical4j/samples/valid/blalor.ics"
MB = 1024 * 1024


async def _fail(
    server: FeedServer,
    path: str,
    expected: type[CalmeshError],
    *,
    timeout: float = 5.0,
    max_bytes: int = 20 * MB,
) -> str:
    """The message of the error fetching ``path`` raises, checked to be ``expected`` and safe."""
    async with IcsFeedProvider(
        server.url(path), allow_private_network=True, timeout_seconds=timeout, max_bytes=max_bytes
    ) as provider:
        with pytest.raises(expected) as raised:
            await provider.changes("feed", None)
    message = str(raised.value)
    assert TOKEN not in message and "token=" not in message
    assert path.split("?")[0] not in message
    return message


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/html", "XML or HTML"),
        ("/json", "JSON"),
        ("/vcard", "vCard"),
        ("/empty", "empty"),
        ("/text", "not iCalendar"),
    ],
)
async def test_what_is_not_a_calendar_is_a_protocol_error(server: FeedServer, path: str, reason: str) -> None:
    message = await _fail(server, path, ProviderProtocolError)
    assert message.startswith(f"{server.base} did not serve an iCalendar feed: ")
    assert reason in message


async def test_connecting_to_a_page_that_is_not_a_feed_fails(server: FeedServer) -> None:
    async with IcsFeedProvider(server.url("/html"), allow_private_network=True) as provider:
        with pytest.raises(ProviderProtocolError, match="did not serve an iCalendar feed"):
            await provider.list_calendars()


async def test_a_declared_length_over_the_limit_is_refused_unread(server: FeedServer) -> None:
    message = await _fail(server, f"/big/{2 * MB}", ProviderRefused, max_bytes=1 * MB)
    assert "the feed is larger than 1 MB" in message


async def test_reading_stops_at_the_limit(server: FeedServer) -> None:
    # The server never stops sending: only a reader that gives up at the limit returns.
    started = time.monotonic()
    message = await _fail(server, "/endless", ProviderRefused, max_bytes=1 * MB)
    assert "the feed is larger than 1 MB" in message
    assert time.monotonic() - started < 3


async def test_the_limit_is_on_the_decompressed_size(server: FeedServer) -> None:
    message = await _fail(server, f"/bomb/{8 * MB}", ProviderRefused, max_bytes=512 * 1024)
    assert "the feed is larger than 512 KB" in message


async def test_a_gzipped_feed_under_the_limit_is_read(server: FeedServer) -> None:
    require_corpus()
    async with IcsFeedProvider(server.url(f"/gzip/{APPLE}"), allow_private_network=True, max_bytes=8 * 1024) as provider:
        changes = await provider.changes("feed", None)
    assert len(changes.items) == 1


@pytest.mark.parametrize(
    ("status", "expected", "text"),
    [
        (401, ProviderAuthFailed, "the feed refused access (HTTP 401)"),
        (403, ProviderAuthFailed, "the feed refused access (HTTP 403)"),
        (404, ProviderRefused, "the feed no longer exists (HTTP 404)"),
        (410, ProviderRefused, "the feed no longer exists (HTTP 410)"),
        (400, ProviderRefused, "HTTP 400"),
        (500, ProviderUnreachable, "HTTP 500"),
        (502, ProviderUnreachable, "HTTP 502"),
        (204, ProviderProtocolError, "did not serve an iCalendar feed"),
        (300, ProviderProtocolError, "HTTP 300"),
    ],
)
async def test_status_codes(server: FeedServer, status: int, expected: type[CalmeshError], text: str) -> None:
    message = await _fail(server, f"/status/{status}", expected)
    assert text in message
    assert server.base in message


async def test_redirects_are_followed_up_to_five(server: FeedServer) -> None:
    require_corpus()
    async with IcsFeedProvider(server.url(f"/hop/5/files/{APPLE}"), allow_private_network=True) as provider:
        changes = await provider.changes("feed", None)
        assert [item.id for item in changes.items] == ["D9182220"]
        assert len(server.log) == 6
        again = await provider.changes("feed", changes.cursor)  # validators survive the hops
    assert again.items == () and again.full is False
    assert server.log[-1].headers["if-none-match"]


async def test_more_than_five_redirects_are_refused(server: FeedServer) -> None:
    message = await _fail(server, f"/hop/6/files/{APPLE}", ProviderUnreachable)
    assert "too many redirects" in message
    assert len(server.log) == 6  # the sixth redirect is not followed
    server.log.clear()
    assert "too many redirects" in await _fail(server, "/loop", ProviderUnreachable)


async def test_a_redirect_to_another_scheme_is_refused(server: FeedServer) -> None:
    for target in ["ftp://127.0.0.1/feed.ics", "file:///etc/passwd", "gopher://127.0.0.1:70/_x"]:
        message = await _fail(server, f"/redirect-to?url={target}", UnsafeUrl)
        assert "calmesh follows only http and https" in message


async def test_a_server_that_never_answers_times_out(server: FeedServer) -> None:
    started = time.monotonic()
    message = await _fail(server, "/slow", ProviderUnreachable, timeout=0.4)
    assert time.monotonic() - started < 1.5
    assert server.base in message


async def test_the_time_limit_is_for_the_whole_download(server: FeedServer) -> None:
    # A byte every 50 ms: no single read ever waits 0.4 s, the whole takes 3 s.
    started = time.monotonic()
    message = await _fail(server, "/trickle", ProviderUnreachable, timeout=0.4)
    assert time.monotonic() - started < 1.5
    assert "did not finish within 0.4 seconds" in message


async def test_nobody_listening_is_unreachable(server: FeedServer) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed.ics?token={TOKEN}"
    async with IcsFeedProvider(url, allow_private_network=True, timeout_seconds=2) as provider:
        with pytest.raises(ProviderUnreachable) as raised:
            await provider.list_calendars()
    assert TOKEN not in str(raised.value) and "feed.ics" not in str(raised.value)
    assert f"http://127.0.0.1:{port}" in str(raised.value)


async def test_user_info_in_the_url_is_sent_but_never_shown(server: FeedServer) -> None:
    url = f"http://reader:{TOKEN}@127.0.0.1:{server.server_address[1]}/status/401?token={TOKEN}"
    async with IcsFeedProvider(url, allow_private_network=True) as provider:
        assert provider.origin == server.base
        with pytest.raises(ProviderAuthFailed) as raised:
            await provider.changes("feed", None)
    assert TOKEN not in str(raised.value) and "reader" not in str(raised.value)
    assert server.log[-1].headers["authorization"].startswith("Basic ")
