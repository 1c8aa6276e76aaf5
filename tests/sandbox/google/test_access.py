"""Who may do what, faults and delays, the calendar list, the admin endpoints and what is recorded."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.google_sandbox import ServedGoogleSandbox

EVENTS = "/calendar/v3/calendars/primary/events"
ONE = {"start": {"dateTime": "2026-03-10T09:00:00Z"}, "end": {"dateTime": "2026-03-10T10:00:00Z"}}
INVALID_CREDENTIALS = {
    "error": {
        "errors": [{"domain": "global", "reason": "authError", "message": "Invalid Credentials", "locationType": "header", "location": "Authorization"}],
        "code": 401,
        "message": "Invalid Credentials",
    }
}


@pytest.fixture
def api(google_sandbox: ServedGoogleSandbox) -> httpx.Client:
    with google_sandbox.client() as client:
        yield client  # type: ignore[misc]


def test_requests_without_a_valid_bearer_token_are_401(google_sandbox: ServedGoogleSandbox) -> None:
    with httpx.Client(base_url=google_sandbox.url, trust_env=False) as anonymous:
        answer = anonymous.get(EVENTS)
        assert answer.status_code == 401 and answer.json() == INVALID_CREDENTIALS
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.get(EVENTS, headers={"Authorization": "Bearer ya29.made-up"}).status_code == 401


def test_expired_access_tokens_are_401_and_refreshing_still_works(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    tokens = sb.issue_tokens("ada@example.com")
    assert api.get(EVENTS).status_code == 200
    sb.expire_access_tokens("ada@example.com")
    expired = api.get(EVENTS)
    assert expired.status_code == 401 and expired.json() == INVALID_CREDENTIALS
    refreshed = api.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": sb.client_id, "client_secret": sb.client_secret},
    ).json()
    with google_sandbox.client(refreshed["access_token"]) as fresh:
        assert fresh.get(EVENTS).status_code == 200


def test_read_only_scopes_cannot_write(google_sandbox: ServedGoogleSandbox) -> None:
    token = google_sandbox.sandbox.issue_tokens("ada@example.com", scopes=["https://www.googleapis.com/auth/calendar.readonly"])["access_token"]
    with google_sandbox.client(token) as reader:
        assert reader.get(EVENTS).status_code == 200
        assert reader.get("/calendar/v3/users/me/calendarList").status_code == 200
        refused = reader.post(EVENTS, json=ONE)
        assert refused.status_code == 403
        assert refused.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
        assert refused.json()["error"]["message"] == "Request had insufficient authentication scopes."
    events_only = google_sandbox.sandbox.issue_tokens("ada@example.com", scopes=["https://www.googleapis.com/auth/calendar.events"])["access_token"]
    with google_sandbox.client(events_only) as writer:
        assert writer.post(EVENTS, json=ONE).status_code == 200
        assert writer.get("/calendar/v3/users/me/calendarList").status_code == 403


def test_a_token_reaches_only_its_users_calendars_and_roles_decide_writes(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    sb.add_user("grace@example.com", "Grace Hopper", time_zone="America/New_York")
    shared = sb.add_calendar("grace@example.com", "Navy", time_zone="America/New_York")
    busy = sb.add_calendar("grace@example.com", "Busy only")
    sb.insert_event(shared, {**ONE, "summary": "Briefing"})
    sb.insert_event(busy, {**ONE, "summary": "Secret", "location": "Pentagon"})
    assert api.get("/calendar/v3/calendars/grace@example.com/events").status_code == 404
    assert api.get(f"/calendar/v3/calendars/{shared}/events").status_code == 404

    sb.share_calendar(shared, "ada@example.com", "reader")
    sb.share_calendar(busy, "ada@example.com", "freeBusyReader")
    listing = api.get(f"/calendar/v3/calendars/{shared}/events").json()
    assert listing["accessRole"] == "reader" and listing["items"][0]["summary"] == "Briefing"
    assert listing["defaultReminders"] == []
    refused = api.post(f"/calendar/v3/calendars/{shared}/events", json=ONE)
    assert refused.status_code == 403 and refused.json()["error"]["errors"][0]["reason"] == "requiredAccessLevel"
    hidden = api.get(f"/calendar/v3/calendars/{busy}/events").json()["items"][0]
    assert "summary" not in hidden and "location" not in hidden and hidden["start"] == {"dateTime": "2026-03-10T09:00:00Z"}

    sb.share_calendar(shared, "ada@example.com", "writer")
    assert api.post(f"/calendar/v3/calendars/{shared}/events", json=ONE).status_code == 200


def test_the_calendar_list_pages_and_describes_each_calendar(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    sb.add_user("grace@example.com", "Grace Hopper")
    team = sb.add_calendar("ada@example.com", "Team", time_zone="Europe/London")
    hers = sb.add_calendar("grace@example.com", "Hers")
    sb.share_calendar(hers, "ada@example.com", "reader")
    first = api.get("/calendar/v3/users/me/calendarList", params={"maxResults": 2}).json()
    assert first["kind"] == "calendar#calendarList" and len(first["items"]) == 2 and "nextSyncToken" not in first
    second = api.get("/calendar/v3/users/me/calendarList", params={"maxResults": 2, "pageToken": first["nextPageToken"]}).json()
    assert "nextPageToken" not in second and "nextSyncToken" in second
    entries = {e["id"]: e for e in first["items"] + second["items"]}
    assert list(entries) == ["ada@example.com", team, hers]
    primary = entries["ada@example.com"]
    assert primary["primary"] is True and primary["accessRole"] == "owner" and primary["timeZone"] == "UTC"
    assert primary["backgroundColor"].startswith("#") and "summaryOverride" not in primary
    assert entries[team]["summary"] == "Team" and entries[team]["timeZone"] == "Europe/London" and "primary" not in entries[team]
    assert team.endswith("@group.calendar.google.com")
    assert entries[hers]["accessRole"] == "reader"
    readers = api.get("/calendar/v3/users/me/calendarList", params={"minAccessRole": "owner"}).json()["items"]
    assert [e["id"] for e in readers] == ["ada@example.com", team]
    assert api.get("/calendar/v3/users/me/calendarList", params={"maxResults": 999}).status_code == 200

    later = sb.add_calendar("ada@example.com", "Later")
    delta = api.get("/calendar/v3/users/me/calendarList", params={"syncToken": second["nextSyncToken"]}).json()
    assert [e["id"] for e in delta["items"]] == [later]


def test_injected_faults_answer_in_googles_envelope(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    sb.inject(503, times=2, path=r"/events$")
    for _ in range(2):
        failed = api.get(EVENTS)
        assert failed.status_code == 503
        assert failed.json() == {
            "error": {"errors": [{"domain": "global", "reason": "backendError", "message": "Backend Error"}], "code": 503, "message": "Backend Error"}
        }
    assert api.get(EVENTS).status_code == 200

    sb.inject(403, method="POST", retry_after=7)
    assert api.get(EVENTS).status_code == 200, "only POSTs"
    limited = api.post(EVENTS, json=ONE)
    assert limited.status_code == 403 and limited.headers["retry-after"] == "7"
    assert limited.json()["error"]["errors"][0] == {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}

    sb.inject(429)
    assert api.get(EVENTS).json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    sb.inject(401)
    unauthorized = api.get(EVENTS)
    assert unauthorized.status_code == 401 and unauthorized.json() == INVALID_CREDENTIALS
    sb.inject(403, reason="userRateLimitExceeded", message="User Rate Limit Exceeded")
    assert api.get(EVENTS).json()["error"]["errors"][0] == {
        "domain": "usageLimits", "reason": "userRateLimitExceeded", "message": "User Rate Limit Exceeded",
    }
    assert [r.status for r in sb.requests][-3:] == [429, 401, 403]


def test_injected_delays_slow_answers_down(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    google_sandbox.sandbox.delay(0.3, path="calendarList")
    started = time.monotonic()
    api.get(EVENTS)
    assert time.monotonic() - started < 0.3
    started = time.monotonic()
    assert api.get("/calendar/v3/users/me/calendarList").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert google_sandbox.sandbox.serving_seconds < 0.3, "a delay is not serving time"


def test_unknown_paths_and_methods_are_googles_404(api: httpx.Client) -> None:
    for method, path in (("GET", "/nowhere"), ("GET", "/calendar/v3/colors"), ("PUT", EVENTS), ("GET", "/token"), ("POST", "/calendar/v3/users/me/calendarList")):
        answer = api.request(method, path)
        assert answer.status_code == 404, (method, path)
        assert answer.json()["error"]["errors"][0]["reason"] == "notFound"


def test_what_clients_sent_is_recorded(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    api.post(EVENTS, params={"conferenceDataVersion": "1", "sendUpdates": "none"}, json=ONE, headers={"X-Custom": "yes"})
    recorded = google_sandbox.sandbox.requests[-1]
    assert (recorded.method, recorded.path, recorded.status) == ("POST", EVENTS, 200)
    assert recorded.query == [("conferenceDataVersion", "1"), ("sendUpdates", "none")]
    assert recorded.headers["x-custom"] == "yes" and recorded.headers["authorization"].startswith("Bearer ya29.")
    assert recorded.json == ONE and recorded.form is None and recorded.response["kind"] == "calendar#event"


def test_admin_endpoints(google_sandbox: ServedGoogleSandbox) -> None:
    sb = google_sandbox.sandbox
    with httpx.Client(base_url=google_sandbox.url, trust_env=False) as admin:
        assert admin.post("/_sandbox/users", json={"email": "grace@example.com", "name": "Grace Hopper"}).status_code == 201
        sb.insert_event("grace@example.com", ONE)
        state = admin.get("/_sandbox").json()
        assert state["client_id"] == sb.client_id and state["base_url"] == google_sandbox.url
        assert [u["email"] for u in state["users"]] == ["ada@example.com", "grace@example.com"]
        assert {c["id"]: c["events"] for c in state["calendars"]} == {"ada@example.com": 0, "grace@example.com": 1}

        tokens = admin.post("/_sandbox/tokens", json={"email": "grace@example.com"}).json()
        assert tokens["access_token"].startswith("ya29.")
        api = httpx.Client(base_url=google_sandbox.url, headers={"Authorization": f"Bearer {tokens['access_token']}"}, trust_env=False)
        with api:
            assert admin.post("/_sandbox/faults", json={"status": 429, "retryAfter": 3, "path": "events"}).json() == {}
            limited = api.get(EVENTS)
            assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
            sync = api.get(EVENTS).json()["nextSyncToken"]
            assert admin.post("/_sandbox/invalidate-sync-tokens", json={}).status_code == 200
            assert api.get(EVENTS, params={"syncToken": sync}).status_code == 410
            assert admin.post("/_sandbox/reset", json={"seed": True}).status_code == 200
            assert api.get(EVENTS).status_code == 401, "tokens are gone after a reset"
        assert {u["email"] for u in admin.get("/_sandbox").json()["users"]} == {"ada@example.com", "grace@example.com"}
        assert admin.post("/_sandbox/users", json={"name": "no email"}).status_code == 400
    assert all(not r.path.startswith("/_sandbox") for r in sb.requests)
