"""Finding the calendar home of an account from a server URL (RFC 6764 §6, RFC 4791 §6.2.1).

The steps, each tried only when the previous one did not answer:

1. PROPFIND ``current-user-principal`` (RFC 5397) on the candidates: the server URL itself and
   ``/.well-known/caldav`` on its host, whose redirect is followed (Radicale answers 301,
   Xandikos 302). A bare host tries the well-known URI first, as RFC 6764 intends; a URL with a
   path (a Nextcloud ``/remote.php/dav/``, a principal) is asked directly first. Redirects are
   followed here by hand, because HTTP clients turn a 302 into a GET (as browsers do) and the
   PROPFIND would be lost; a redirect from https to http is refused, since it would send the
   password in clear.
2. PROPFIND ``calendar-home-set`` on the principal — unless the first answer carried it already.
3. The home set's href is resolved against the URL that answered, because it may be absolute
   and on another host: iCloud moves every account to a partition host such as
   ``https://p42-caldav.icloud.com/<dsid>/calendars/``.

A URL that answers but not with WebDAV (an HTML page, 404 or 405 on PROPFIND, no principal)
is reported as ``ProviderProtocolError("<url> is not a CalDAV server: …")``; 401 and network
failures are raised at once, since another candidate would fail the same way.
"""

from __future__ import annotations

import httpx

from calmesh.errors import ProviderProtocolError
from calmesh.providers.caldav._transport import Dav, describe
from calmesh.providers.caldav._xml import (
    CURRENT_USER_PRINCIPAL,
    HOME_SET,
    PRINCIPAL_LOOKUP,
    DavResponse,
    href_of,
)

__all__ = ["find_calendar_home"]

WELL_KNOWN = "/.well-known/caldav"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5


class _NotDav(Exception):
    """This candidate URL does not speak WebDAV; the message says how it answered."""


async def find_calendar_home(dav: Dav, server_url: str) -> httpx.URL:
    """The absolute URL of the account's calendar home set."""
    reason = "it did not answer"
    for candidate in _candidates(server_url):
        try:
            answered_at, found = await _lookup(dav, candidate)
        except _NotDav as exc:
            reason = str(exc)
            continue
        home = href_of(found.props.get(HOME_SET))
        principal = href_of(found.props.get(CURRENT_USER_PRINCIPAL))
        if home is None and principal is not None:
            answered_at, home = await _home_of_principal(dav, server_url, answered_at.join(principal))
        if home is not None:
            return answered_at.join(home)
        reason = "it names no current-user-principal or calendar-home-set"
    raise ProviderProtocolError(f"{server_url} is not a CalDAV server: {reason}")


def _candidates(server_url: str) -> list[httpx.URL]:
    url = httpx.URL(server_url)
    well_known = url.copy_with(raw_path=WELL_KNOWN.encode(), query=None, fragment=None)
    if url.path in ("", "/"):
        return [well_known, url]
    return [url, well_known]


async def _lookup(dav: Dav, url: httpx.URL) -> tuple[httpx.URL, DavResponse]:
    """PROPFIND ``url`` for the principal; the URL that finally answered and what it said."""
    response = await _propfind_following_redirects(dav, url)
    url = response.url
    what = describe("PROPFIND", url)
    if response.status_code in (401, 429) or response.status_code >= 500:
        dav.check(response, what)
    if response.status_code != 207:
        raise _NotDav(f"PROPFIND answered HTTP {response.status_code} instead of 207 Multi-Status")
    if "html" in response.headers.get("Content-Type", "").lower():
        raise _NotDav("it answered with a web page instead of WebDAV XML")
    try:
        multistatus = dav.parse(response, what)
    except ProviderProtocolError as exc:
        raise _NotDav("its answer is not WebDAV XML") from exc
    # A PROPFIND Depth 0 answers for the resource itself; servers may spell its href
    # differently from the request, so take the first response rather than match hrefs.
    if not multistatus.responses:
        raise _NotDav("its PROPFIND answer is empty")
    return response.url, multistatus.responses[0]


async def _propfind_following_redirects(dav: Dav, url: httpx.URL) -> httpx.Response:
    for _ in range(_MAX_REDIRECTS + 1):
        response = await dav.xml("PROPFIND", url, PRINCIPAL_LOOKUP, depth="0", follow_redirects=False)
        location = response.headers.get("Location")
        if response.status_code not in _REDIRECTS or not location:
            return response
        target = url.join(location)
        if url.scheme == "https" and target.scheme != "https":
            raise _NotDav(f"it redirects to {target}, which is not https")
        url = target
    raise _NotDav("it redirects too many times")


async def _home_of_principal(
    dav: Dav, server_url: str, principal: httpx.URL
) -> tuple[httpx.URL, str | None]:
    try:
        answered_at, found = await _lookup(dav, principal)
    except _NotDav as exc:
        raise ProviderProtocolError(
            f"{server_url} is not a CalDAV server: its principal {principal} does not answer ({exc})"
        ) from exc
    return answered_at, href_of(found.props.get(HOME_SET))
