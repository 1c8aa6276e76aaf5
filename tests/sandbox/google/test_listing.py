"""events.list over HTTP: paging, incremental sync and its 410, filters, ordering, freeBusy, 50,000 events."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.google_sandbox import ServedGoogleSandbox

EVENTS = "/calendar/v3/calendars/primary/events"
FULL_SYNC_REQUIRED = {
    "error": {
        "errors": [
            {
                "domain": "calendar",
                "reason": "fullSyncRequired",
                "message": "Sync token is no longer valid, a full sync is required.",
                "locationType": "parameter",
                "location": "syncToken",
            }
        ],
        "code": 410,
        "message": "Sync token is no longer valid, a full sync is required.",
    }
}


def body(hour: int, day: int = 10, **more: Any) -> dict[str, Any]:
    return {
        "start": {"dateTime": f"2026-03-{day:02d}T{hour:02d}:00:00Z"},
        "end": {"dateTime": f"2026-03-{day:02d}T{hour:02d}:30:00Z"},
        **more,
    }


def list_all(api: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every page of a listing; returns the items and the last page."""
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = api.get(EVENTS, params={**params, **({"pageToken": token} if token else {})})
        assert page.status_code == 200, page.text
        data = page.json()
        items += data["items"]
        token = data.get("nextPageToken")
        if token is None:
            return items, data
        assert "nextSyncToken" not in data, "nextSyncToken only on the last page"


@pytest.fixture
def api(google_sandbox: ServedGoogleSandbox) -> httpx.Client:
    with google_sandbox.client() as client:
        yield client  # type: ignore[misc]


def test_paging_hands_out_the_sync_token_only_on_the_last_page(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    ids = [google_sandbox.sandbox.insert_event("ada@example.com", body(h))["id"] for h in range(7)]
    first = api.get(EVENTS, params={"maxResults": 3}).json()
    assert first["kind"] == "calendar#events" and first["accessRole"] == "owner" and first["timeZone"] == "UTC"
    assert first["summary"] == "ada@example.com" and first["defaultReminders"] == [{"method": "popup", "minutes": 10}]
    assert len(first["items"]) == 3 and "nextPageToken" in first and "nextSyncToken" not in first
    items, last = list_all(api, maxResults=3)
    assert [i["id"] for i in items] == ids and "nextSyncToken" in last
    assert list(last)[-1] == "items" and list(last)[:2] == ["kind", "etag"]


def test_incremental_sync_returns_every_change_since_including_deletions(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    kept, changed, removed = (sb.insert_event("ada@example.com", body(h, summary=f"e{h}")) for h in (1, 2, 3))
    _, last = list_all(api)
    token = last["nextSyncToken"]

    nothing = api.get(EVENTS, params={"syncToken": token}).json()
    assert nothing["items"] == [] and nothing["nextSyncToken"]

    api.patch(f"{EVENTS}/{changed['id']}", json={"summary": "changed"})
    api.delete(f"{EVENTS}/{removed['id']}")
    added = api.post(EVENTS, json=body(4, summary="added")).json()
    delta = api.get(EVENTS, params={"syncToken": token}).json()
    assert [i["id"] for i in delta["items"]] == [changed["id"], removed["id"], added["id"]]
    assert delta["items"][1] == {"kind": "calendar#event", "etag": delta["items"][1]["etag"], "id": removed["id"], "status": "cancelled"}
    assert kept["id"] not in [i["id"] for i in delta["items"]]
    # The next token starts where this one ended.
    assert api.get(EVENTS, params={"syncToken": delta["nextSyncToken"]}).json()["items"] == []

    # Paged incremental sync: the sync token only at the end.
    for h in range(5, 10):
        sb.insert_event("ada@example.com", body(h))
    items, end = list_all(api, syncToken=delta["nextSyncToken"], maxResults=2)
    assert len(items) == 5 and "nextSyncToken" in end


def test_a_windowed_full_sync_still_yields_a_usable_sync_token(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    sb.insert_event("ada@example.com", body(9, day=1))
    inside = sb.insert_event("ada@example.com", body(9, day=20))
    items, last = list_all(api, timeMin="2026-03-15T00:00:00Z")
    assert [i["id"] for i in items] == [inside["id"]]
    sb.patch_event("ada@example.com", inside["id"], {"summary": "x"})
    assert [i["id"] for i in api.get(EVENTS, params={"syncToken": last["nextSyncToken"]}).json()["items"]] == [inside["id"]]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("iCalUID", "x@google.com"),
        ("orderBy", "updated"),
        ("privateExtendedProperty", "a=b"),
        ("q", "plan"),
        ("sharedExtendedProperty", "a=b"),
        ("timeMin", "2026-03-01T00:00:00Z"),
        ("timeMax", "2026-04-01T00:00:00Z"),
        ("updatedMin", "2026-03-01T00:00:00Z"),
        ("showDeleted", "false"),
    ],
)
def test_filters_are_refused_with_a_sync_token(api: httpx.Client, name: str, value: str) -> None:
    token = api.get(EVENTS).json()["nextSyncToken"]
    answer = api.get(EVENTS, params={"syncToken": token, name: value})
    assert answer.status_code == 400
    error = answer.json()["error"]["errors"][0]
    assert (error["reason"], error["location"]) == ("invalid", "syncToken")
    assert api.get(EVENTS, params={"syncToken": token, "showDeleted": "true", "singleEvents": "false"}).status_code == 200


def test_invalidated_and_unknown_sync_tokens_answer_410_full_sync_required(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    token = api.get(EVENTS).json()["nextSyncToken"]
    google_sandbox.sandbox.invalidate_sync_tokens()
    gone = api.get(EVENTS, params={"syncToken": token})
    assert gone.status_code == 410 and gone.json() == FULL_SYNC_REQUIRED
    assert api.get(EVENTS, params={"syncToken": "CAbogus"}).json() == FULL_SYNC_REQUIRED
    fresh = api.get(EVENTS).json()["nextSyncToken"]
    assert api.get(EVENTS, params={"syncToken": fresh}).status_code == 200

    # A token is one calendar's: another calendar refuses it.
    team = google_sandbox.sandbox.add_calendar("ada@example.com", "Team")
    other = api.get(f"/calendar/v3/calendars/{team}/events", params={"syncToken": fresh})
    assert other.status_code == 410

    google_sandbox.sandbox.invalidate_sync_tokens(team)
    assert api.get(EVENTS, params={"syncToken": fresh}).status_code == 200, "only that calendar's tokens died"


def test_time_bounds_need_an_offset_and_a_non_empty_range(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    early, late = sb.insert_event("ada@example.com", body(9)), sb.insert_event("ada@example.com", body(15))
    no_offset = api.get(EVENTS, params={"timeMin": "2026-03-10T00:00:00"})
    assert no_offset.status_code == 400
    empty = api.get(EVENTS, params={"timeMin": "2026-03-11T00:00:00Z", "timeMax": "2026-03-11T00:00:00Z"})
    assert empty.status_code == 400 and empty.json()["error"]["errors"][0]["reason"] == "timeRangeEmpty"

    def ids(**params: str) -> list[str]:
        return [i["id"] for i in api.get(EVENTS, params=params).json()["items"]]

    # timeMin bounds the end (exclusive), timeMax the start (exclusive).
    assert ids(timeMin="2026-03-10T09:30:00Z") == [late["id"]]
    assert ids(timeMin="2026-03-10T09:29:00Z") == [early["id"], late["id"]]
    assert ids(timeMax="2026-03-10T15:00:00Z") == [early["id"]]
    assert ids(timeMin="2026-03-10T10:00:00+01:00", timeMax="2026-03-10T16:00:00+01:00") == [early["id"]]
    assert ids(timeMin="2026-03-10T10:00:00+01:00", timeMax="2026-03-10T16:01:00+01:00") == [early["id"], late["id"]]


def test_ordering(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    later = sb.insert_event("ada@example.com", body(15))
    sooner = sb.insert_event("ada@example.com", body(9))
    time.sleep(0.01)  # `updated` has millisecond precision
    sb.patch_event("ada@example.com", later["id"], {"summary": "touched"})
    refused = api.get(EVENTS, params={"orderBy": "startTime"})
    assert refused.status_code == 400
    by_start = api.get(EVENTS, params={"orderBy": "startTime", "singleEvents": "true"}).json()["items"]
    assert [i["id"] for i in by_start] == [sooner["id"], later["id"]]
    by_update = api.get(EVENTS, params={"orderBy": "updated"}).json()["items"]
    assert [i["id"] for i in by_update] == [sooner["id"], later["id"]]


def test_search_and_property_filters(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    tagged = sb.insert_event(
        "ada@example.com",
        body(9, summary="Quarterly planning", extendedProperties={"private": {"app": "calmesh", "item": "1"}, "shared": {"team": "core"}}),
    )
    other = sb.insert_event("ada@example.com", body(11, summary="Lunch", location="Canteen", extendedProperties={"private": {"app": "calmesh"}}))
    sb.insert_event("ada@example.com", body(13, summary="Review", attendees=[{"email": "grace@example.com", "displayName": "Grace Hopper"}]))

    def summaries(params: list[tuple[str, str]]) -> list[str]:
        return [i["summary"] for i in api.get(EVENTS, params=params).json()["items"]]

    assert summaries([("q", "PLANNING quarterly")]) == ["Quarterly planning"]
    assert summaries([("q", "canteen")]) == ["Lunch"]
    assert summaries([("q", "hopper")]) == ["Review"]
    assert summaries([("privateExtendedProperty", "app=calmesh")]) == ["Quarterly planning", "Lunch"]
    assert summaries([("privateExtendedProperty", "app=calmesh"), ("privateExtendedProperty", "item=1")]) == ["Quarterly planning"]
    assert summaries([("sharedExtendedProperty", "team=core")]) == ["Quarterly planning"]
    assert summaries([("sharedExtendedProperty", "app=calmesh")]) == []
    assert summaries([("iCalUID", other["iCalUID"])]) == ["Lunch"]
    assert tagged["id"]


def test_updated_min_includes_deleted_events(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    old = sb.insert_event("ada@example.com", body(9))
    gone = sb.insert_event("ada@example.com", body(10))
    time.sleep(0.01)  # `updated` has millisecond precision
    cutoff = sb.insert_event("ada@example.com", body(11))["updated"]
    sb.delete_event("ada@example.com", gone["id"])
    items = api.get(EVENTS, params={"updatedMin": cutoff}).json()["items"]
    assert gone["id"] in [i["id"] for i in items] and old["id"] not in [i["id"] for i in items]


def test_page_size_is_capped_and_a_foreign_page_token_is_refused(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    google_sandbox.sandbox.bulk_insert("ada@example.com", (body(h % 24, day=1 + (h // 24) % 28) for h in range(2600)))
    first = api.get(EVENTS, params={"maxResults": 5000}).json()
    assert len(first["items"]) == 2500 and "nextPageToken" in first
    assert api.get(EVENTS, params={"maxResults": 0}).status_code == 400
    team = google_sandbox.sandbox.add_calendar("ada@example.com", "Team")
    foreign = api.get(f"/calendar/v3/calendars/{team}/events", params={"pageToken": first["nextPageToken"]})
    assert foreign.status_code == 400


def test_fifty_thousand_events_list_in_twenty_pages(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    bodies = ({"summary": f"Event {n}", **body(n % 24, day=1 + (n // 24) % 28)} for n in range(50_000))
    assert google_sandbox.sandbox.bulk_insert("ada@example.com", bodies) == 50_000
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        data = api.get(EVENTS, params={"maxResults": 2500, **({"pageToken": token} if token else {})}).json()
        pages += 1
        seen += [i["id"] for i in data["items"]]
        token = data.get("nextPageToken")
        if token is None:
            break
    assert pages == 20 and len(seen) == len(set(seen)) == 50_000
    assert "nextSyncToken" in data
    assert api.get(EVENTS, params={"syncToken": data["nextSyncToken"]}).json()["items"] == []


# --- freeBusy ------------------------------------------------------------------------------


def test_free_busy_counts_opaque_live_events_and_instances(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    sb.insert_event("ada@example.com", body(9))
    sb.insert_event("ada@example.com", {**body(9), "end": {"dateTime": "2026-03-10T10:15:00Z"}})  # overlaps: merged
    sb.insert_event("ada@example.com", body(12, transparency="transparent"))
    gone = sb.insert_event("ada@example.com", body(13))
    sb.delete_event("ada@example.com", gone["id"])
    sb.insert_event("ada@example.com", body(14, attendees=[{"email": "ada@example.com", "responseStatus": "declined"}]))
    sb.insert_event(
        "ada@example.com",
        {
            "start": {"dateTime": "2026-03-09T16:00:00Z", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-09T17:00:00Z", "timeZone": "UTC"},
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
        },
    )
    answer = api.post(
        "/calendar/v3/freeBusy",
        json={"timeMin": "2026-03-10T00:00:00Z", "timeMax": "2026-03-11T00:00:00Z", "items": [{"id": "primary"}, {"id": "nobody@example.com"}]},
    ).json()
    assert answer["kind"] == "calendar#freeBusy"
    assert answer["timeMin"] == "2026-03-10T00:00:00.000Z" and answer["timeMax"] == "2026-03-11T00:00:00.000Z"
    assert answer["calendars"]["primary"] == {
        "busy": [
            {"start": "2026-03-10T09:00:00Z", "end": "2026-03-10T10:15:00Z"},
            {"start": "2026-03-10T16:00:00Z", "end": "2026-03-10T17:00:00Z"},
        ]
    }
    assert answer["calendars"]["nobody@example.com"] == {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}

    in_new_york = api.post(
        "/calendar/v3/freeBusy",
        json={"timeMin": "2026-03-10T00:00:00Z", "timeMax": "2026-03-10T12:00:00Z", "timeZone": "America/New_York", "items": [{"id": "ada@example.com"}]},
    ).json()
    assert in_new_york["calendars"]["ada@example.com"]["busy"] == [{"start": "2026-03-10T05:00:00-04:00", "end": "2026-03-10T06:15:00-04:00"}]


def test_free_busy_limits(api: httpx.Client) -> None:
    window = {"timeMin": "2026-03-10T00:00:00Z", "timeMax": "2026-03-11T00:00:00Z"}
    too_many = api.post("/calendar/v3/freeBusy", json={**window, "calendarExpansionMax": 51, "items": []})
    assert too_many.status_code == 400
    capped = api.post("/calendar/v3/freeBusy", json={**window, "calendarExpansionMax": 1, "items": [{"id": "primary"}, {"id": "ada@example.com"}]}).json()
    assert capped["calendars"]["ada@example.com"]["errors"] == [{"domain": "usageLimits", "reason": "tooManyCalendarsRequested"}]
    empty = api.post("/calendar/v3/freeBusy", json={"timeMin": window["timeMax"], "timeMax": window["timeMin"], "items": []})
    assert empty.status_code == 400 and empty.json()["error"]["errors"][0]["reason"] == "timeRangeEmpty"
    missing = api.post("/calendar/v3/freeBusy", json={"items": []})
    assert missing.status_code == 400 and missing.json()["error"]["errors"][0]["reason"] == "required"
