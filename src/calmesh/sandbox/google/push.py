"""Push notifications: watch channels and the sender that POSTs to their addresses (protocols.md §1.6).

A channel (events.watch) gets a ``sync`` message once it is created, then an ``exists`` message
for every change to its calendar's events — made through the API or through ``sb.*``. Each
message is an empty POST with Google's headers::

    X-Goog-Channel-ID, X-Goog-Channel-Token (if set), X-Goog-Channel-Expiration (RFC 1123),
    X-Goog-Resource-ID, X-Goog-Resource-URI, X-Goog-Resource-State, X-Goog-Message-Number

Message numbers grow per channel (``sync`` is 1). A non-2xx answer or a failed POST is retried
after each of :attr:`PushHub.retry_delays`; stopped or expired channels send nothing, not even
pending retries.

Design: :class:`PushHub` is a shared :class:`~calmesh.sandbox._common.Outbox`, sending through a
:class:`~calmesh.sandbox._common.Sender` — one daemon thread running its own asyncio loop and an
``httpx.AsyncClient``; changes from any thread (the server's loop, a test's thread) hand
messages over without waiting for a receiver. Messages of one channel go out one after another,
in order. :meth:`PushHub.close` stops the thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx

from calmesh.sandbox._common import Outbox
from calmesh.sandbox.google.times import http_date

__all__ = ["Channel", "PushHub", "SentNotification"]

ResourceState = Literal["sync", "exists", "not_exists"]


@dataclass(frozen=True)
class Channel:
    """An active watch channel."""

    id: str
    resource_id: str
    calendar_id: str
    address: str
    token: str | None
    #: When it ends, in Unix epoch milliseconds.
    expiration: int
    resource_uri: str


@dataclass(frozen=True)
class SentNotification:
    """One delivery attempt of a push message."""

    channel_id: str
    resource_state: str
    message_number: int
    #: The receiver's answer, or None when the POST failed (then ``error`` says why).
    status_code: int | None
    error: str | None
    #: 1 for the first try, 2 for the first retry …
    attempt: int
    address: str


@dataclass
class _Open:
    channel: Channel
    #: The last message number used; 1 is the ``sync`` message's.
    numbers: int = 1
    #: Changes made before ``sync`` went out (None once it has): they follow it, in order.
    held: list[int] | None = field(default_factory=list)


@dataclass(frozen=True)
class _Message:
    channel: Channel
    state: ResourceState
    number: int


class PushHub(Outbox[_Message, SentNotification]):
    """The channels of one sandbox and their sender; thread-safe."""

    def __init__(self, lock: threading.RLock, now_ms: Callable[[], int], record: Callable[[SentNotification], None]) -> None:
        super().__init__(
            lock, now_ms, record, timeout=5.0, key=lambda message: message.channel.id, thread_name="google-sandbox-push"
        )
        self._open: dict[str, _Open] = {}

    # --- channels ------------------------------------------------------------------------

    def open(self, channel: Channel) -> None:
        with self._lock:
            self._open[channel.id] = _Open(channel)

    def has(self, channel_id: str) -> bool:
        with self._lock:
            return channel_id in self._open

    def stop(self, channel_id: str, resource_id: str | None) -> bool:
        with self._lock:
            found = self._open.get(channel_id)
            if found is None or (resource_id is not None and found.channel.resource_id != resource_id):
                return False
            del self._open[channel_id]
            return True

    def active(self) -> list[Channel]:
        with self._lock:
            now = self._now_ms()
            return [entry.channel for entry in self._open.values() if entry.channel.expiration > now]

    def clear(self) -> None:
        with self._lock:
            self._open.clear()

    # --- messages ------------------------------------------------------------------------

    def announce(self, channel_id: str) -> None:
        """Send the channel's ``sync`` message (after events.watch has answered)."""
        with self._lock:
            entry = self._open.get(channel_id)
            if entry is None or entry.held is None:
                return
            held, entry.held = entry.held, None
            self._sender.submit(_Message(entry.channel, "sync", 1))
            for number in held:
                self._sender.submit(_Message(entry.channel, "exists", number))

    def changed(self, calendar_id: str) -> None:
        """Something changed on the calendar: ``exists`` to each live channel watching it."""
        with self._lock:
            now = self._now_ms()
            for entry in self._open.values():
                if entry.channel.calendar_id == calendar_id and entry.channel.expiration > now:
                    entry.numbers += 1
                    if entry.held is not None:
                        entry.held.append(entry.numbers)
                    else:
                        self._sender.submit(_Message(entry.channel, "exists", entry.numbers))

    def _live(self, channel: Channel) -> bool:
        with self._lock:
            entry = self._open.get(channel.id)
            return entry is not None and entry.channel is channel and channel.expiration > self._now_ms()

    async def _deliver(self, client: httpx.AsyncClient, message: _Message) -> None:
        channel = message.channel
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": http_date(channel.expiration),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": message.state,
            "X-Goog-Message-Number": str(message.number),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token

        async def attempt(number: int) -> bool:
            status: int | None = None
            error: str | None = None
            try:
                response = await client.post(channel.address, headers=headers, content=b"", timeout=self.timeout)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self._record(SentNotification(channel.id, message.state, message.number, status, error, number, channel.address))
            return status is not None and 200 <= status < 300

        await self._with_retries(lambda: self._live(channel), attempt)
