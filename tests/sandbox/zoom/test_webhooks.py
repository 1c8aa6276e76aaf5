"""Webhooks to a real endpoint on loopback: URL validation, x-zm-signature, deauthorization, meeting events, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from calmesh.sandbox.serving import RunningApp, serve_in_thread
from calmesh.sandbox.zoom import WebhookValidationError
from tests.sandbox.helpers import wait_for
from tests.webhook_receiver import Receiver
from tests.zoom_sandbox import ADA, ServedZoomSandbox

ONE = {"topic": "Design review", "type": 2, "start_time": "2026-03-10T09:00:00Z", "duration": 30, "timezone": "UTC"}


@dataclass
class Arrival:
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ZoomEndpoint:
    """An event notification endpoint as an app builds it: answers the challenge with the secret token."""

    secret: str
    running: RunningApp | None = None
    arrivals: list[Arrival] = field(default_factory=list)
    #: Statuses to answer events with, in turn (then 200).
    script: list[int] = field(default_factory=list)
    wrong_answer: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.running is not None
        return self.running.url + "/zoom/events"

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.arrivals.append(Arrival(body, {k.lower(): v for k, v in request.headers.items()}))
            status = self.script.pop(0) if self.script else 200
        message = json.loads(body)
        if message["event"] == "endpoint.url_validation":
            plain = message["payload"]["plainToken"]
            key = b"not-the-secret" if self.wrong_answer else self.secret.encode()
            return JSONResponse({"plainToken": plain, "encryptedToken": hmac.new(key, plain.encode(), hashlib.sha256).hexdigest()})
        return Response(status_code=status)

    def events(self, name: str | None = None) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.json["event"] != "endpoint.url_validation" and (name is None or a.json["event"] == name)]


def signed_correctly(arrival: Arrival, secret: str) -> bool:
    """The receiver's check, from protocols.md §3.5 — written here independently of the sandbox."""
    timestamp = arrival.headers["x-zm-request-timestamp"]
    message = f"v0:{timestamp}:".encode() + arrival.body
    expected = "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(arrival.headers["x-zm-signature"], expected)


@pytest.fixture
def endpoint(zoom_sandbox: ServedZoomSandbox) -> Iterator[ZoomEndpoint]:
    target = ZoomEndpoint(zoom_sandbox.sandbox.webhook_secret_token)
    target.running = serve_in_thread(Starlette(routes=[Route("/zoom/events", target.receive, methods=["POST"])]))
    yield target
    target.running.stop()


@pytest.fixture
def api(zoom_sandbox: ServedZoomSandbox) -> Iterator[httpx.Client]:
    with zoom_sandbox.client() as client:
        yield client


def test_subscribing_validates_the_url_first(zoom_sandbox: ServedZoomSandbox, endpoint: ZoomEndpoint) -> None:
    sb = zoom_sandbox.sandbox
    subscription = sb.subscribe_webhooks(endpoint.url)
    assert subscription.url == endpoint.url
    assert subscription.events == {"app_deauthorized", "meeting.updated", "meeting.deleted"}
    challenge = endpoint.arrivals[0]
    assert set(challenge.json) == {"payload", "event_ts", "event"} and challenge.json["event"] == "endpoint.url_validation"
    assert set(challenge.json["payload"]) == {"plainToken"} and isinstance(challenge.json["event_ts"], int)
    assert signed_correctly(challenge, sb.webhook_secret_token), "the challenge is signed too"
    sent = sb.notifications[0]
    assert (sent.event, sent.status_code, sent.attempt) == ("endpoint.url_validation", 200, 1)
    assert b"encryptedToken" in sent.answer

    endpoint.wrong_answer = True
    with pytest.raises(WebhookValidationError, match="encryptedToken"):
        sb.subscribe_webhooks(endpoint.url + "?again=1")
    # A receiver that does not know the protocol (it answers {}) is refused as well.
    plain = Receiver.start()
    try:
        with pytest.raises(WebhookValidationError):
            sb.subscribe_webhooks(plain.url)
    finally:
        plain.close()
    assert [s.url for s in sb.subscriptions] == [endpoint.url]


def test_deauthorize_revokes_the_grant_and_sends_app_deauthorized(zoom_sandbox: ServedZoomSandbox, endpoint: ZoomEndpoint) -> None:
    zs = zoom_sandbox
    zs.sandbox.subscribe_webhooks(endpoint.url)
    zs.sandbox.deauthorize(ADA)
    assert wait_for(lambda: len(endpoint.events()) == 1)
    arrival = endpoint.events()[0]
    assert signed_correctly(arrival, zs.sandbox.webhook_secret_token)
    assert arrival.headers["content-type"].startswith("application/json")
    message = arrival.json
    assert list(message) == ["event", "payload", "event_ts"] and message["event"] == "app_deauthorized"
    payload = message["payload"]
    assert set(payload) == {"account_id", "user_id", "signature", "deauthorization_time", "client_id", "user_data_retention"}
    assert payload["user_id"] == zs.user_id and payload["account_id"] == zs.sandbox.account_id
    assert payload["client_id"] == zs.sandbox.client_id and payload["user_data_retention"] == "false"
    assert payload["deauthorization_time"].endswith("Z") and "." in payload["deauthorization_time"]

    # The grant is dead: the refresh token is refused, the access token too.
    basic = httpx.BasicAuth(zs.sandbox.client_id, zs.sandbox.client_secret)
    with httpx.Client(base_url=zs.url, trust_env=False) as browser:
        refused = browser.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": zs.refresh_token}, auth=basic)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    with zs.client() as api:
        assert api.get("/v2/users/me").status_code == 401


def test_changes_made_in_zoom_send_meeting_updated_and_meeting_deleted(
    zoom_sandbox: ServedZoomSandbox, endpoint: ZoomEndpoint, api: httpx.Client
) -> None:
    sb = zoom_sandbox.sandbox
    meeting = api.post("/v2/users/me/meetings", json={**ONE, "settings": {"mute_upon_entry": False}}).json()
    sb.subscribe_webhooks(endpoint.url)
    changed = sb.edit_meeting_in_zoom(meeting["id"], {"topic": "Moved review", "start_time": "2026-03-10T11:00:00Z", "settings": {"mute_upon_entry": True}})
    assert changed["topic"] == "Moved review"
    assert api.get(f"/v2/meetings/{meeting['id']}").json()["start_time"] == "2026-03-10T11:00:00Z"
    assert wait_for(lambda: len(endpoint.events("meeting.updated")) == 1)
    updated = endpoint.events("meeting.updated")[0]
    assert signed_correctly(updated, sb.webhook_secret_token)
    payload = updated.json["payload"]
    assert payload["account_id"] == sb.account_id and payload["operator"] == ADA and payload["operator_id"] == zoom_sandbox.user_id
    assert payload["object"] == {
        "id": meeting["id"],
        "uuid": meeting["uuid"],
        "topic": "Moved review",
        "start_time": "2026-03-10T11:00:00Z",
        "settings": {"mute_upon_entry": True},
    }
    assert payload["old_object"] == {
        "id": meeting["id"],
        "uuid": meeting["uuid"],
        "topic": "Design review",
        "start_time": "2026-03-10T09:00:00Z",
        "settings": {"mute_upon_entry": False},
    }
    assert isinstance(payload["time_stamp"], int)

    sb.edit_meeting_in_zoom(meeting["id"], {"topic": "Moved review"})  # no change: no event
    sb.delete_meeting_in_zoom(meeting["id"])
    assert wait_for(lambda: len(endpoint.events("meeting.deleted")) == 1)
    deleted = endpoint.events("meeting.deleted")[0]
    assert signed_correctly(deleted, sb.webhook_secret_token)
    assert deleted.json["payload"]["object"] == {
        "uuid": meeting["uuid"],
        "id": meeting["id"],
        "host_id": zoom_sandbox.user_id,
        "topic": "Moved review",
        "type": 2,
        "start_time": "2026-03-10T11:00:00Z",
        "duration": 30,
        "timezone": "UTC",
    }
    assert api.get(f"/v2/meetings/{meeting['id']}").status_code == 404
    assert len(endpoint.events("meeting.updated")) == 1
    assert [e.json["event"] for e in endpoint.events()] == ["meeting.updated", "meeting.deleted"], "in order, nothing else"


def test_api_changes_send_webhooks_too_unless_switched_off(
    zoom_sandbox: ServedZoomSandbox, endpoint: ZoomEndpoint, api: httpx.Client
) -> None:
    sb = zoom_sandbox.sandbox
    sb.subscribe_webhooks(endpoint.url, events=["meeting.created", "meeting.updated", "meeting.deleted"])
    meeting = api.post("/v2/users/me/meetings", json=ONE).json()
    api.patch(f"/v2/meetings/{meeting['id']}", json={"duration": 45})
    api.delete(f"/v2/meetings/{meeting['id']}")
    assert wait_for(lambda: len(endpoint.events()) == 3)
    assert [e.json["event"] for e in endpoint.events()] == ["meeting.created", "meeting.updated", "meeting.deleted"]
    created = endpoint.events("meeting.created")[0].json["payload"]["object"]
    assert created["id"] == meeting["id"] and created["join_url"] == meeting["join_url"] and created["settings"]["use_pmi"] is False
    assert endpoint.events("meeting.updated")[0].json["payload"]["object"] == {"id": meeting["id"], "uuid": meeting["uuid"], "duration": 45}

    sb.webhooks_for_api_changes = False
    other = api.post("/v2/users/me/meetings", json=ONE).json()
    api.delete(f"/v2/meetings/{other['id']}")
    time.sleep(0.2)
    assert len(endpoint.events()) == 3


def test_failed_deliveries_are_retried_and_re_signed(zoom_sandbox: ServedZoomSandbox, endpoint: ZoomEndpoint) -> None:
    sb = zoom_sandbox.sandbox
    sb.subscribe_webhooks(endpoint.url)
    endpoint.script = [500, 202]  # Zoom wants 200 or 204: a 202 is a failure too
    meeting = sb.create_meeting_in_zoom(ADA, ONE)
    sb.delete_meeting_in_zoom(meeting["id"])
    assert wait_for(lambda: len(endpoint.events()) == 3)
    assert wait_for(lambda: len([n for n in sb.notifications if n.event == "meeting.deleted"]) == 3)
    attempts = [(n.attempt, n.status_code) for n in sb.notifications if n.event == "meeting.deleted"]
    assert attempts == [(1, 500), (2, 202), (3, 200)]
    bodies = {a.body for a in endpoint.events()}
    assert len(bodies) == 1, "the same event each time"
    assert all(signed_correctly(a, sb.webhook_secret_token) for a in endpoint.events())

    assert sb.unsubscribe_webhooks(endpoint.url)
    sb.deauthorize(ADA)
    time.sleep(0.2)
    assert len(endpoint.events()) == 3, "nothing after unsubscribing"


def test_the_admin_endpoint_subscribes_and_deauthorizes(zoom_sandbox: ServedZoomSandbox, endpoint: ZoomEndpoint) -> None:
    with httpx.Client(base_url=zoom_sandbox.url, trust_env=False, timeout=10) as admin:
        answer = admin.post("/_sandbox/zoom/webhooks", json={"url": endpoint.url, "events": ["app_deauthorized"]})
        assert answer.status_code == 201 and answer.json() == {"url": endpoint.url, "events": ["app_deauthorized"]}
        assert admin.post("/_sandbox/zoom/webhooks", json={"url": endpoint.url, "events": ["meeting.started"]}).status_code == 400
        endpoint.wrong_answer = True
        assert admin.post("/_sandbox/zoom/webhooks", json={"url": endpoint.url + "?x=1"}).status_code == 422
        assert admin.post("/_sandbox/zoom/deauthorize", json={"email": ADA}).status_code == 200
    assert wait_for(lambda: len(endpoint.events("app_deauthorized")) == 1)
