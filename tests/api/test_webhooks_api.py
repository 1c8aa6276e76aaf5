"""``/v1/webhooks`` and ``/v1/webhook-events`` over HTTP (PRODUCT.md W1): the real app under
uvicorn, events recorded through the real outbox (``announce``), and the server's embedded
dispatcher delivering them to a real receiver on loopback. Also the integration lifecycle
endpoints (refresh, re-authentication)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from calmesh.services.announcements import announce
from calmesh.services.runtime import build_runtime
from calmesh.services.tenants import create_tenant
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.webhooks import verify_signature
from calmesh.webhooks.catalogue import EventType
from tests.api.test_problems_and_conventions import assert_problem
from tests.caldav_servers import CalDAVServer
from tests.conftest import RunningServer, make_settings, start_server

UTC = timezone.utc
#: How long the embedded dispatcher gets to deliver (it polls every second and is nudged on commit).
DELIVERY_WAIT_SECONDS = 10.0
HOOK = "https://receiver.example.com/calmesh"

T = TypeVar("T")


# --- fixtures and helpers --------------------------------------------------------------------


@dataclass
class Tenant:
    id: str
    key: str


async def new_tenant(server: RunningServer) -> Tenant:
    runtime = build_runtime(server.settings)
    try:
        created = await create_tenant(runtime, f"tenant-{uuid.uuid4().hex[:8]}")
        return Tenant(created.tenant.id, created.api_key.key)
    finally:
        await runtime.close()


async def announce_events(server: RunningServer, tenant_id: str, *events: tuple[EventType, dict[str, Any]]) -> list[str]:
    """Record events for the tenant through the real outbox, one transaction each (as the
    services do), a few milliseconds apart so their time-ordered ids sort as they were made."""
    runtime = build_runtime(server.settings)
    ids = []
    try:
        for event_type, data in events:
            async with UnitOfWork(runtime) as uow:
                ids.append(await announce(uow, tenant_id, event_type, data))
                await uow.commit()
            await asyncio.sleep(0.003)
    finally:
        await runtime.close()
    return ids


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout: float = DELIVERY_WAIT_SECONDS, what: str) -> T:
    """Poll ``probe`` every 50 ms until it returns something, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def private_server(sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """The API on loopback, allowed to send webhooks to private and loopback addresses."""
    running, thread = start_server(make_settings(sqlite_url, tmp_path, allow_private_network=True))
    yield running
    running.server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
async def tenant(private_server: RunningServer) -> Tenant:
    return await new_tenant(private_server)


@pytest.fixture
async def api(private_server: RunningServer, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with private_server.client(tenant.key) as client:
        yield client


async def create_webhook(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/webhooks", json={"url": HOOK, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


class _ReceiverHttpServer(ThreadingHTTPServer):
    received: list[ReceivedRequest]


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: _ReceiverHttpServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append(ReceivedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return None


@dataclass
class Receiver:
    url: str
    httpd: _ReceiverHttpServer

    @property
    def received(self) -> list[ReceivedRequest]:
        return list(self.httpd.received)

    def for_event(self, event_id: str) -> list[ReceivedRequest]:
        return [r for r in self.received if r.headers.get("calmesh-event-id") == event_id]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback that answers 200 and records every request."""
    httpd = _ReceiverHttpServer(("127.0.0.1", 0), _ReceiverHandler)
    httpd.received = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield Receiver(f"http://127.0.0.1:{httpd.server_address[1]}/hooks/calmesh", httpd)
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


# --- URLs the server refuses -----------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1/hook", "http://169.254.169.254/latest"])
async def test_loopback_and_link_local_webhook_urls_are_unsafe_by_default(server: RunningServer, tenant_key: str, url: str) -> None:
    assert server.settings.allow_private_network is False
    async with server.client(tenant_key) as client:
        assert_problem(await client.post("/v1/webhooks", json={"url": url}), 422, "/problems/unsafe-url")
        assert (await client.get("/v1/webhooks")).json()["data"] == []


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "/relative/hook"])
async def test_webhook_urls_must_be_absolute_http(server: RunningServer, tenant_key: str, url: str) -> None:
    async with server.client(tenant_key) as client:
        response = await client.post("/v1/webhooks", json={"url": url})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert (await client.get("/v1/webhooks")).json()["data"] == []


async def test_patching_to_an_unsafe_url_is_refused_by_default(server: RunningServer, tenant_key: str) -> None:
    async with server.client(tenant_key) as client:
        # An IP literal that is public needs no DNS lookup, so this works without network access.
        created = await client.post("/v1/webhooks", json={"url": "https://93.184.215.14/hook"})
        assert created.status_code == 201, created.text
        webhook_id = created.json()["id"]
        response = await client.patch(f"/v1/webhooks/{webhook_id}", json={"url": "http://127.0.0.1:8080/hook"})
        assert_problem(response, 422, "/problems/unsafe-url")
        assert (await client.get(f"/v1/webhooks/{webhook_id}")).json()["url"] == "https://93.184.215.14/hook"


# --- endpoints and secrets -------------------------------------------------------------------


async def test_create_shows_the_secret_once_and_reads_show_only_its_prefix(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/webhooks", json={"url": HOOK, "eventTypes": ["booking.created", "integration.synced"], "description": "CRM"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 30
    assert created["id"].startswith("whk_")
    assert created["url"] == HOOK and created["description"] == "CRM" and created["active"] is True
    assert created["eventTypes"] == ["integration.synced", "booking.created"]  # catalogue order
    assert created["health"] == "HEALTHY" and created["failingSince"] is None
    [listed_secret] = created["secrets"]
    assert listed_secret["active"] is True and listed_secret["expiresAt"] is None
    assert secret.startswith(listed_secret["prefix"].rstrip("…")) and listed_secret["prefix"] != secret

    fetched = await api.get(f"/v1/webhooks/{created['id']}")
    assert fetched.status_code == 200
    assert secret not in fetched.text
    read = fetched.json()
    assert "secret" not in read
    assert read["secrets"] == created["secrets"]
    assert read["url"] == HOOK and read["eventTypes"] == created["eventTypes"]

    listed = await api.get("/v1/webhooks")
    assert listed.status_code == 200 and secret not in listed.text
    body = listed.json()
    assert [w["id"] for w in body["data"]] == [created["id"]] and body["nextCursor"] is None


async def test_a_caller_provided_secret_is_used_and_must_be_long_enough(api: httpx.AsyncClient) -> None:
    own = "my-own-signing-secret-0123456789"
    created = await create_webhook(api, secret=own)
    assert created["secret"] == own
    short = await api.post("/v1/webhooks", json={"url": HOOK, "secret": "too-short"})
    body = assert_problem(short, 422, "/problems/validation-error")
    assert "24" in str(body["detail"])
    assert len((await api.get("/v1/webhooks")).json()["data"]) == 1


async def test_unknown_event_types_are_refused_and_none_means_every_type(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/webhooks", json={"url": HOOK, "eventTypes": ["booking.created", "booking.exploded"]})
    body = assert_problem(response, 422, "/problems/validation-error")
    assert "booking.exploded" in str(body["detail"])
    assert body["errors"][0]["field"] == "eventTypes"  # type: ignore[index]

    created = await create_webhook(api)
    assert created["eventTypes"] == []

    patched = await api.patch(f"/v1/webhooks/{created['id']}", json={"eventTypes": ["nope"]})
    assert_problem(patched, 422, "/problems/validation-error")


async def test_patch_changes_only_what_is_sent(api: httpx.AsyncClient) -> None:
    created = await create_webhook(api, description="first")
    webhook_id = created["id"]

    response = await api.patch(
        f"/v1/webhooks/{webhook_id}", json={"url": "https://other.example.com/in", "eventTypes": ["event.deleted", "event.created"]}
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["url"] == "https://other.example.com/in"
    assert patched["eventTypes"] == ["event.created", "event.deleted"]
    assert patched["description"] == "first" and patched["active"] is True

    patched = (await api.patch(f"/v1/webhooks/{webhook_id}", json={"active": False, "description": None})).json()
    assert patched["active"] is False and patched["description"] is None
    assert patched["url"] == "https://other.example.com/in"

    patched = (await api.patch(f"/v1/webhooks/{webhook_id}", json={"active": True, "eventTypes": []})).json()
    assert patched["active"] is True and patched["eventTypes"] == []
    assert (await api.get(f"/v1/webhooks/{webhook_id}")).json() == patched
    assert datetime.fromisoformat(patched["updatedAt"]) >= datetime.fromisoformat(patched["createdAt"])

    assert_problem(await api.patch(f"/v1/webhooks/{webhook_id}", json={"colour": "red"}), 422, "/problems/validation-error")


async def test_delete_is_204_and_the_webhook_is_gone(api: httpx.AsyncClient) -> None:
    webhook_id = (await create_webhook(api))["id"]
    response = await api.delete(f"/v1/webhooks/{webhook_id}")
    assert response.status_code == 204 and response.content == b""
    assert_problem(await api.get(f"/v1/webhooks/{webhook_id}"), 404, "/problems/not-found")
    assert_problem(await api.delete(f"/v1/webhooks/{webhook_id}"), 404, "/problems/not-found")
    assert_problem(await api.get(f"/v1/webhooks/{webhook_id}/deliveries"), 404, "/problems/not-found")
    assert (await api.get("/v1/webhooks")).json()["data"] == []


async def test_another_tenants_webhook_is_not_found(private_server: RunningServer, api: httpx.AsyncClient) -> None:
    webhook = await create_webhook(api)
    webhook_id, secret_id = webhook["id"], webhook["secrets"][0]["id"]
    other = await new_tenant(private_server)
    async with private_server.client(other.key) as stranger:
        assert (await stranger.get("/v1/webhooks")).json()["data"] == []
        assert_problem(await stranger.get(f"/v1/webhooks/{webhook_id}"), 404, "/problems/not-found")
        assert_problem(await stranger.patch(f"/v1/webhooks/{webhook_id}", json={"active": False}), 404, "/problems/not-found")
        assert_problem(await stranger.delete(f"/v1/webhooks/{webhook_id}"), 404, "/problems/not-found")
        assert_problem(await stranger.post(f"/v1/webhooks/{webhook_id}/secrets"), 404, "/problems/not-found")
        assert_problem(await stranger.delete(f"/v1/webhooks/{webhook_id}/secrets/{secret_id}"), 404, "/problems/not-found")
        assert_problem(await stranger.get(f"/v1/webhooks/{webhook_id}/deliveries"), 404, "/problems/not-found")
    assert (await api.get(f"/v1/webhooks/{webhook_id}")).json()["active"] is True


async def test_rotation_shows_the_new_secret_once_and_keeps_the_old_one_for_a_while(api: httpx.AsyncClient) -> None:
    created = await create_webhook(api)
    webhook_id, old_secret = created["id"], created["secrets"][0]

    response = await api.post(f"/v1/webhooks/{webhook_id}/secrets", json={"expireCurrentInSeconds": 3600})
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["secret"].startswith("whsec_") and new["secret"] != created["secret"]
    assert new["active"] is True and new["expiresAt"] is None and new["id"] != old_secret["id"]

    fetched = await api.get(f"/v1/webhooks/{webhook_id}")
    assert new["secret"] not in fetched.text and created["secret"] not in fetched.text
    secrets = {s["id"]: s for s in fetched.json()["secrets"]}
    assert set(secrets) == {old_secret["id"], new["id"]}
    assert all(s["active"] for s in secrets.values())
    assert secrets[new["id"]]["expiresAt"] is None
    expires_in = datetime.fromisoformat(secrets[old_secret["id"]]["expiresAt"]) - datetime.now(UTC)
    assert timedelta(minutes=59) < expires_in <= timedelta(hours=1)

    # Now that another is active, the old one can be retired at once.
    assert (await api.delete(f"/v1/webhooks/{webhook_id}/secrets/{old_secret['id']}")).status_code == 204
    assert [s["id"] for s in (await api.get(f"/v1/webhooks/{webhook_id}")).json()["secrets"]] == [new["id"]]


async def test_an_empty_rotation_request_expires_the_current_secret_in_a_day(api: httpx.AsyncClient) -> None:
    created = await create_webhook(api)
    response = await api.post(f"/v1/webhooks/{created['id']}/secrets")
    assert response.status_code == 201, response.text
    old = next(s for s in (await api.get(f"/v1/webhooks/{created['id']}")).json()["secrets"] if s["id"] == created["secrets"][0]["id"])
    expires_in = datetime.fromisoformat(old["expiresAt"]) - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < expires_in <= timedelta(days=1)


async def test_rotation_validates_its_body(api: httpx.AsyncClient) -> None:
    webhook_id = (await create_webhook(api))["id"]
    short = await api.post(f"/v1/webhooks/{webhook_id}/secrets", json={"secret": "short-secret"})
    assert_problem(short, 422, "/problems/validation-error")
    too_long = await api.post(f"/v1/webhooks/{webhook_id}/secrets", json={"expireCurrentInSeconds": 8 * 86400})
    assert_problem(too_long, 422, "/problems/validation-error")
    own = "rotated-secret-of-my-own-choosing"
    response = await api.post(f"/v1/webhooks/{webhook_id}/secrets", json={"secret": own, "expireCurrentInSeconds": 0})
    assert response.status_code == 201 and response.json()["secret"] == own
    secrets = (await api.get(f"/v1/webhooks/{webhook_id}")).json()["secrets"]
    assert [s["active"] for s in secrets] == [False, True]  # expireCurrentInSeconds=0: the old one at once


async def test_the_only_active_secret_cannot_be_deleted(api: httpx.AsyncClient) -> None:
    created = await create_webhook(api)
    webhook_id, secret_id = created["id"], created["secrets"][0]["id"]
    body = assert_problem(await api.delete(f"/v1/webhooks/{webhook_id}/secrets/{secret_id}"), 409, "/problems/conflict")
    assert "rotate" in str(body["detail"])
    assert_problem(await api.delete(f"/v1/webhooks/{webhook_id}/secrets/whs_nope"), 404, "/problems/not-found")
    assert [s["id"] for s in (await api.get(f"/v1/webhooks/{webhook_id}")).json()["secrets"]] == [secret_id]


async def test_webhooks_are_paginated(api: httpx.AsyncClient) -> None:
    ids = [(await create_webhook(api, description=str(i)))["id"] for i in range(3)]
    first = (await api.get("/v1/webhooks", params={"limit": 2})).json()
    assert [w["id"] for w in first["data"]] == ids[:2] and first["nextCursor"]
    second = (await api.get("/v1/webhooks", params={"limit": 2, "cursor": first["nextCursor"]})).json()
    assert [w["id"] for w in second["data"]] == ids[2:] and second["nextCursor"] is None


# --- the event log ---------------------------------------------------------------------------


async def test_announced_events_are_listed_oldest_first_and_filtered(
    private_server: RunningServer, tenant: Tenant, api: httpx.AsyncClient
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    synced, error, synced_again = await announce_events(
        private_server, tenant.id,
        (EventType.INTEGRATION_SYNCED, {"connectionId": "int_1", "created": 2}),
        (EventType.INTEGRATION_ERROR, {"connectionId": "int_1", "error": "the server answered 503"}),
        (EventType.INTEGRATION_SYNCED, {"connectionId": "int_1", "created": 0, "updated": 1}),
    )

    response = await api.get("/v1/webhook-events")
    assert response.status_code == 200, response.text
    events = response.json()["data"]
    assert [e["id"] for e in events] == [synced, error, synced_again]
    assert [e["type"] for e in events] == ["integration.synced", "integration.error", "integration.synced"]
    assert events[0]["data"] == {"connectionId": "int_1", "created": 2}
    assert events[0]["tenantId"] == tenant.id
    assert all(datetime.fromisoformat(e["createdAt"]) >= before for e in events)

    only_synced = (await api.get("/v1/webhook-events", params={"type": "integration.synced"})).json()["data"]
    assert [e["id"] for e in only_synced] == [synced, synced_again]
    assert (await api.get("/v1/webhook-events", params={"type": "booking.created"})).json()["data"] == []

    body = assert_problem(await api.get("/v1/webhook-events", params={"type": "nope"}), 422, "/problems/validation-error")
    assert body["errors"][0]["field"] == "type" and body["errors"][0]["location"] == "query"  # type: ignore[index]

    page = (await api.get("/v1/webhook-events", params={"limit": 2})).json()
    assert [e["id"] for e in page["data"]] == [synced, error]
    rest = (await api.get("/v1/webhook-events", params={"limit": 2, "cursor": page["nextCursor"]})).json()
    assert [e["id"] for e in rest["data"]] == [synced_again] and rest["nextCursor"] is None

    fetched = await api.get(f"/v1/webhook-events/{error}")
    assert fetched.status_code == 200
    assert fetched.json() == events[1]
    assert_problem(await api.get("/v1/webhook-events/wev_nope"), 404, "/problems/not-found")


async def test_events_since_a_time(private_server: RunningServer, tenant: Tenant, api: httpx.AsyncClient) -> None:
    [old] = await announce_events(private_server, tenant.id, (EventType.BOOKING_CREATED, {"id": "bkg_1"}))
    created_at = datetime.fromisoformat((await api.get(f"/v1/webhook-events/{old}")).json()["createdAt"])
    await asyncio.sleep(0.01)
    [new] = await announce_events(private_server, tenant.id, (EventType.BOOKING_CANCELLED, {"id": "bkg_1"}))

    def since(value: datetime) -> dict[str, str]:
        return {"since": value.isoformat()}

    assert [e["id"] for e in (await api.get("/v1/webhook-events", params=since(created_at))).json()["data"]] == [old, new]
    later = created_at + timedelta(milliseconds=5)
    assert [e["id"] for e in (await api.get("/v1/webhook-events", params=since(later))).json()["data"]] == [new]
    future = datetime.now(UTC) + timedelta(hours=1)
    assert (await api.get("/v1/webhook-events", params=since(future))).json()["data"] == []
    # In another offset, the same instant.
    berlin = (created_at.astimezone(timezone(timedelta(hours=2)))).isoformat()
    assert len((await api.get("/v1/webhook-events", params={"since": berlin})).json()["data"]) == 2

    assert_problem(await api.get("/v1/webhook-events", params={"since": "yesterday"}), 422, "/problems/validation-error")
    # Without an offset the instant is ambiguous: refused rather than guessed.
    assert_problem(await api.get("/v1/webhook-events", params={"since": "2026-01-01T00:00:00"}), 422, "/problems/validation-error")


async def test_another_tenants_events_are_not_found(private_server: RunningServer, tenant: Tenant, api: httpx.AsyncClient) -> None:
    [event_id] = await announce_events(private_server, tenant.id, (EventType.EVENT_CREATED, {"id": "evt_1"}))
    await create_webhook(api)
    other = await new_tenant(private_server)
    async with private_server.client(other.key) as stranger:
        assert (await stranger.get("/v1/webhook-events")).json()["data"] == []
        assert_problem(await stranger.get(f"/v1/webhook-events/{event_id}"), 404, "/problems/not-found")
        assert_problem(await stranger.post(f"/v1/webhook-events/{event_id}/replay"), 404, "/problems/not-found")
    assert (await api.get(f"/v1/webhook-events/{event_id}")).status_code == 200


async def test_replaying_when_no_endpoint_subscribes_is_a_conflict(
    private_server: RunningServer, tenant: Tenant, api: httpx.AsyncClient
) -> None:
    await create_webhook(api, eventTypes=["booking.created"])
    [event_id] = await announce_events(private_server, tenant.id, (EventType.EVENT_DELETED, {"id": "evt_1"}))
    assert_problem(await api.post(f"/v1/webhook-events/{event_id}/replay"), 409, "/problems/conflict")
    assert_problem(await api.post("/v1/webhook-events/wev_nope/replay"), 404, "/problems/not-found")
    response = await api.post(f"/v1/webhook-events/{event_id}/replay", json={"webhookIds": ["whk_nope"]})
    assert_problem(response, 404, "/problems/not-found")


# --- deliveries to a real receiver -----------------------------------------------------------


async def test_an_announced_event_is_delivered_signed_logged_and_replayable(
    private_server: RunningServer, tenant: Tenant, api: httpx.AsyncClient, receiver: Receiver
) -> None:
    webhook = await create_webhook(api, url=receiver.url, eventTypes=["integration.synced"])
    webhook_id, secret = webhook["id"], webhook["secret"]
    skipped, event_id = await announce_events(
        private_server, tenant.id,
        (EventType.BOOKING_CREATED, {"id": "bkg_1"}),  # not subscribed: never sent
        (EventType.INTEGRATION_SYNCED, {"connectionId": "int_1", "created": 3}),
    )

    async def received_once() -> ReceivedRequest | None:
        got = receiver.for_event(event_id)
        return got[0] if got else None

    request = await eventually(received_once, what="the receiver to get the event")
    assert request.path == "/hooks/calmesh"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["calmesh-event-type"] == "integration.synced"
    assert request.headers["calmesh-delivery-attempt"] == "1"
    assert verify_signature(request.body, request.headers["calmesh-signature"], secret) > 0
    body = httpx.Response(200, content=request.body).json()
    assert body["id"] == event_id and body["type"] == "integration.synced" and body["tenantId"] == tenant.id
    assert body["data"] == {"connectionId": "int_1", "created": 3}
    event = (await api.get(f"/v1/webhook-events/{event_id}")).json()
    assert datetime.fromisoformat(body["createdAt"]) == datetime.fromisoformat(event["createdAt"])

    async def delivered() -> list[dict[str, Any]] | None:
        data: list[dict[str, Any]] = (await api.get(f"/v1/webhooks/{webhook_id}/deliveries")).json()["data"]
        return data if data and all(d["status"] == "DELIVERED" for d in data) else None

    [delivery] = await eventually(delivered, what="the delivery to be logged as DELIVERED")
    assert delivery["webhookId"] == webhook_id and delivery["eventId"] == event_id
    assert delivery["eventType"] == "integration.synced" and delivery["replay"] is False
    assert delivery["attempts"] == 1 and delivery["lastStatusCode"] == 200 and delivery["lastLatencyMs"] >= 0
    assert delivery["lastError"] is None and delivery["nextAttemptAt"] is None and delivery["deliveredAt"]
    assert request.headers["calmesh-delivery-id"] == delivery["id"]

    detail = await api.get(f"/v1/webhooks/{webhook_id}/deliveries/{delivery['id']}")
    assert detail.status_code == 200, detail.text
    [attempt] = detail.json()["attemptLog"]
    assert attempt["statusCode"] == 200 and attempt["latencyMs"] >= 0 and attempt["error"] is None
    assert_problem(await api.get(f"/v1/webhooks/{webhook_id}/deliveries/wdl_nope"), 404, "/problems/not-found")

    healthy = (await api.get(f"/v1/webhooks/{webhook_id}")).json()
    assert healthy["health"] == "HEALTHY" and healthy["lastSuccessAt"] is not None

    # Replay: a new delivery of the same event, the same id and body at the receiver.
    replay = await api.post(f"/v1/webhook-events/{event_id}/replay")
    assert replay.status_code == 202, replay.text
    [replayed] = replay.json()["data"]
    assert replayed["replay"] is True and replayed["eventId"] == event_id and replayed["webhookId"] == webhook_id
    assert replayed["id"] != delivery["id"] and replayed["status"] == "PENDING"

    async def received_twice() -> list[ReceivedRequest] | None:
        got = receiver.for_event(event_id)
        return got if len(got) == 2 else None

    first, second = await eventually(received_twice, what="the replay to reach the receiver")
    assert second.body == first.body
    assert second.headers["calmesh-delivery-id"] == replayed["id"]
    assert verify_signature(second.body, second.headers["calmesh-signature"], secret) > 0
    assert receiver.for_event(skipped) == []

    async def both_delivered() -> list[dict[str, Any]] | None:
        data = await delivered()
        return data if data is not None and len(data) == 2 else None

    deliveries = await eventually(both_delivered, what="the replay to be logged as DELIVERED")
    assert [d["replay"] for d in deliveries] == [False, True]

    # The log's filters.
    log = f"/v1/webhooks/{webhook_id}/deliveries"
    assert len((await api.get(log, params={"status": "DELIVERED", "eventId": event_id})).json()["data"]) == 2
    assert (await api.get(log, params={"status": "FAILED"})).json()["data"] == []
    assert (await api.get(log, params={"eventId": skipped})).json()["data"] == []
    body_422 = assert_problem(await api.get(log, params={"status": "LOST"}), 422, "/problems/validation-error")
    assert body_422["errors"][0]["field"] == "status"  # type: ignore[index]


async def test_after_rotation_deliveries_verify_under_the_old_and_the_new_secret(
    private_server: RunningServer, tenant: Tenant, api: httpx.AsyncClient, receiver: Receiver
) -> None:
    webhook = await create_webhook(api, url=receiver.url)
    rotated = await api.post(f"/v1/webhooks/{webhook['id']}/secrets", json={"expireCurrentInSeconds": 600})
    new_secret = rotated.json()["secret"]
    [event_id] = await announce_events(private_server, tenant.id, (EventType.BOOKING_RESCHEDULED, {"id": "bkg_1"}))

    async def received() -> ReceivedRequest | None:
        got = receiver.for_event(event_id)
        return got[0] if got else None

    request = await eventually(received, what="the receiver to get the event")
    header = request.headers["calmesh-signature"]
    assert header.count("v1=") == 2
    assert verify_signature(request.body, header, webhook["secret"]) > 0
    assert verify_signature(request.body, header, new_secret) > 0


async def test_replay_to_a_named_webhook_only(
    private_server: RunningServer, tenant: Tenant, api: httpx.AsyncClient, receiver: Receiver
) -> None:
    paused = await create_webhook(api, url=receiver.url + "/paused", active=False)
    [event_id] = await announce_events(private_server, tenant.id, (EventType.EVENT_UPDATED, {"id": "evt_1"}))
    # Not subscribed while paused: no delivery, and replaying to every subscriber finds none.
    assert (await api.get(f"/v1/webhooks/{paused['id']}/deliveries")).json()["data"] == []
    assert_problem(await api.post(f"/v1/webhook-events/{event_id}/replay"), 409, "/problems/conflict")

    live = await create_webhook(api, url=receiver.url + "/live")
    response = await api.post(f"/v1/webhook-events/{event_id}/replay", json={"webhookIds": [live["id"]]})
    assert response.status_code == 202, response.text
    assert [d["webhookId"] for d in response.json()["data"]] == [live["id"]]

    async def received() -> list[ReceivedRequest] | None:
        got = receiver.for_event(event_id)
        return got or None

    [request] = await eventually(received, what="the replay to reach the receiver")
    assert request.path == "/hooks/calmesh/live"


# --- integrations: refresh and re-authentication -----------------------------------------------


async def test_refreshing_an_unknown_integration_is_404(server: RunningServer, tenant_key: str) -> None:
    async with server.client(tenant_key) as client:
        assert_problem(await client.post("/v1/integrations/int_nope/refresh"), 404, "/problems/not-found")


async def test_connect_is_201_and_reauthentication_200(api: httpx.AsyncClient, xandikos_server: CalDAVServer) -> None:
    calendar_url = await xandikos_server.mkcalendar(display_name=f"reauth-{uuid.uuid4().hex[:6]}")
    body: dict[str, Any] = {"provider": "CALDAV", "serverUrl": xandikos_server.url, "settings": {"calendarsToSync": [calendar_url]}}
    created = await api.post("/v1/integrations", json=body)
    assert created.status_code == 201, created.text
    integration_id = created.json()["id"]

    again = await api.post("/v1/integrations", json={**body, "connectionId": integration_id, "username": "someone", "password": "new-pw"})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == integration_id and again.json()["status"] == "ACTIVE"
    assert "new-pw" not in again.text
    assert [i["id"] for i in (await api.get("/v1/integrations")).json()["data"]] == [integration_id]

    refreshed = await api.post(f"/v1/integrations/{integration_id}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["status"] in ("ACTIVE", "SYNCING") and refreshed.json()["credentialsCheckedAt"] is not None

    missing = await api.post("/v1/integrations", json={**body, "connectionId": "int_nope"})
    assert_problem(missing, 404, "/problems/not-found")


# --- OpenAPI ---------------------------------------------------------------------------------


async def test_openapi_lists_the_webhook_endpoints(server: RunningServer) -> None:
    async with server.client() as client:
        spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        "/v1/webhooks": {"get", "post"},
        "/v1/webhooks/{webhook_id}": {"get", "patch", "delete"},
        "/v1/webhooks/{webhook_id}/secrets": {"post"},
        "/v1/webhooks/{webhook_id}/secrets/{secret_id}": {"delete"},
        "/v1/webhooks/{webhook_id}/deliveries": {"get"},
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}": {"get"},
        "/v1/webhook-events": {"get"},
        "/v1/webhook-events/{event_id}": {"get"},
        "/v1/webhook-events/{event_id}/replay": {"post"},
        "/v1/integrations/{integration_id}/refresh": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    listing = paths["/v1/webhook-events"]["get"]
    assert "at-least-once" in listing["description"] and "`id`" in listing["description"]
    type_param = next(p for p in listing["parameters"] if p["name"] == "type")
    assert "integration.synced" in str(type_param["schema"]) or "EventType" in str(type_param["schema"])
    assert "201" in paths["/v1/webhooks"]["post"]["responses"]
    assert "202" in paths["/v1/webhook-events/{event_id}/replay"]["post"]["responses"]
    assert {"200", "201"} <= set(paths["/v1/integrations"]["post"]["responses"])
    assert paths["/v1/webhooks/{webhook_id}/deliveries"]["get"]["operationId"] == "webhooks-list_deliveries"
