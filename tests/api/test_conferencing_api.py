"""``POST /v1/conferencing/detect`` over HTTP, and the detected conference of every event in
``/v1/events`` (PRODUCT.md M6)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from calmesh.services.runtime import build_runtime
from calmesh.services.tenants import create_tenant
from tests.api.test_problems_and_conventions import assert_problem
from tests.conferencing.test_detection import TEAMS_HTML, TEAMS_JOIN, ZOOM_PLAIN
from tests.conftest import RunningServer, make_settings, start_server
from tests.mirror_helpers import make_calendar, put_events


@pytest.fixture
def roomy_server(sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """The API with the default request size limit: invitation bodies are bigger than 4 KiB."""
    running, thread = start_server(make_settings(sqlite_url, tmp_path))
    yield running
    running.server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
async def tenant(roomy_server: RunningServer) -> tuple[str, str]:
    """(tenant id, API key) of a new tenant."""
    runtime = build_runtime(roomy_server.settings)
    try:
        created = await create_tenant(runtime, f"tenant-{uuid.uuid4().hex[:8]}")
        return created.tenant.id, created.api_key.key
    finally:
        await runtime.close()


@pytest.fixture
async def api(roomy_server: RunningServer, tenant: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with roomy_server.client(tenant[1]) as client:
        yield client


async def test_detect_reads_an_invitation_and_names_its_service(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/conferencing/detect", json={"description": ZOOM_PLAIN, "location": "Room 4B"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "service": "ZOOM",
        "serviceName": "Zoom",
        "joinUrl": "https://us02web.zoom.us/j/85012345678?pwd=dGhpcyBpcyBub3QgYSByZWFsIHBhc3Njb2Rl.1",
        "meetingId": "85012345678",
        "passcode": "123456",
        "dialIns": [
            "tel:+16469313860,,85012345678#,,,,*123456#",
            "tel:+13017158592,,85012345678#,,,,*123456#",
            "tel:+13052241968",
        ],
        "source": "description",
        "message": None,
    }


async def test_the_description_wins_and_meet_opens_with_the_account(api: httpx.AsyncClient) -> None:
    meet = {"service": "GOOGLE_MEET", "joinUrl": "https://meet.google.com/abc-defg-hij", "meetingId": "abc-defg-hij"}
    html = TEAMS_HTML.replace("{href}", TEAMS_JOIN)
    body = (await api.post("/v1/conferencing/detect", json={"conference": meet, "description": html})).json()
    assert (body["service"], body["joinUrl"], body["meetingId"], body["source"]) == ("TEAMS", TEAMS_JOIN, "230845772169", "description")

    body = (await api.post("/v1/conferencing/detect", json={"conference": meet, "accountEmail": "grace@example.com"})).json()
    assert (body["service"], body["source"]) == ("GOOGLE_MEET", "conference")
    assert body["joinUrl"] == "https://meet.google.com/abc-defg-hij?authuser=grace@example.com"


async def test_no_link_is_none_not_a_zoom_meeting(api: httpx.AsyncClient) -> None:
    for payload in ({}, {"description": "Lunch in the park", "location": "https://www.example.com/map", "conference": None}):
        response = await api.post("/v1/conferencing/detect", json=payload)
        assert response.status_code == 200
        body = response.json()
        assert body["service"] == "none" and body["serviceName"] is None and body["joinUrl"] is None
        assert body["dialIns"] == [] and body["source"] is None
        assert body["message"].startswith("Not a Zoom meeting")


async def test_wrong_json_is_a_422_problem(api: httpx.AsyncClient) -> None:
    for payload in (
        {"description": 42},
        {"accountEmail": "not-an-email"},
        {"conference": {"joinUrl": ["x"]}},
        {"descriptoin": "typo"},
        [],
    ):
        assert_problem(await api.post("/v1/conferencing/detect", json=payload), 422, "/problems/validation-error")
    response = await api.post("/v1/conferencing/detect", content=b"{nope", headers={"content-type": "application/json"})
    assert_problem(response, 422, "/problems/validation-error")


async def test_detect_needs_an_api_key(roomy_server: RunningServer) -> None:
    async with roomy_server.client() as anonymous:
        assert_problem(await anonymous.post("/v1/conferencing/detect", json={}), 401, "/problems/unauthenticated")
    async with roomy_server.client("cmk_not-a-real-key-at-all") as stranger:
        assert_problem(await stranger.post("/v1/conferencing/detect", json={}), 401, "/problems/unauthenticated")


def ical_text(text: str) -> str:
    """RFC 5545 §3.3.11 TEXT escaping, for a DESCRIPTION line."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


async def test_every_event_shows_its_detected_conference(
    roomy_server: RunningServer, tenant: tuple[str, str], api: httpx.AsyncClient
) -> None:
    runtime = build_runtime(roomy_server.settings)
    try:
        calendar = await make_calendar(runtime, tenant[0], None, account_email="grace@example.com")
        await put_events(
            runtime, tenant[0], calendar,
            # Zoom only in the description (a pasted invitation)
            "UID:zoom\nSUMMARY:Design review\nDTSTART:20260401T100000Z\nDTEND:20260401T110000Z\n"
            f"DESCRIPTION:{ical_text(ZOOM_PLAIN)}",
            # a Meet from the calendar, overridden by a link in the description
            "UID:both\nSUMMARY:Sync\nDTSTART:20260402T100000Z\nDTEND:20260402T110000Z\n"
            "X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij\nDESCRIPTION:We use https://meet.jit.si/AcmeSync",
            # only the calendar's Meet
            "UID:meet\nSUMMARY:1:1\nDTSTART:20260403T100000Z\nDTEND:20260403T110000Z\n"
            "X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij",
            # a Teams link in the location
            f"UID:teams\nSUMMARY:Planning\nDTSTART:20260404T100000Z\nDTEND:20260404T110000Z\nLOCATION:{ical_text(TEAMS_JOIN)}",
            # nothing: a marketing link is no meeting
            "UID:none\nSUMMARY:Lunch\nDTSTART:20260405T100000Z\nDTEND:20260405T110000Z\n"
            "DESCRIPTION:New to Zoom? https://zoom.us/download",
        )
    finally:
        await runtime.close()

    response = await api.get("/v1/events", params={"calendarId": calendar, "limit": 50})
    assert response.status_code == 200, response.text
    by_title = {event["title"]: event["conference"] for event in response.json()["data"]}
    assert by_title["Design review"] == {
        "service": "ZOOM",
        "joinUrl": "https://us02web.zoom.us/j/85012345678?pwd=dGhpcyBpcyBub3QgYSByZWFsIHBhc3Njb2Rl.1",
        "meetingId": "85012345678",
        "passcode": "123456",
        "dialIns": [
            "tel:+16469313860,,85012345678#,,,,*123456#",
            "tel:+13017158592,,85012345678#,,,,*123456#",
            "tel:+13052241968",
        ],
        "source": "description",
    }
    assert (by_title["Sync"]["service"], by_title["Sync"]["joinUrl"]) == ("JITSI", "https://meet.jit.si/AcmeSync")
    assert by_title["1:1"] == {
        "service": "GOOGLE_MEET", "joinUrl": "https://meet.google.com/abc-defg-hij", "meetingId": "abc-defg-hij",
        "passcode": None, "dialIns": [], "source": "conference",
    }
    assert (by_title["Planning"]["service"], by_title["Planning"]["source"]) == ("TEAMS", "location")
    assert by_title["Lunch"] is None

    single = (await api.get(f"/v1/events/{response.json()['data'][0]['id']}")).json()
    assert single["conference"] == response.json()["data"][0]["conference"]


# --- custom providers, defaults and resolution (PRODUCT.md M1, M2) --------------------------


@pytest.fixture
async def other_api(roomy_server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """A second tenant's client."""
    runtime = build_runtime(roomy_server.settings)
    try:
        key = (await create_tenant(runtime, f"tenant-{uuid.uuid4().hex[:8]}")).api_key.key
    finally:
        await runtime.close()
    async with roomy_server.client(key) as client:
        yield client


async def new_user(api: httpx.AsyncClient, email: str) -> str:
    response = await api.post("/v1/users", json={"email": email})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_custom_providers_over_http(api: httpx.AsyncClient, other_api: httpx.AsyncClient) -> None:
    ada = await new_user(api, "ada@example.com")
    response = await api.post("/v1/conferencing/providers", json={"name": "Ada's Webex", "url": "https://acme.webex.com/meet/ada", "userId": ada})
    assert response.status_code == 201, response.text
    webex = response.json()
    assert {k: webex[k] for k in ("name", "url", "service", "serviceName", "userId")} == {
        "name": "Ada's Webex", "url": "https://acme.webex.com/meet/ada", "service": "WEBEX", "serviceName": "Webex", "userId": ada,
    }
    assert webex["id"].startswith("cnfp_") and webex["createdAt"]
    shared = (await api.post("/v1/conferencing/providers", json={"name": "Lobby", "url": "https://meet.example.org/lobby"})).json()
    assert (shared["service"], shared["serviceName"], shared["userId"]) == ("CUSTOM", "Custom link", None)

    listed = (await api.get("/v1/conferencing/providers", params={"userId": ada, "limit": 1})).json()
    assert [p["id"] for p in listed["data"]] == [webex["id"]] and listed["nextCursor"]
    rest = (await api.get("/v1/conferencing/providers", params={"userId": ada, "cursor": listed["nextCursor"]})).json()
    assert [p["id"] for p in rest["data"]] == [shared["id"]] and rest["nextCursor"] is None

    patched = await api.patch(f"/v1/conferencing/providers/{shared['id']}", json={"url": "https://whereby.com/lobby"})
    assert patched.status_code == 200 and patched.json()["service"] == "WHEREBY"
    assert (await api.get(f"/v1/conferencing/providers/{shared['id']}")).json() == patched.json()

    for url in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "/relative", "https://" + "a" * 3000 + ".example"):
        body = assert_problem(await api.post("/v1/conferencing/providers", json={"name": "x", "url": url}), 422, "/problems/validation-error")
        assert body["errors"] == [{"field": "url", "location": "body", "message": body["detail"]}]
    assert_problem(await api.post("/v1/conferencing/providers", json={"name": "x"}), 422, "/problems/validation-error")

    # Another tenant sees none of it.
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", "")):
        response = await other_api.request(method, f"/v1/conferencing/providers/{webex['id']}{path}", json={"name": "y"} if method == "PATCH" else None)
        assert_problem(response, 404, "/problems/not-found")
    assert (await other_api.get("/v1/conferencing/providers")).json()["data"] == []

    assert (await api.delete(f"/v1/conferencing/providers/{webex['id']}")).status_code == 204
    assert_problem(await api.get(f"/v1/conferencing/providers/{webex['id']}"), 404, "/problems/not-found")


async def test_defaults_and_resolution_over_http(
    roomy_server: RunningServer, tenant: tuple[str, str], api: httpx.AsyncClient, other_api: httpx.AsyncClient
) -> None:
    admin, ada = await new_user(api, "admin@example.com"), await new_user(api, "ada@example.com")
    runtime = build_runtime(roomy_server.settings)
    try:
        calendar = await make_calendar(runtime, tenant[0], ada, name="Home")
    finally:
        await runtime.close()

    resolved = await api.get("/v1/conferencing/resolve", params={"userId": ada, "calendarId": calendar})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json() == {"service": "NONE", "source": "none", "customProviderId": None, "url": None, "detectedService": None}

    body = assert_problem(
        await api.put("/v1/conferencing/defaults", json={"userId": ada, "service": "ZOOM", "setBy": admin}), 409, "/problems/conflict"
    )
    assert "connect their own Zoom" in str(body["detail"])
    body = assert_problem(await api.put("/v1/conferencing/defaults", json={"userId": ada, "service": "TEAMS"}), 409, "/problems/conflict")
    assert "Microsoft 365" in str(body["detail"])
    assert_problem(await api.put("/v1/conferencing/defaults", json={"userId": ada, "service": "CUSTOM"}), 422, "/problems/validation-error")
    assert_problem(await api.put("/v1/conferencing/defaults", json={"userId": ada, "service": "SKYPE"}), 422, "/problems/validation-error")

    room = (await api.post("/v1/conferencing/providers", json={"name": "Room", "url": "https://whereby.com/ada", "userId": ada})).json()
    user_wide = await api.put(
        "/v1/conferencing/defaults", json={"userId": ada, "service": "CUSTOM", "customProviderId": room["id"], "setBy": admin}
    )
    assert user_wide.status_code == 200, user_wide.text
    assert {k: user_wide.json()[k] for k in ("userId", "calendarId", "service", "customProviderId", "setBy")} == {
        "userId": ada, "calendarId": None, "service": "CUSTOM", "customProviderId": room["id"], "setBy": admin,
    }
    assert (await api.get("/v1/conferencing/resolve", params={"calendarId": calendar})).json() == {
        "service": "CUSTOM", "source": "user", "customProviderId": room["id"], "url": "https://whereby.com/ada", "detectedService": "WHEREBY",
    }
    per_calendar = (await api.put("/v1/conferencing/defaults", json={"userId": ada, "calendarId": calendar, "service": "NONE"})).json()
    assert (await api.get("/v1/conferencing/resolve", params={"userId": ada, "calendarId": calendar})).json()["source"] == "calendar"

    listed = (await api.get("/v1/conferencing/defaults", params={"userId": ada})).json()
    assert [d["id"] for d in listed["data"]] == [user_wide.json()["id"], per_calendar["id"]]
    only = (await api.get("/v1/conferencing/defaults", params={"calendarId": calendar})).json()
    assert [d["id"] for d in only["data"]] == [per_calendar["id"]]

    assert_problem(await other_api.delete(f"/v1/conferencing/defaults/{per_calendar['id']}"), 404, "/problems/not-found")
    assert_problem(await other_api.get("/v1/conferencing/resolve", params={"userId": ada}), 404, "/problems/not-found")
    assert_problem(await api.get("/v1/conferencing/resolve"), 422, "/problems/validation-error")

    assert (await api.delete(f"/v1/conferencing/defaults/{per_calendar['id']}")).status_code == 204
    assert_problem(await api.delete(f"/v1/conferencing/defaults/{per_calendar['id']}"), 404, "/problems/not-found")
    assert (await api.get("/v1/conferencing/resolve", params={"calendarId": calendar})).json()["source"] == "user"
