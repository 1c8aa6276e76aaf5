"""One account's bearer-token requests to a JSON API, with retries: what Google's and Zoom's API
layers (``google/_api.py``, ``zoom/_api.py``) do alike.

:meth:`BearerSession.send` sends one request and returns the answer the provider accepts:

* **Tokens.** Each request carries ``Authorization: Bearer`` with the :class:`TokenKeeper`'s
  current access token; one that expires within :data:`REFRESH_MARGIN_SECONDS` is refreshed
  first. A 401 refreshes once through ``tokens.refresh(stale)`` (a concurrent refresh is reused,
  not repeated: providers that rotate refresh tokens log the user out when two race) and sends
  again; a second 401 is ``ProviderAuthFailed``. Tokens never appear in messages or logs.
* **Transport failures** are sent again up to :attr:`RetryPolicy.attempts` times in all, after the
  policy's backoff, then ``ProviderUnreachable`` — unless the provider's ``resendable`` says the
  request may have been carried out already and must not be repeated.
* **Every other answer** goes to the caller's ``judge``: it returns a :class:`Resend` (wait, then
  send again), None (the answer is final: the provider translates it), or raises. Rate limits,
  ``Retry-After`` and error bodies are each provider's own.

Each wait is logged on the provider's logger (``action=retry``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any

import httpx

from calmesh.auth.oauth import TokenKeeper, TokenSet
from calmesh.errors import ProviderAuthFailed, ProviderProtocolError, ProviderUnreachable
from calmesh.providers.http import RetryPolicy

__all__ = ["REFRESH_MARGIN_SECONDS", "Attempt", "BearerSession", "Resend"]

#: Refresh the access token when it expires within this many seconds.
REFRESH_MARGIN_SECONDS = 60
_TRANSPORT_FAILURES = (httpx.TimeoutException, httpx.NetworkError, httpx.ProtocolError, httpx.ProxyError)


@dataclass(frozen=True, slots=True)
class Attempt:
    """The request ``what`` (``Zoom GET users/me``), after ``retries`` sends that were not final."""

    what: str
    retries: int
    policy: RetryPolicy

    @property
    def last(self) -> bool:
        """No attempt is left after this one."""
        return self.retries + 1 >= self.policy.attempts

    @property
    def count(self) -> str:
        """The attempts so far, for a message: ``1 attempt``, ``3 attempts``."""
        return f"{self.retries + 1} attempt{'s' if self.retries else ''}"

    def backoff(self) -> float:
        """The policy's wait before the next attempt."""
        return self.policy.backoff(self.retries)


@dataclass(frozen=True, slots=True)
class Resend:
    """Send the request again after ``seconds``; ``why`` is logged."""

    seconds: float
    why: str


#: A provider's reading of an answer other than a 401 (see the module docstring).
_Judge = Callable[[httpx.Response, Attempt], Awaitable[Resend | None]]
#: Whether ``(method, failure)`` may be sent again: False when it may have been carried out.
_Resendable = Callable[[str, httpx.TransportError], bool]


def _always_resendable(method: str, failure: httpx.TransportError) -> bool:
    """Without a provider's own rule, every request is safe to send again."""
    return True


@dataclass(frozen=True, slots=True)
class BearerSession:
    """One account's requests to ``provider``'s API (see the module docstring)."""

    #: The API's owner as messages name it (``Google``); lower-cased in log lines.
    provider: str
    client: httpx.AsyncClient
    tokens: TokenKeeper
    retry: RetryPolicy
    _: KW_ONLY
    #: The provider module's logger, where each retry is logged.
    log: logging.Logger
    resendable: _Resendable = _always_resendable
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        judge: _Judge,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The answer to ``method path`` (described as ``what``) that ``judge`` lets through."""
        content = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        retries = 0
        refreshed = False
        tokens = await self.fresh_tokens()
        while True:
            attempt = Attempt(what, retries, self.retry)
            resend: Resend | None
            request_headers = {"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json"}
            if content is not None:
                request_headers["Content-Type"] = "application/json; charset=utf-8"
            request_headers.update(headers or {})
            try:
                response = await self.client.request(
                    method, path, params=dict(params) if params else None, content=content, headers=request_headers
                )
            except _TRANSPORT_FAILURES as exc:
                resend = self._after_failure(method, exc, attempt)
            else:
                if response.status_code == 401:
                    if refreshed:
                        raise ProviderAuthFailed(
                            f"{what}: {self.provider} refused calmesh's access even after a token refresh (HTTP 401);"
                            " connect the account again"
                        )
                    tokens = await self.tokens.refresh(tokens)
                    refreshed = True
                    continue
                resend = await judge(response, attempt)
                if resend is None:
                    return response
            self.log.info(
                "%s: retrying after %s",
                self.provider.lower(),
                resend.why,
                extra={"action": "retry", "request": what, "waitSeconds": round(resend.seconds, 3)},
            )
            await self.sleep(resend.seconds)
            retries += 1

    def json_object(self, response: httpx.Response, what: str) -> dict[str, Any]:
        """A success's body as a JSON object; 204 and empty bodies are ``{}``."""
        if response.status_code == 204 or not response.content.strip():
            return {}
        try:
            data = response.json()
        except ValueError:
            raise ProviderProtocolError(
                f"{what}: {self.provider}'s answer (HTTP {response.status_code}) is not JSON"
            ) from None
        if not isinstance(data, dict):
            raise ProviderProtocolError(f"{what}: {self.provider}'s answer is not a JSON object")
        return data

    async def fresh_tokens(self) -> TokenSet:
        """The current tokens, refreshed first when they expire within :data:`REFRESH_MARGIN_SECONDS`
        (``ProviderAuthFailed`` when the provider refuses the refresh)."""
        tokens = await self.tokens.current()
        if tokens.expires_within(REFRESH_MARGIN_SECONDS):
            tokens = await self.tokens.refresh(tokens)
        return tokens

    def _after_failure(self, method: str, failure: httpx.TransportError, attempt: Attempt) -> Resend:
        """The wait before sending again after ``failure``, or ``ProviderUnreachable``."""
        said = "did not answer in time" if isinstance(failure, httpx.TimeoutException) else type(failure).__name__
        if not self.resendable(method, failure):
            raise ProviderUnreachable(
                f"{attempt.what}: {self.provider} {said} ({attempt.count}); the request may have been carried out,"
                " so it was not sent again"
            ) from failure
        if attempt.last:
            raise ProviderUnreachable(f"{attempt.what}: {self.provider} {said} ({attempt.count})") from failure
        return Resend(attempt.backoff(), said)
