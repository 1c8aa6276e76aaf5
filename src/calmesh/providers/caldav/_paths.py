"""Hrefs as item ids: one spelling per object, and back to a URL for requests.

Servers spell the same path differently: Radicale writes ``/alice/cal/a%40b.ics``, Xandikos
``/user/calendars/cal/a@b.ics``, and iCloud answers with absolute URLs on its partition host.
An item id must not change with the spelling, or the sync engine would see one object deleted
and another created. So an id is the href's *path* (scheme and host dropped), with every
segment's percent-encoding put in one canonical form: RFC 3986 unreserved characters and ``@``
bare, every other byte percent-encoded (upper-case hex). Decoding is done on bytes, so nothing
is lost — an encoded ``/`` (``%2F``) inside a segment stays encoded. Servers decode paths before
use, so the canonical spelling reaches the same object.
"""

from __future__ import annotations

import re
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlsplit

import httpx

__all__ = ["canonical_path", "collection_url", "resolve"]

# Anything outside this set needs the slow path; hrefs made only of these are canonical already
# (the usual case: a full listing of 5,000 hrefs takes the fast path every time).
_NOT_CANONICAL = re.compile(r"[^A-Za-z0-9/@._~-]").search


def canonical_path(href: str) -> str:
    """The canonical path of ``href`` (a path or an absolute URL)."""
    if "://" in href:
        split = urlsplit(href)
        href = split.path or "/"
    if _NOT_CANONICAL(href) is None:
        return href
    return "/".join(_canonical_segment(segment) for segment in href.split("/"))


def _canonical_segment(segment: str) -> str:
    if _NOT_CANONICAL(segment) is None:
        return segment
    return quote_from_bytes(unquote_to_bytes(segment), safe="@")


def collection_url(url: str) -> str:
    """An absolute collection URL with a canonical path ending in ``/`` (the calendar id form)."""
    parsed = httpx.URL(url)
    raw = parsed.raw_path.decode("ascii").partition("?")[0]
    path = canonical_path(raw)
    if not path.endswith("/"):
        path += "/"
    return str(parsed.copy_with(raw_path=path.encode("ascii"), query=None, fragment=None))


def resolve(base: str | httpx.URL, href: str) -> httpx.URL:
    """``href`` (an id, a path or an absolute URL) as a URL relative to ``base``."""
    return httpx.URL(base).join(href)
