"""The HTTP calls CalDAV makes, with calmesh's error mapping applied in one place.

Every PROPFIND and REPORT body goes out as ``application/xml; charset=utf-8``: Xandikos answers
415 to anything else, and RFC 4918 §8.2 asks for it. Network failures become
``ProviderUnreachable`` (:func:`~calmesh.providers.http.transport_errors`), error statuses the
matching :mod:`calmesh.errors` class (:func:`~calmesh.providers.http.raise_for_status`), except
401, which gets a message that says what to do about it.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from calmesh.errors import ProviderAuthFailed
from calmesh.providers.caldav._xml import Multistatus, parse_multistatus
from calmesh.providers.http import raise_for_status, transport_errors

__all__ = ["Dav", "describe"]

_XML = "application/xml; charset=utf-8"


def describe(method: str, url: httpx.URL | str) -> str:
    """``PROPFIND http://host/path`` for messages; the URL never carries credentials here."""
    url = httpx.URL(url)
    return f"CalDAV {method} {url.copy_with(username=None, password=None, query=None)}"


class Dav:
    """One account's WebDAV conversation: requests, statuses, multistatus answers."""

    def __init__(self, client: httpx.AsyncClient, *, password_hint: str = "") -> None:
        self.client = client
        self._password_hint = password_hint

    async def send(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
    ) -> httpx.Response:
        """The raw response; only transport failures are raised here."""
        async with transport_errors(describe(method, url)):
            return await self.client.request(
                method, url, content=content, headers=headers, follow_redirects=follow_redirects
            )

    async def xml(
        self, method: str, url: httpx.URL | str, body: bytes, *, depth: str, follow_redirects: bool = True
    ) -> httpx.Response:
        """A PROPFIND or REPORT with ``body``; the response is returned unchecked."""
        headers = {"Content-Type": _XML, "Depth": depth}
        return await self.send(method, url, content=body, headers=headers, follow_redirects=follow_redirects)

    async def multistatus(
        self, method: str, url: httpx.URL | str, body: bytes, *, depth: str
    ) -> tuple[httpx.Response, Multistatus]:
        """A PROPFIND or REPORT that must answer 207; its parsed body."""
        response = await self.xml(method, url, body, depth=depth)
        self.check(response, describe(method, url))
        return response, self.parse(response, describe(method, url))

    def check(self, response: httpx.Response, what: str) -> None:
        """Raise the calmesh error for an error status."""
        if response.status_code == 401:
            raise ProviderAuthFailed(
                f"{what}: the server refused the username or password (HTTP 401){self._password_hint}"
            )
        raise_for_status(response, what)

    @staticmethod
    def parse(response: httpx.Response, what: str) -> Multistatus:
        return parse_multistatus(response.content, what)
