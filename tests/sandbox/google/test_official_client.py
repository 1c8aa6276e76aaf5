"""Faithfulness: Google's own client library (google-api-python-client) drives the emulator.

Every request the library sends, and every JSON answer, is checked against the discovery
document shipped in that package (``calendar.v3.json``): the method and path match a
discovery method, each query parameter is one it declares, and each answer uses only
properties its response schema declares — recursively through ``$ref`` s, arrays and maps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import Resource, build
from googleapiclient.errors import HttpError

from calmesh.sandbox.google import RecordedRequest
from tests.google_sandbox import ServedGoogleSandbox

DISCOVERY: dict[str, Any] = json.loads(
    files("googleapiclient").joinpath("discovery_cache/documents/calendar.v3.json").read_text(encoding="utf-8")
)
SERVICE_PATH = "/" + DISCOVERY["servicePath"]  # "/calendar/v3/"
ONE = {"start": {"dateTime": "2026-03-10T09:00:00Z"}, "end": {"dateTime": "2026-03-10T10:00:00Z"}}


# --- the discovery-document validator ------------------------------------------------------


def _methods() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            found.extend(resource.get("methods", {}).values())
            walk(resource.get("resources", {}))

    walk(DISCOVERY["resources"])
    return found


METHODS = _methods()


def _template(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


def discovery_method(method: str, path: str) -> dict[str, Any]:
    """The discovery method a request is a call of (the most literal path template wins)."""
    assert path.startswith(SERVICE_PATH), path
    relative = path[len(SERVICE_PATH) :]
    candidates = [
        m
        for m in METHODS
        if m["httpMethod"] == method and any(_template(t).match(relative) for t in (m.get("flatPath"), m["path"]) if t)
    ]
    assert candidates, f"{method} {path} is no method of the discovery document"
    return max(candidates, key=lambda m: len(re.sub(r"\{[^}]+\}", "", m["path"])))


def assert_schema(value: Any, schema: dict[str, Any], where: str) -> None:
    """``value`` uses only what ``schema`` declares, with the declared JSON types."""
    if "$ref" in schema:
        schema = DISCOVERY["schemas"][schema["$ref"]]
    kind = schema.get("type")
    if kind == "any":
        return
    if kind == "array":
        assert isinstance(value, list), f"{where}: expected an array"
        for index, item in enumerate(value):
            assert_schema(item, schema["items"], f"{where}[{index}]")
    elif kind == "object" or "properties" in schema:
        assert isinstance(value, dict), f"{where}: expected an object"
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                assert_schema(item, properties[key], f"{where}.{key}")
            elif "additionalProperties" in schema:
                assert_schema(item, schema["additionalProperties"], f"{where}.{key}")
            else:
                raise AssertionError(f"{where}.{key} is not a property of the schema")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: expected a string, got {value!r}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{where}: expected a boolean, got {value!r}"
    elif kind in ("integer", "number"):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: expected a number, got {value!r}"


def assert_conforms(requests: list[RecordedRequest]) -> None:
    """Each API request and answer against the discovery document."""
    global_parameters = set(DISCOVERY["parameters"])
    checked = 0
    for recorded in requests:
        if not recorded.path.startswith(SERVICE_PATH):
            continue
        method = discovery_method(recorded.method, recorded.path)
        declared = {n for n, p in method.get("parameters", {}).items() if p["location"] == "query"} | global_parameters
        for name, _ in recorded.query:
            assert name in declared, f"{method['id']} has no query parameter {name}"
        if recorded.status == 200 and "response" in method:
            assert_schema(recorded.response, method["response"], method["id"])
        if recorded.status == 200 and "request" in method and recorded.json is not None:
            assert_schema(recorded.json, method["request"], f"{method['id']} request")
        checked += 1
    assert checked, "no Calendar API request was recorded"


def test_the_validator_catches_what_it_should() -> None:
    assert discovery_method("POST", "/calendar/v3/calendars/x/events/watch")["id"] == "calendar.events.watch"
    assert discovery_method("GET", "/calendar/v3/calendars/x/events/y")["id"] == "calendar.events.get"
    with pytest.raises(AssertionError):
        assert_schema({"kind": "calendar#event", "bogus": 1}, {"$ref": "Event"}, "Event")
    with pytest.raises(AssertionError):
        assert_schema({"start": {"dateTime": 5}}, {"$ref": "Event"}, "Event")
    assert_schema({"extendedProperties": {"private": {"any": "thing"}}}, {"$ref": "Event"}, "Event")


# --- the client ----------------------------------------------------------------------------


@pytest.fixture
def service(google_sandbox: ServedGoogleSandbox) -> Iterator[Resource]:
    http = google_auth_httplib2.AuthorizedHttp(Credentials(token=google_sandbox.access_token), http=httplib2.Http(timeout=30))
    calendar = build(
        "calendar",
        "v3",
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": google_sandbox.url + SERVICE_PATH},
    )
    yield calendar
    calendar.close()
    assert_conforms(google_sandbox.sandbox.requests)


def fast(request: Any) -> Any:
    """The request with the library's backoff sleeps skipped (its retry decisions are unchanged)."""
    request._sleep = lambda seconds: None
    return request


def test_calendar_list(google_sandbox: ServedGoogleSandbox, service: Resource) -> None:
    team = google_sandbox.sandbox.add_calendar("ada@example.com", "Team", time_zone="Europe/Paris")
    request = service.calendarList().list(maxResults=1)
    ids = []
    while request is not None:
        page = request.execute()
        ids += [entry["id"] for entry in page["items"]]
        request = service.calendarList().list_next(request, page)
    assert ids == ["ada@example.com", team]
    assert "nextSyncToken" in page


def test_events_list_pages(google_sandbox: ServedGoogleSandbox, service: Resource) -> None:
    made = [service.events().insert(calendarId="primary", body={**ONE, "summary": f"e{n}"}).execute()["id"] for n in range(7)]
    request = service.events().list(calendarId="primary", maxResults=3, singleEvents=True, orderBy="startTime", timeMin="2026-01-01T00:00:00Z")
    pages = []
    while request is not None:
        page = request.execute()
        pages.append(page)
        request = service.events().list_next(request, page)
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    assert sorted(i["id"] for p in pages for i in p["items"]) == sorted(made)
    assert ["nextSyncToken" in p for p in pages] == [False, False, True]


def test_insert_with_meet_patch_and_delete(google_sandbox: ServedGoogleSandbox, service: Resource) -> None:
    body = {
        **ONE,
        "summary": "Design review",
        "attendees": [{"email": "grace@example.com"}],
        "conferenceData": {"createRequest": {"requestId": "req-42", "conferenceSolutionKey": {"type": "hangoutsMeet"}}},
        "extendedProperties": {"private": {"calmesh": "1"}},
    }
    event = service.events().insert(calendarId="primary", body=body, conferenceDataVersion=1, sendUpdates="none").execute()
    assert event["hangoutLink"].startswith("https://meet.google.com/")
    assert event["conferenceData"]["createRequest"]["status"]["statusCode"] == "success"

    patched = service.events().patch(calendarId="primary", eventId=event["id"], body={"summary": "Design review v2"}, conferenceDataVersion=1).execute()
    assert patched["summary"] == "Design review v2" and patched["hangoutLink"] == event["hangoutLink"]
    updated = service.events().update(calendarId="primary", eventId=event["id"], body={**patched, "location": "Room 1"}, conferenceDataVersion=1).execute()
    assert updated["location"] == "Room 1" and updated["conferenceData"]["conferenceId"] == event["conferenceData"]["conferenceId"]

    assert service.events().delete(calendarId="primary", eventId=event["id"]).execute() == ""
    assert service.events().get(calendarId="primary", eventId=event["id"]).execute()["status"] == "cancelled"
    with pytest.raises(HttpError) as gone:
        service.events().delete(calendarId="primary", eventId=event["id"]).execute()
    assert gone.value.status_code == 410


def test_incremental_sync_and_the_410_reset(google_sandbox: ServedGoogleSandbox, service: Resource) -> None:
    sb = google_sandbox.sandbox
    kept, changed, removed = (sb.insert_event("ada@example.com", {**ONE, "summary": name}) for name in ("kept", "changed", "removed"))

    def sync(**params: Any) -> tuple[list[dict[str, Any]], str]:
        request = service.events().list(calendarId="primary", maxResults=2, **params)
        items: list[dict[str, Any]] = []
        while True:
            page = request.execute()
            items += page["items"]
            following = service.events().list_next(request, page)
            if following is None:
                return items, page["nextSyncToken"]
            assert "nextSyncToken" not in page
            request = following

    items, token = sync()
    assert {i["id"] for i in items} == {kept["id"], changed["id"], removed["id"]}

    sb.patch_event("ada@example.com", changed["id"], {"summary": "changed again"})
    sb.delete_event("ada@example.com", removed["id"])
    added = service.events().insert(calendarId="primary", body={**ONE, "summary": "added"}).execute()
    delta, token = sync(syncToken=token)
    assert [(i["id"], i["status"]) for i in delta] == [(changed["id"], "confirmed"), (removed["id"], "cancelled"), (added["id"], "confirmed")]

    sb.invalidate_sync_tokens()
    with pytest.raises(HttpError) as expired:
        service.events().list(calendarId="primary", syncToken=token).execute()
    assert expired.value.status_code == 410
    assert json.loads(expired.value.content)["error"]["errors"][0]["reason"] == "fullSyncRequired"
    again, _ = sync()
    assert len(again) == 3


@pytest.mark.parametrize(("status", "reason"), [(503, None), (500, None), (429, None), (403, "rateLimitExceeded"), (403, "userRateLimitExceeded")])
def test_execute_with_retries_survives_injected_failures(
    google_sandbox: ServedGoogleSandbox, service: Resource, status: int, reason: str | None
) -> None:
    google_sandbox.sandbox.inject(status, reason=reason, times=2, path="/events$")
    listing = fast(service.events().list(calendarId="primary")).execute(num_retries=3)
    assert listing["kind"] == "calendar#events"
    statuses = [r.status for r in google_sandbox.sandbox.requests if r.path.endswith("/events")]
    assert statuses == [status, status, 200]


def test_without_retries_the_failure_reaches_the_caller(google_sandbox: ServedGoogleSandbox, service: Resource) -> None:
    google_sandbox.sandbox.inject(503)
    with pytest.raises(HttpError) as failed:
        service.events().list(calendarId="primary").execute()
    assert failed.value.status_code == 503 and failed.value.reason == "Backend Error"


def test_recurring_events_instances_and_freebusy(google_sandbox: ServedGoogleSandbox, service: Resource) -> None:
    series = service.events().insert(
        calendarId="primary",
        body={
            "summary": "Standup",
            "start": {"dateTime": "2026-03-16T09:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2026-03-16T09:15:00", "timeZone": "Europe/London"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
        },
    ).execute()
    instances = service.events().instances(calendarId="primary", eventId=series["id"]).execute()["items"]
    assert len(instances) == 3
    moved = service.events().patch(calendarId="primary", eventId=instances[1]["id"], body={"summary": "Moved"}).execute()
    assert moved["recurringEventId"] == series["id"]
    busy = service.freebusy().query(body={"timeMin": "2026-03-16T00:00:00Z", "timeMax": "2026-04-01T00:00:00Z", "items": [{"id": "primary"}]}).execute()
    assert len(busy["calendars"]["primary"]["busy"]) == 3
    channel = service.events().watch(calendarId="primary", body={"id": "chan-1", "type": "web_hook", "address": "http://127.0.0.1:9/hook"}).execute()
    service.channels().stop(body={"id": channel["id"], "resourceId": channel["resourceId"]}).execute()
