"""Zoom event notifications (webhooks): URL validation, signing, delivery with retries (protocols.md §3.5).

A subscription is an endpoint URL and the events it wants. Subscribing validates the URL first,
as Zoom does: it POSTs ``{"payload":{"plainToken":"…"},"event_ts":…,"event":"endpoint.url_validation"}``
and wants 200 with ``{"plainToken": same, "encryptedToken": hex HMAC-SHA256(secret token, plainToken)}``;
anything else refuses the subscription (:class:`WebhookValidationError`).

Every event is a JSON POST of ``{"event", "payload", "event_ts"}`` (``event_ts`` in epoch
milliseconds on the sandbox's clock) with the headers::

    x-zm-request-timestamp: <Unix seconds, real time>
    x-zm-signature: v0=<hex HMAC-SHA256(secret token, "v0:{timestamp}:{raw body}")>
    x-zm-trackingid, content-type: application/json; charset=utf-8, user-agent: Zoom Marketplace/1.0a

The timestamp is real time, not the sandbox's clock, so receivers that reject stale
timestamps keep working while a test moves the clock. The URL validation request is signed the
same way. A delivery succeeds on 200 or 204 within :attr:`WebhookHub.timeout` (3 s, as Zoom
wants); otherwise it is retried after each of :attr:`WebhookHub.retry_delays` (Zoom waits
minutes; the sandbox, fractions of a second), re-signed with a fresh timestamp. Deliveries to one
URL go out one after another, in order; each attempt is recorded as a :class:`SentWebhook`.

Payloads (``operator`` is the user who made the change):

* ``app_deauthorized``: ``{account_id, user_id, signature, deauthorization_time, client_id,
  user_data_retention: "false"}``;
* ``meeting.created``: ``{account_id, operator, operator_id, operation: "single", object:{uuid,
  id, host_id, topic, type, start_time, duration, timezone, join_url, password, settings:{use_pmi,
  alternative_hosts}}}``;
* ``meeting.updated``: ``{account_id, operator, operator_id, operation: "single", object:{id,
  uuid, …changed fields}, old_object:{id, uuid, …their old values}, time_stamp}``;
* ``meeting.deleted``: ``{account_id, operator, operator_id, operation: "single", object:{uuid,
  id, host_id, topic, type, start_time, duration, timezone}}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from calmesh.sandbox._common import Outbox, json_bytes

__all__ = [
    "DEFAULT_EVENTS",
    "EVENTS",
    "SentWebhook",
    "Subscription",
    "WebhookHub",
    "WebhookValidationError",
    "encrypted_token",
    "webhook_signature",
]

#: The events a subscription gets unless it names others.
DEFAULT_EVENTS = ("app_deauthorized", "meeting.updated", "meeting.deleted")
#: Every event the sandbox sends.
EVENTS = frozenset({*DEFAULT_EVENTS, "meeting.created"})


def webhook_signature(secret_token: str, timestamp: str, body: bytes) -> str:
    """``x-zm-signature``: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret_token.encode(), message, hashlib.sha256).hexdigest()


def encrypted_token(secret_token: str, plain_token: str) -> str:
    """The ``encryptedToken`` answering a URL validation: hex HMAC-SHA256 of the plain token."""
    return hmac.new(secret_token.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


class WebhookValidationError(ValueError):
    """The endpoint did not answer the URL validation challenge correctly."""


@dataclass(frozen=True)
class Subscription:
    url: str
    events: frozenset[str]


@dataclass(frozen=True)
class SentWebhook:
    """One delivery attempt of an event (or of a URL validation)."""

    event: str
    url: str
    #: The receiver's status, or None when the POST failed (then ``error`` says why).
    status_code: int | None
    error: str | None
    #: 1 for the first try, 2 for the first retry …
    attempt: int
    #: The exact bytes sent (what the signature covers).
    body: bytes
    headers: dict[str, str]
    #: What the receiver answered (empty when the POST failed).
    answer: bytes = b""


@dataclass(frozen=True)
class _Delivery:
    url: str
    event: str
    body: bytes


class WebhookHub(Outbox[_Delivery, SentWebhook]):
    """Subscriptions and their sender; thread-safe."""

    def __init__(
        self,
        lock: threading.RLock,
        secret_token: Callable[[], str],
        now_ms: Callable[[], int],
        record: Callable[[SentWebhook], None],
    ) -> None:
        # A receiver gets 3 seconds to answer, as at Zoom.
        super().__init__(lock, now_ms, record, timeout=3.0, key=lambda delivery: delivery.url, thread_name="zoom-sandbox-webhooks")
        self._secret = secret_token
        self._subscriptions: dict[str, Subscription] = {}

    # --- subscriptions -------------------------------------------------------------------

    def subscribe(self, url: str, events: Iterable[str] | None = None) -> Subscription:
        """Validate ``url`` (blocks until the receiver answered), then subscribe it."""
        wanted = self._events(events)
        ok, why = self._sender.run(lambda client: self._validate(client, url)).result(timeout=self.timeout + 10)
        return self._subscribed(url, wanted, ok, why)

    async def subscribe_async(self, url: str, events: Iterable[str] | None = None) -> Subscription:
        """:meth:`subscribe` for a caller on an event loop (the admin endpoint)."""
        wanted = self._events(events)
        ok, why = await asyncio.wrap_future(self._sender.run(lambda client: self._validate(client, url)))
        return self._subscribed(url, wanted, ok, why)

    def unsubscribe(self, url: str) -> bool:
        with self._lock:
            return self._subscriptions.pop(url, None) is not None

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions.values())

    def clear(self) -> None:
        with self._lock:
            self._subscriptions.clear()

    def _events(self, events: Iterable[str] | None) -> frozenset[str]:
        wanted = frozenset(events if events is not None else DEFAULT_EVENTS)
        unknown = wanted - EVENTS
        if unknown:
            raise ValueError(f"the sandbox sends no {', '.join(sorted(unknown))} events (only {', '.join(sorted(EVENTS))})")
        return wanted

    def _subscribed(self, url: str, events: frozenset[str], ok: bool, why: str) -> Subscription:
        if not ok:
            raise WebhookValidationError(f"URL validation of {url} failed: {why}")
        subscription = Subscription(url, events)
        with self._lock:
            self._subscriptions[url] = subscription
        return subscription

    async def _validate(self, client: httpx.AsyncClient, url: str) -> tuple[bool, str]:
        plain = secrets.token_urlsafe(16)
        body = json_bytes({"payload": {"plainToken": plain}, "event_ts": self._now_ms(), "event": "endpoint.url_validation"})
        headers = self._headers(body)
        try:
            response = await client.post(url, content=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            self._record(SentWebhook("endpoint.url_validation", url, None, error, 1, body, headers))
            return False, error
        self._record(SentWebhook("endpoint.url_validation", url, response.status_code, None, 1, body, headers, response.content))
        if response.status_code != 200:
            return False, f"the endpoint answered {response.status_code}"
        try:
            answer = response.json()
        except ValueError:
            return False, "the answer is not JSON"
        expected = encrypted_token(self._secret(), plain)
        if not isinstance(answer, dict) or answer.get("plainToken") != plain:
            return False, "the answer does not echo plainToken"
        if not hmac.compare_digest(str(answer.get("encryptedToken", "")), expected):
            return False, "encryptedToken is not the HMAC-SHA256 of plainToken with the secret token"
        return True, ""

    # --- events --------------------------------------------------------------------------

    def emit(self, event: str, payload: Mapping[str, Any]) -> int:
        """Send ``event`` to every subscription that wants it; returns how many."""
        body = json_bytes({"event": event, "payload": payload, "event_ts": self._now_ms()})
        with self._lock:
            targets = [s.url for s in self._subscriptions.values() if event in s.events]
        for url in targets:
            self._sender.submit(_Delivery(url, event, body))
        return len(targets)

    def _headers(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {
            "content-type": "application/json; charset=utf-8",
            "user-agent": "Zoom Marketplace/1.0a",
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": webhook_signature(self._secret(), timestamp, body),
            "x-zm-trackingid": f"v=2.0&s={timestamp}&c={secrets.token_hex(8)}",
        }

    def _live(self, url: str) -> bool:
        with self._lock:
            return url in self._subscriptions

    async def _deliver(self, client: httpx.AsyncClient, delivery: _Delivery) -> None:
        async def attempt(number: int) -> bool:
            # Re-signed on every attempt: the timestamp must be fresh.
            headers = self._headers(delivery.body)
            try:
                response = await client.post(delivery.url, content=delivery.body, headers=headers, timeout=self.timeout)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                self._record(SentWebhook(delivery.event, delivery.url, None, error, number, delivery.body, headers))
                return False
            status = response.status_code
            self._record(SentWebhook(delivery.event, delivery.url, status, None, number, delivery.body, headers, response.content))
            return status in (200, 204)

        await self._with_retries(lambda: self._live(delivery.url), attempt)
