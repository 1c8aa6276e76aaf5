"""Push notifications to a real receiver on loopback: sync, exists, message numbers, stop, expiry, retries."""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.google_sandbox import ServedGoogleSandbox
from tests.sandbox.helpers import wait_for
from tests.webhook_receiver import Receiver

WATCH = "/calendar/v3/calendars/primary/events/watch"
ONE = {"start": {"dateTime": "2026-03-10T09:00:00Z"}, "end": {"dateTime": "2026-03-10T10:00:00Z"}}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver.start()
    yield started
    started.close()


@pytest.fixture
def api(google_sandbox: ServedGoogleSandbox) -> httpx.Client:
    with google_sandbox.client() as client:
        yield client  # type: ignore[misc]


def watch(api: httpx.Client, address: str, **more: object) -> dict[str, object]:
    answer = api.post(WATCH, json={"id": str(uuid.uuid4()), "type": "web_hook", "address": address, **more})
    assert answer.status_code == 200, answer.text
    channel: dict[str, object] = answer.json()
    return channel


def test_a_channel_gets_sync_then_exists_for_every_change(google_sandbox: ServedGoogleSandbox, api: httpx.Client, receiver: Receiver) -> None:
    before = int(time.time() * 1000)
    channel = watch(api, receiver.url, token="tok-1", params={"ttl": "3600"})
    assert set(channel) == {"kind", "id", "resourceId", "resourceUri", "token", "expiration"}
    assert channel["kind"] == "api#channel" and channel["token"] == "tok-1"
    assert channel["resourceUri"] == f"{google_sandbox.url}/calendar/v3/calendars/ada@example.com/events?alt=json"
    expiration = int(str(channel["expiration"]))
    assert before + 3_600_000 <= expiration <= int(time.time() * 1000) + 3_600_000
    assert wait_for(lambda: len(receiver.snapshot()) == 1)

    api.post("/calendar/v3/calendars/primary/events", json=ONE)
    assert wait_for(lambda: len(receiver.snapshot()) == 2)
    google_sandbox.sandbox.insert_event("ada@example.com", ONE)
    assert wait_for(lambda: len(receiver.snapshot()) == 3)

    received = receiver.snapshot()
    assert [(r.header("X-Goog-Resource-State"), r.header("X-Goog-Message-Number")) for r in received] == [
        ("sync", "1"), ("exists", "2"), ("exists", "3"),
    ]
    for message in received:
        assert message.body == b""
        assert message.header("X-Goog-Channel-ID") == channel["id"]
        assert message.header("X-Goog-Channel-Token") == "tok-1"
        assert message.header("X-Goog-Resource-ID") == channel["resourceId"]
        assert message.header("X-Goog-Resource-URI") == channel["resourceUri"]
        assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", message.header("X-Goog-Channel-Expiration") or "")
    assert wait_for(lambda: len(google_sandbox.sandbox.notifications) == 3)
    sent = google_sandbox.sandbox.notifications
    assert [(n.resource_state, n.message_number, n.status_code) for n in sent] == [("sync", 1, 200), ("exists", 2, 200), ("exists", 3, 200)]
    assert [c.id for c in google_sandbox.sandbox.channels] == [channel["id"]]


def test_without_a_token_there_is_no_token_header_and_the_ttl_defaults_to_a_week(api: httpx.Client, receiver: Receiver) -> None:
    channel = watch(api, receiver.url, type="webhook")
    assert "token" not in channel
    week = int(time.time() * 1000) + 604_800_000
    assert abs(int(str(channel["expiration"])) - week) < 5_000
    requested = int(time.time() * 1000) + 60_000
    assert watch(api, receiver.url, expiration=requested)["expiration"] == str(requested)
    assert wait_for(lambda: len(receiver.snapshot()) == 2)
    assert receiver.snapshot()[0].header("X-Goog-Channel-Token") is None


def test_a_stopped_channel_sends_nothing(google_sandbox: ServedGoogleSandbox, api: httpx.Client, receiver: Receiver) -> None:
    channel = watch(api, receiver.url)
    assert wait_for(lambda: len(receiver.snapshot()) == 1)
    wrong = api.post("/calendar/v3/channels/stop", json={"id": channel["id"], "resourceId": "someone-else"})
    assert wrong.status_code == 404 and wrong.json()["error"]["errors"][0]["reason"] == "notFound"
    stopped = api.post("/calendar/v3/channels/stop", json={"id": channel["id"], "resourceId": channel["resourceId"]})
    assert stopped.status_code == 204 and stopped.content == b""
    assert api.post("/calendar/v3/channels/stop", json={"id": channel["id"], "resourceId": channel["resourceId"]}).status_code == 404
    google_sandbox.sandbox.insert_event("ada@example.com", ONE)
    time.sleep(0.2)
    assert len(receiver.snapshot()) == 1 and google_sandbox.sandbox.channels == []


def test_an_expired_channel_sends_nothing(google_sandbox: ServedGoogleSandbox, api: httpx.Client, receiver: Receiver) -> None:
    watch(api, receiver.url, expiration=int(time.time() * 1000) + 300)
    assert wait_for(lambda: len(receiver.snapshot()) == 1)
    time.sleep(0.35)
    assert google_sandbox.sandbox.channels == []
    api.post("/calendar/v3/calendars/primary/events", json=ONE)
    time.sleep(0.2)
    assert len(receiver.snapshot()) == 1


def test_failed_deliveries_are_retried(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    failing = Receiver.start(script=[500, 503], default=200)
    try:
        watch(api, failing.url)
        assert wait_for(lambda: len(google_sandbox.sandbox.notifications) == 3)
        attempts = [(n.attempt, n.status_code) for n in google_sandbox.sandbox.notifications]
        assert attempts == [(1, 500), (2, 503), (3, 200)]
        assert {r.header("X-Goog-Message-Number") for r in failing.snapshot()} == {"1"}
    finally:
        failing.close()

    # Nobody listens at this address: every try fails, and none holds up the API.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    google_sandbox.sandbox.push_retry_delays = (0.2, 0.2, 0.2)
    watch(api, nobody)
    started = time.monotonic()
    google_sandbox.sandbox.insert_event("ada@example.com", ONE)
    assert time.monotonic() - started < 0.1
    assert wait_for(lambda: sum(1 for n in google_sandbox.sandbox.notifications if n.error) == 8), google_sandbox.sandbox.notifications
    failures = [n for n in google_sandbox.sandbox.notifications if n.error]
    assert sorted((n.resource_state, n.attempt) for n in failures) == [
        (state, attempt) for state in ("exists", "sync") for attempt in (1, 2, 3, 4)
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"type": "web_hook", "address": "https://example.com/hook"}, "required"),
        ({"id": "c1", "type": "email", "address": "https://example.com/hook"}, "invalid"),
        ({"id": "c1", "type": "web_hook"}, "required"),
        ({"id": "x" * 65, "type": "web_hook", "address": "https://example.com/hook"}, "invalid"),
    ],
)
def test_watch_requests_are_validated(api: httpx.Client, body: dict[str, object], reason: str) -> None:
    answer = api.post(WATCH, json=body)
    assert answer.status_code == 400 and answer.json()["error"]["errors"][0]["reason"] == reason
