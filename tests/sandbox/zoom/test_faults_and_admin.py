"""Injected faults and delays in Zoom's shapes, recorded requests, unknown paths, the admin endpoints."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.zoom_sandbox import ADA, ServedZoomSandbox

MEETINGS = "/v2/users/me/meetings"
ONE = {"topic": "Sync", "type": 2, "start_time": "2026-03-10T09:00:00Z", "duration": 30}


@pytest.fixture
def api(zoom_sandbox: ServedZoomSandbox) -> Iterator[httpx.Client]:
    with zoom_sandbox.client() as client:
        yield client


def test_injected_api_faults_answer_zooms_shape(zoom_sandbox: ServedZoomSandbox, api: httpx.Client) -> None:
    sb = zoom_sandbox.sandbox
    sb.inject(429, times=2, path=r"/meetings$", method="POST")
    for _ in range(2):
        limited = api.post(MEETINGS, json=ONE)
        assert limited.status_code == 429 and "retry-after" not in limited.headers
        assert limited.json() == {"code": 429, "message": "You have reached the maximum per-second rate limit for this API. Try again later."}
    assert api.get(MEETINGS).status_code == 200, "only POSTs"
    assert api.post(MEETINGS, json=ONE).status_code == 201

    sb.inject(429, retry_after="2026-03-11T00:00:00Z")
    assert api.get("/v2/users/me").headers["retry-after"] == "2026-03-11T00:00:00Z"
    sb.inject(503, retry_after=7)
    unavailable = api.get("/v2/users/me")
    assert unavailable.status_code == 503 and unavailable.headers["retry-after"] == "7" and unavailable.json()["code"] == 503
    sb.inject(401)
    assert api.get("/v2/users/me").json() == {"code": 124, "message": "Invalid access token."}
    sb.inject(400, code=3000, message="Cannot access meeting information.")
    assert api.get("/v2/users/me").json() == {"code": 3000, "message": "Cannot access meeting information."}
    assert [r.status for r in sb.requests][-4:] == [429, 503, 401, 400]


def test_injected_oauth_faults_answer_the_oauth_shape(zoom_sandbox: ServedZoomSandbox) -> None:
    zs = zoom_sandbox
    zs.sandbox.inject(400, path="^/oauth/token$", code="invalid_grant")
    form = {"grant_type": "refresh_token", "refresh_token": zs.refresh_token}
    auth = httpx.BasicAuth(zs.sandbox.client_id, zs.sandbox.client_secret)
    with httpx.Client(base_url=zs.url, trust_env=False) as browser:
        failed = browser.post("/oauth/token", data=form, auth=auth)
        assert failed.status_code == 400 and failed.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
        assert browser.post("/oauth/token", data=form, auth=auth).status_code == 200, "the fault used nothing up"
        zs.sandbox.inject(503, path="^/oauth/")
        assert browser.post("/oauth/token", data=form, auth=auth).json()["error"] == "temporarily_unavailable"
    recorded = [r for r in zs.sandbox.requests if r.path == "/oauth/token"]
    assert recorded[-2].form == form and recorded[-2].status == 200
    assert recorded[-2].headers["authorization"] == "Basic " + base64.b64encode(f"{zs.sandbox.client_id}:{zs.sandbox.client_secret}".encode()).decode()


def test_injected_delays_slow_answers_down(zoom_sandbox: ServedZoomSandbox, api: httpx.Client) -> None:
    zoom_sandbox.sandbox.delay(0.3, path="/settings")
    started = time.monotonic()
    api.get("/v2/users/me")
    assert time.monotonic() - started < 0.3
    started = time.monotonic()
    assert api.get("/v2/users/me/settings").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert zoom_sandbox.sandbox.serving_seconds < 0.3, "a delay is not serving time"


def test_what_clients_sent_is_recorded(zoom_sandbox: ServedZoomSandbox, api: httpx.Client) -> None:
    api.post(MEETINGS, json=ONE, headers={"X-Custom": "yes"})
    recorded = zoom_sandbox.sandbox.requests[-1]
    assert (recorded.method, recorded.path, recorded.status) == ("POST", MEETINGS, 201)
    assert recorded.headers["x-custom"] == "yes" and recorded.headers["authorization"] == f"Bearer {zoom_sandbox.access_token}"
    assert recorded.json == ONE and recorded.response["topic"] == "Sync"


def test_unknown_paths_and_methods(zoom_sandbox: ServedZoomSandbox, api: httpx.Client) -> None:
    for method, path in (("GET", "/v2/webinars"), ("PUT", "/v2/meetings/123"), ("POST", "/v2/users/me"), ("GET", "/elsewhere")):
        answer = api.request(method, path)
        assert answer.status_code == 404 and answer.json() == {"code": 404, "message": "Not Found"}, (method, path)
    assert api.get("/oauth/token").status_code == 404


def test_admin_endpoints(zoom_sandbox: ServedZoomSandbox) -> None:
    sb = zoom_sandbox.sandbox
    with httpx.Client(base_url=zoom_sandbox.url, trust_env=False) as admin:
        made = admin.post(
            "/_sandbox/zoom/users",
            json={"email": "grace@example.com", "first_name": "Grace", "pmi": 5550001111, "password_requirement": {"length": 8}},
        )
        assert made.status_code == 201 and made.json()["email"] == "grace@example.com"
        assert admin.post("/_sandbox/zoom/users", json={"first_name": "no email"}).status_code == 400
        assert admin.post("/_sandbox/zoom/users", json={"email": "x@example.com", "password_requirement": {"odd": 1}}).status_code == 400
        sb.create_meeting_in_zoom("grace@example.com", ONE)
        state = admin.get("/_sandbox/zoom").json()
        assert state["client_id"] == sb.client_id and state["account_id"] == sb.account_id and state["base_url"] == zoom_sandbox.url
        assert [(u["email"], u["meetings"]) for u in state["users"]] == [(ADA, 0), ("grace@example.com", 1)]
        assert state["users"][1]["pmi"] == 5550001111 and state["daily_limit"] == 100

        tokens = admin.post("/_sandbox/zoom/tokens", json={"email": "grace@example.com"}).json()
        with zoom_sandbox.client(tokens["access_token"]) as api:
            assert api.get("/v2/users/me").json()["email"] == "grace@example.com"
            assert admin.post("/_sandbox/zoom/faults", json={"status": 500, "path": "users/me$"}).json() == {}
            assert api.get("/v2/users/me").json()["code"] == 500
            assert admin.post("/_sandbox/zoom/clock", json={"now": "2026-03-10T23:59:00Z"}).json() == {"now": "2026-03-10T23:59:00Z"}
            assert sb.clock.isoformat().startswith("2026-03-10T23:59")
            assert admin.post("/_sandbox/zoom/clock", json={"now": None}).status_code == 200
            assert admin.post("/_sandbox/zoom/reset", json={"seed": True}).status_code == 200
            assert api.get("/v2/users/me").status_code == 401, "tokens are gone after a reset"
        seeded = admin.get("/_sandbox/zoom").json()
        assert [u["email"] for u in seeded["users"]] == [ADA, "grace@example.com"]
        assert [u["meetings"] for u in seeded["users"]] == [1, 0]
    assert all(not r.path.startswith("/_sandbox") for r in sb.requests)
