"""Google Calendar API v3 over HTTP: which answers are retried, and what each one means.

:class:`GoogleApi` sends one request and returns the answer's JSON, or raises the
:mod:`calmesh.errors` class the answer means. Every path is relative to the API base
(``https://www.googleapis.com/calendar/v3/``, or an emulator's).

**Tokens** and the sending itself are :class:`~calmesh.providers._bearer.BearerSession`'s: each
request carries the :class:`TokenKeeper`'s access token, refreshed first when it expires within 60
seconds and once more on a 401; a second 401 is ``ProviderAuthFailed``. Tokens never appear in
messages or logs: a request is described as ``GET calendars/{id}/events``, without its query.

**Retries** (Google's guidance and googleapiclient's ``_should_retry_response``): 429, 403 with
reason ``rateLimitExceeded``/``userRateLimitExceeded``, any 5xx and transport failures are retried
up to :attr:`RetryPolicy.attempts` times in all, waiting ``base * 2**n * uniform(0.5, 1.5)``
seconds (at most ``max_seconds``) — or what ``Retry-After`` says. A ``Retry-After`` longer than
``max_seconds`` is not slept through: the caller gets ``ProviderRateLimited`` with it at once.
When the attempts run out, rate limiting is ``ProviderRateLimited(retry_after=…)`` (the
Retry-After, else the next backoff) and failures are ``ProviderUnreachable``.

**Other answers** (protocols.md §1.7): 400 ``ProviderRefused`` with Google's message; 403
``requiredAccessLevel``/``forbidden``… ``ProviderRefused`` (the calendar is read-only for the
account); 403 ``insufficientPermissions`` ``ProviderAuthFailed`` (calendar access was not granted:
the user must connect again); 403 ``quotaExceeded`` ``ProviderRateLimited``; 404 ``ProviderRefused`` unless the caller
takes it (``allow``); 409 ``PreconditionFailed`` (an event with that id or iCalUID exists); 410
``fullSyncRequired`` ``SyncCursorExpired``; other 410s (``deleted``) ``ProviderRefused`` unless
allowed; 412 ``PreconditionFailed``. A 2xx whose body is not a JSON object is
``ProviderProtocolError`` (204 and empty bodies are ``{}``).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import unquote
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from calmesh.auth.oauth import TokenKeeper
from calmesh.errors import (
    PreconditionFailed,
    ProviderAuthFailed,
    ProviderRateLimited,
    ProviderRefused,
    ProviderUnreachable,
    SyncCursorExpired,
)
from calmesh.providers._bearer import Attempt, BearerSession, Resend
from calmesh.providers.http import RetryPolicy, retry_after_seconds

__all__ = ["ApiAnswer", "GoogleApi", "RetryPolicy", "google_error"]

log = logging.getLogger(__name__)

_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_READ_ONLY_REASONS = frozenset({"requiredAccessLevel", "forbidden", "forbiddenForNonOrganizer"})


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    """A status the caller asked to handle itself (``allow``), or a success, with its JSON."""

    status: int
    data: dict[str, Any]
    reason: str | None = None


def google_error(response: httpx.Response) -> tuple[str | None, str | None]:
    """``(reason, message)`` of Google's error body (protocols.md §1.7), or Nones."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None
    reason: str | None = None
    errors = error.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        found = errors[0].get("reason")
        reason = found if isinstance(found, str) else None
    message = error.get("message")
    return reason, " ".join(message.split())[:300] if isinstance(message, str) else None


class GoogleApi:
    """One account's requests to the Calendar API (see the module docstring)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        tokens: TokenKeeper,
        retry: RetryPolicy = RetryPolicy(),
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = BearerSession("Google", client, tokens, retry, log=log, sleep=sleep)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        allow: Collection[int] = (),
    ) -> ApiAnswer:
        """Send one request; statuses in ``allow`` come back instead of being raised."""
        what = f"Google {method} {unquote(path)}"
        response = await self._session.send(
            method, path, what, judge=self._resend_or_give_up, params=params, body=body, headers=headers
        )
        status = response.status_code
        reason, message = google_error(response) if status >= 400 else (None, None)
        if status in allow or status < 300:
            return ApiAnswer(status, self._session.json_object(response, what) if status < 300 else {}, reason)
        raise _error_for(what, response, reason, message)

    @staticmethod
    async def _resend_or_give_up(response: httpx.Response, attempt: Attempt) -> Resend | None:
        """Rate limiting and failures are sent again, as Google asks (module docstring)."""
        status = response.status_code
        reason = google_error(response)[0] if status >= 400 else None
        if not (status == 429 or status >= 500 or (status == 403 and reason in _RATE_REASONS)):
            return None
        retry_after = retry_after_seconds(response)
        if attempt.last or (retry_after is not None and retry_after > attempt.policy.max_seconds):
            raise _gave_up(attempt, status, reason, retry_after)
        return Resend(retry_after if retry_after is not None else attempt.backoff(), f"HTTP {status}")


def _gave_up(attempt: Attempt, status: int, reason: str | None, retry_after: float | None) -> Exception:
    if status in (403, 429):
        return ProviderRateLimited(
            f"{attempt.what}: Google asked calmesh to slow down (HTTP {status}{f' {reason}' if reason else ''}, {attempt.count})",
            retry_after=retry_after if retry_after is not None else attempt.backoff(),
        )
    return ProviderUnreachable(f"{attempt.what}: HTTP {status}, Google failed ({attempt.count})")


def _error_for(what: str, response: httpx.Response, reason: str | None, message: str | None) -> Exception:
    status = response.status_code
    said = f": {message}" if message else ""
    if status == 410 and reason == "fullSyncRequired":
        return SyncCursorExpired(f"{what}: Google no longer knows the sync token (HTTP 410); a full resync is needed")
    if status == 412:
        return PreconditionFailed(f"{what}: the event changed at Google since calmesh read it (HTTP 412)")
    if status == 409:
        return PreconditionFailed(f"{what}: an event with that id or iCalUID already exists in the calendar (HTTP 409)")
    if status == 403 and reason == "insufficientPermissions":
        # The user unticked calendar access on Google's consent screen (granular consent).
        return ProviderAuthFailed(
            f"{what}: the account did not give calmesh access to its calendars (HTTP 403 insufficientPermissions);"
            " connect it again and allow calendar access"
        )
    if status == 403 and reason == "quotaExceeded":
        return ProviderRateLimited(f"{what}: the Calendar usage limits are exceeded (HTTP 403 quotaExceeded)")
    if status == 403 and (reason in _READ_ONLY_REASONS or reason is None):
        return ProviderRefused(f"{what}: the calendar is read-only for this account, or the change is not allowed (HTTP 403{said})")
    if status == 404:
        return ProviderRefused(f"{what}: Google does not know this calendar or event (HTTP 404)")
    if status == 410:
        return ProviderRefused(f"{what}: the event was deleted at Google (HTTP 410)")
    label = f"HTTP {status}{f' {reason}' if reason else ''}"
    return ProviderRefused(f"{what}: Google refused the request ({label}{said})")
