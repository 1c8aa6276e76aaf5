"""Downloading a feed: the URL rules, the limits, and HTTP answers as :mod:`calmesh.errors`.

* **URL.** ``webcal://`` and ``webcals://`` (what "subscribe" links use) mean ``http://`` and
  ``https://``; every other scheme (``file``, ``ftp``, ``gopher``…) is :class:`UnsafeUrl`, on the
  first hop and on every redirect, whatever the private-network setting.
* **Redirects** are followed here, not by httpx, at most :data:`MAX_REDIRECTS`: each hop goes
  through ``client.send`` so the client's request hook — the private-network guard of
  :func:`calmesh.providers.http.guarded_client` — checks it, and a redirect's body is never read.
* **Size.** A ``Content-Length`` over the limit is refused before reading; otherwise the body is
  streamed (decompressed by httpx) and reading stops as soon as it passes the limit. The limit
  is on the decoded size, so a small gzip body cannot expand past it.
* **Time.** ``timeout_seconds`` bounds the whole download — redirects, headers and body — not
  only each read, so a server trickling a byte at a time cannot hold a sync forever.
* **Messages** name the feed by its origin (scheme, host, port) only: a feed URL's path, query
  and user info are often the secret that grants access, and errors end up in logs and API
  answers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from calmesh.errors import (
    CalmeshError,
    InvalidInput,
    ProviderAuthFailed,
    ProviderProtocolError,
    ProviderRefused,
    ProviderUnreachable,
    UnsafeUrl,
)
from calmesh.providers.http import raise_for_status, transport_errors

__all__ = ["MAX_REDIRECTS", "Download", "FeedUrl", "download", "size_label"]

MAX_REDIRECTS = 5

_SCHEME_ALIASES = {"webcal": "http", "webcals": "https"}
_ACCEPT = "text/calendar, application/calendar+json;q=0.1, text/plain;q=0.5, */*;q=0.1"


@dataclass(frozen=True, slots=True)
class FeedUrl:
    """A feed URL made fetchable, with the part of it that may be shown to people."""

    url: httpx.URL
    #: ``https://calendar.example.com`` — scheme, host and (non-default) port, nothing else.
    origin: str

    @classmethod
    def parse(cls, text: str) -> FeedUrl:
        text = text.strip()
        scheme, sep, rest = text.partition("://")
        if sep and scheme.lower() in _SCHEME_ALIASES:
            text = f"{_SCHEME_ALIASES[scheme.lower()]}://{rest}"
        try:
            url = httpx.URL(text)
        except httpx.InvalidURL as exc:
            # The URL itself is not echoed: it may carry a secret.
            raise InvalidInput("the feed URL is not a valid URL", field="url") from exc
        require_http(url, redirected=False)
        if not url.host:
            raise InvalidInput("the feed URL has no host", field="url")
        return cls(url=url, origin=origin_of(url))

    def scrub(self, message: str) -> str:
        """``message`` without this URL's path, query or password, should any have crept in."""
        secrets = {str(self.url), self.url.query.decode("ascii", "replace")}
        raw_path = self.url.raw_path.decode("ascii", "replace")
        if raw_path != "/":
            secrets.add(raw_path)
        if self.url.password:
            secrets.add(self.url.password)
        for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
            message = message.replace(secret, "…")
        return message


def origin_of(url: httpx.URL) -> str:
    host = f"[{url.host}]" if ":" in url.host else url.host
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{host}{port}"


def require_http(url: httpx.URL, *, redirected: bool) -> None:
    if url.scheme in ("http", "https"):
        return
    scheme = url.scheme or "a relative URL"
    if redirected:
        raise UnsafeUrl(f"the feed redirected to a {scheme} URL; calmesh follows only http and https")
    raise UnsafeUrl(f"only http, https, webcal and webcals feed URLs are accepted, not {scheme}")


def size_label(limit: int) -> str:
    """``20 MB``, ``1.5 MB``, ``512 KB`` — the limit as people read it (binary units)."""
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):.4g} MB"
    if limit >= 1024:
        return f"{limit / 1024:.4g} KB"
    return f"{limit} bytes"


@dataclass(frozen=True, slots=True)
class Download:
    """What one GET brought: the body (None on a 304) and the validators to send next time."""

    body: bytes | None
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.body is None


async def download(
    client: httpx.AsyncClient,
    feed: FeedUrl,
    *,
    max_bytes: int,
    timeout_seconds: float,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Download:
    """GET the feed under the limits; with ``etag``/``last_modified`` a conditional GET."""
    what = f"fetching the feed from {feed.origin}"
    headers = {"Accept": _ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    conditional = len(headers) > 1
    try:
        async with asyncio.timeout(timeout_seconds):
            async with transport_errors(what):
                return await _follow(client, feed, headers, conditional, max_bytes, what)
    except TimeoutError as exc:
        raise ProviderUnreachable(
            f"{what}: the download did not finish within {timeout_seconds:g} seconds"
        ) from exc
    except CalmeshError as exc:
        scrubbed = feed.scrub(exc.message)
        if scrubbed != exc.message:
            exc.message = scrubbed
            exc.args = (scrubbed,)
        raise


async def _follow(
    client: httpx.AsyncClient,
    feed: FeedUrl,
    headers: dict[str, str],
    conditional: bool,
    max_bytes: int,
    what: str,
) -> Download:
    request = client.build_request("GET", feed.url, headers=headers)
    for _ in range(MAX_REDIRECTS + 1):
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.next_request is None:
                return await _read(response, feed, conditional, max_bytes, what)
            request = response.next_request
        finally:
            await response.aclose()
        require_http(request.url, redirected=True)
    raise ProviderUnreachable(f"{what}: too many redirects (more than {MAX_REDIRECTS})")


async def _read(
    response: httpx.Response, feed: FeedUrl, conditional: bool, max_bytes: int, what: str
) -> Download:
    status = response.status_code
    etag = response.headers.get("ETag") or None
    last_modified = response.headers.get("Last-Modified") or None
    if status == 304:
        if not conditional:
            raise ProviderProtocolError(f"{feed.origin} answered 304 Not Modified to a plain GET")
        return Download(body=None, etag=etag, last_modified=last_modified)
    if status in (401, 403):
        raise ProviderAuthFailed(f"{feed.origin}: the feed refused access (HTTP {status})")
    if status in (404, 410):
        raise ProviderRefused(f"{feed.origin}: the feed no longer exists (HTTP {status})")
    raise_for_status(response, what)
    if not 200 <= status < 300:
        raise ProviderProtocolError(f"{feed.origin} answered HTTP {status} instead of the feed")
    too_large = ProviderRefused(f"{feed.origin}: the feed is larger than {size_label(max_bytes)}")
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and "Content-Encoding" not in response.headers:
        if int(declared) > max_bytes:
            raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            chunks.append(chunk)
    except httpx.DecodingError as exc:
        raise ProviderProtocolError(
            f"{feed.origin} sent a feed that cannot be decompressed"
            f" ({response.headers.get('Content-Encoding', 'unknown encoding')})"
        ) from exc
    return Download(body=b"".join(chunks), etag=etag, last_modified=last_modified)
