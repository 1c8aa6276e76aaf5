"""Zoom API v2 over HTTP: the daily allowance, which answers are retried, and what each one means.

:class:`ZoomApi` sends one request and returns the answer's JSON, or raises the
:mod:`calmesh.errors` class the answer means (protocols.md §3.1-§3.4). Paths are relative to
the API base (``https://api.zoom.us/v2/``, or an emulator's).

**Tokens** and the sending itself are :class:`~calmesh.providers._bearer.BearerSession`'s: each
request carries the :class:`TokenKeeper`'s access token, refreshed first when it expires within 60
seconds. A 401 (Zoom: code 124, "Invalid access token.") refreshes once — a concurrent refresh is
reused, not repeated: Zoom rotates refresh tokens — and retries; a second 401, or the keeper's
``invalid_grant``, is ``ProviderAuthFailed``. A 400 code 4711 (the grant lacks a scope) is
``ProviderAuthFailed`` too: the user must connect again. Tokens never appear in messages or
logs, nor does a passcode the request carried.

**429** (protocols.md §3.4). ``Retry-After`` says until when: an absolute UTC time
(``2026-11-22T00:00:00Z``, Zoom's daily limit; an HTTP date is read too) or delta-seconds. With
it, a meeting request (create, update, delete: ``meeting_request``) tells the
:class:`~calmesh.providers.base.MeetingRequestGate` ``blocked(until)``, when there is one, and
every request gives up at once: the daily limit is
``MeetingQuotaExhausted(resets_at=until)`` (``X-RateLimit-Type: Daily``), any other
``ProviderRateLimited(retry_after=…)``. Without it (Zoom's per-second limits), the request is
retried after a short backoff as mod_zoom does, and ``ProviderRateLimited`` once the attempts run
out.

**Failures.** 5xx and transport failures are retried up to :attr:`RetryPolicy.attempts` times in
all, waiting ``base * 2**n`` seconds with jitter, then ``ProviderUnreachable``. A ``POST`` (a
meeting create: Zoom has no idempotency key) is retried after a transport failure only when it
surely never reached Zoom (no connection); a read timeout may have created the meeting, and a
second one would be left behind in the user's account.

**Other answers.** The error body is ``{"code","message","errors":[{"field","message"}]}`` — or,
at times, XML ``<result><code>…</code><message>…</message></result>`` (calcom PR #26148): both
are read, and anything else still gives a message with the status. 4xx answers are
``ProviderRefused`` naming Zoom's code and message, unless the caller takes the code
(``allow_codes``). A 2xx body that is not a JSON object is ``ProviderProtocolError`` (204 and
empty bodies are ``{}``).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from calmesh.auth.oauth import TokenKeeper
from calmesh.errors import (
    MeetingQuotaExhausted,
    ProviderAuthFailed,
    ProviderRateLimited,
    ProviderRefused,
    ProviderUnreachable,
)
from calmesh.providers._bearer import Attempt, BearerSession, Resend
from calmesh.providers.base import MeetingRequestGate
from calmesh.providers.http import RetryPolicy, retry_after_until

__all__ = ["MEETING_NOT_FOUND", "ZoomApi"]

log = logging.getLogger(__name__)

#: Zoom's error codes (protocols.md §3.2) that calmesh acts on.
MEETING_NOT_FOUND = 3001
_PMI_NOT_DELETABLE = 3018
_MISSING_SCOPES = 4711
#: Transport failures after which the request surely never reached Zoom.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_IDEMPOTENT = frozenset({"GET", "PATCH", "PUT", "DELETE"})
_XML_CODE = re.compile(r"<code>\s*(\d+)\s*</code>")
_XML_MESSAGE = re.compile(r"<message>(.*?)</message>", re.DOTALL)


@dataclass(frozen=True, slots=True)
class _ZoomAnswer:
    """A success with its JSON, or an error whose Zoom ``code`` the caller asked to handle."""

    status: int
    data: dict[str, Any]
    code: int | None = None


def _zoom_error(response: httpx.Response) -> tuple[int | None, str | None]:
    """``(code, message)`` of Zoom's error body, JSON or XML; Nones when neither says.

    A validation failure's ``errors`` are added to the message (``Validation Failed.
    (password: Passcode must …)``).
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    code: int | None = None
    message: str | None = None
    if isinstance(body, dict):
        raw_code = body.get("code")
        if isinstance(raw_code, int) and not isinstance(raw_code, bool):
            code = raw_code
        elif isinstance(raw_code, str) and raw_code.isdigit():
            code = int(raw_code)
        raw_message = body.get("message")
        message = raw_message if isinstance(raw_message, str) else None
        errors = body.get("errors")
        details = [_field_problem(item) for item in errors if isinstance(item, dict)] if isinstance(errors, list) else []
        if any(details):
            message = f"{message or 'Validation Failed.'} ({'; '.join(d for d in details if d)})"
    else:
        text = response.text
        found_code = _XML_CODE.search(text)
        found_message = _XML_MESSAGE.search(text)
        code = int(found_code.group(1)) if found_code else None
        message = html.unescape(found_message.group(1)) if found_message else None
    return code, " ".join(message.split())[:300] if message else None


class ZoomApi:
    """One Zoom user's requests to the API (see the module docstring)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        tokens: TokenKeeper,
        retry: RetryPolicy,
        *,
        gate: MeetingRequestGate | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        #: The requests' session (the adapter reads its tokens through it too).
        self.session = BearerSession("Zoom", client, tokens, retry, log=log, resendable=_surely_repeatable, sleep=sleep)
        self._gate = gate

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        meeting_request: bool = False,
        allow_codes: Collection[int] = (),
    ) -> _ZoomAnswer:
        """Send one request; errors whose Zoom code is in ``allow_codes`` come back instead of
        being raised. ``meeting_request``: a create, update or delete, which Zoom's daily
        allowance counts (the caller took it from the gate)."""
        what = f"Zoom {method} {path}"
        redact = [str(body["password"])] if body and body.get("password") else []

        async def judge(response: httpx.Response, attempt: Attempt) -> Resend | None:
            return await self._resend_or_give_up(response, attempt, meeting_request)

        response = await self.session.send(method, path, what, judge=judge, params=params, body=body)
        status = response.status_code
        if status < 300:
            return _ZoomAnswer(status, self.session.json_object(response, what))
        code, message = _zoom_error(response)
        if code is not None and code in allow_codes:
            return _ZoomAnswer(status, {}, code)
        raise _error_for(what, status, code, _scrub(message, redact))

    async def _resend_or_give_up(self, response: httpx.Response, attempt: Attempt, meeting_request: bool) -> Resend | None:
        """429 without ``Retry-After`` and 5xx are sent again; a 429 with it gives up at once."""
        status = response.status_code
        if status == 429:
            until = retry_after_until(response.headers.get("Retry-After"), datetime.now(timezone.utc))
            if until is None and not attempt.last:
                return Resend(attempt.backoff(), "HTTP 429 without Retry-After")
            raise await self._rate_limited(attempt, response, until, meeting_request)
        if status >= 500:
            if attempt.last:
                raise ProviderUnreachable(f"{attempt.what}: HTTP {status}, Zoom failed ({attempt.count})")
            return Resend(attempt.backoff(), f"HTTP {status}")
        return None

    async def _rate_limited(
        self, attempt: Attempt, response: httpx.Response, until: datetime | None, meeting_request: bool
    ) -> ProviderRateLimited:
        what = attempt.what
        if until is None:
            return ProviderRateLimited(
                f"{what}: Zoom asked calmesh to slow down (HTTP 429, {attempt.count})", retry_after=attempt.backoff()
            )
        if meeting_request and self._gate is not None:
            await self._gate.blocked(until)
        when = f"{until:%Y-%m-%d %H:%M:%S} UTC"
        if meeting_request and response.headers.get("X-RateLimit-Type", "").lower() == "daily":
            return MeetingQuotaExhausted(
                f"{what}: the Zoom user's meeting requests for today are used up (HTTP 429); they resume at {when}",
                resets_at=until,
            )
        seconds = max(0.0, (until - datetime.now(timezone.utc)).total_seconds())
        return ProviderRateLimited(f"{what}: Zoom asked calmesh to wait until {when} (HTTP 429)", retry_after=seconds)


def _surely_repeatable(method: str, failure: httpx.TransportError) -> bool:
    """A failed ``POST`` (a meeting create: Zoom has no idempotency key) is sent again only when it
    never reached Zoom; otherwise a second meeting could be left in the user's account."""
    return method in _IDEMPOTENT or isinstance(failure, _NOT_SENT)


def _field_problem(item: Mapping[str, Any]) -> str:
    field, message = item.get("field"), item.get("message")
    if isinstance(field, str) and isinstance(message, str):
        return f"{field}: {message}"
    return message if isinstance(message, str) else ""


def _scrub(message: str | None, redact: Collection[str]) -> str | None:
    """Zoom's message, without a secret the request carried (a passcode Zoom might quote back)."""
    if message is None:
        return None
    for secret in redact:
        message = message.replace(secret, "[redacted]")
    return message


def _error_for(what: str, status: int, code: int | None, message: str | None) -> Exception:
    said = f"HTTP {status}{f' code {code}' if code is not None else ''}{f': {message}' if message else ''}"
    if code == _MISSING_SCOPES:
        return ProviderAuthFailed(
            f"{what}: the Zoom connection lacks a permission calmesh needs ({said}); connect the account again"
        )
    if code == MEETING_NOT_FOUND:
        return ProviderRefused(f"{what}: Zoom does not know this meeting, or it has expired ({said})")
    if code == _PMI_NOT_DELETABLE:
        return ProviderRefused(
            f"{what}: Zoom does not allow deleting a personal meeting room (PMI) ({said}); calmesh leaves it in place"
        )
    return ProviderRefused(f"{what}: Zoom refused the request ({said})")
