"""Event resources over HTTP: insert/get/patch/update/delete, ids, etags, Meet, recurrence and exceptions."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.google_sandbox import ServedGoogleSandbox

EVENTS = "/calendar/v3/calendars/primary/events"


def timed(start: str, end: str, zone: str | None = None, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"start": {"dateTime": start}, "end": {"dateTime": end}}
    if zone:
        body["start"]["timeZone"] = body["end"]["timeZone"] = zone
    body.update(more)
    return body


def insert(api: httpx.Client, body: dict[str, Any], **params: Any) -> dict[str, Any]:
    answer = api.post(EVENTS, json=body, params=params)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def error_of(answer: httpx.Response) -> dict[str, Any]:
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["code"] == answer.status_code
    assert body["error"]["message"] == body["error"]["errors"][0]["message"] or answer.status_code == 403
    first: dict[str, Any] = body["error"]["errors"][0]
    return first


@pytest.fixture
def api(google_sandbox: ServedGoogleSandbox) -> httpx.Client:
    with google_sandbox.client() as client:
        yield client  # type: ignore[misc]


# --- the resource --------------------------------------------------------------------------


def test_insert_answers_200_with_a_complete_google_event(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    event = insert(api, timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", summary="Plan", unknownField=1, htmlLink="x"))
    assert event["kind"] == "calendar#event"
    assert re.fullmatch(r'"\d+"', event["etag"])
    assert re.fullmatch(r"[a-v0-9]{26}", event["id"])
    assert event["status"] == "confirmed" and event["summary"] == "Plan" and "unknownField" not in event
    assert event["htmlLink"].startswith(f"{google_sandbox.url}/calendar/event?eid=")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["created"]) and event["updated"] == event["created"]
    assert event["creator"] == event["organizer"] == {"email": "ada@example.com", "displayName": "Ada Lovelace", "self": True}
    assert event["iCalUID"] == f"{event['id']}@google.com" and event["sequence"] == 0
    assert event["eventType"] == "default" and event["reminders"] == {"useDefault": True}
    assert event["start"] == {"dateTime": "2026-03-10T09:00:00Z"}
    assert api.get(f"{EVENTS}/{event['id']}").json() == event


def test_client_ids_follow_googles_rules(api: httpx.Client) -> None:
    for bad in ("abcd", "ABCDEFG", "wxyz12", "abc_def12", "a" * 1025):
        answer = api.post(EVENTS, json=timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", id=bad))
        assert answer.status_code == 400 and error_of(answer)["reason"] == "invalid", bad
    event = insert(api, timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", id="calmesh0001"))
    assert event["id"] == "calmesh0001"
    again = api.post(EVENTS, json=timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", id="calmesh0001"))
    assert again.status_code == 409 and error_of(again)["reason"] == "duplicate"
    both = api.post(EVENTS, json=timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", id="calmesh0002", iCalUID="x@y"))
    assert both.status_code == 400 and error_of(both)["reason"] == "invalid"
    own = insert(api, timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", iCalUID="meeting-1@example.com"))
    assert own["iCalUID"] == "meeting-1@example.com"
    clash = api.post(EVENTS, json=timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", iCalUID="meeting-1@example.com"))
    assert clash.status_code == 409


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"end": {"dateTime": "2026-03-10T10:00:00Z"}}, 400, "required"),
        ({"start": {"dateTime": "2026-03-10T10:00:00Z"}}, 400, "required"),
        (timed("2026-03-10T10:00:00Z", "2026-03-10T09:00:00Z"), 400, "timeRangeEmpty"),
        ({"start": {"date": "2026-03-10"}, "end": {"date": "2026-03-10"}}, 400, "timeRangeEmpty"),
        ({"start": {"date": "2026-03-10"}, "end": {"dateTime": "2026-03-10T10:00:00Z"}}, 400, "invalid"),
        (timed("2026-03-10T09:00:00", "2026-03-10T10:00:00"), 400, "required"),
        (timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", transparency="maybe"), 400, "invalid"),
        (timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", attendees=[{"displayName": "No mail"}]), 400, "required"),
    ],
)
def test_invalid_events_are_refused(api: httpx.Client, body: dict[str, Any], status: int, reason: str) -> None:
    answer = api.post(EVENTS, json=body)
    assert answer.status_code == status
    assert error_of(answer)["reason"] == reason


def test_a_local_time_with_a_zone_is_that_zones_wall_clock(api: httpx.Client) -> None:
    event = insert(api, timed("2026-07-01T09:00:00", "2026-07-01T10:00:00", "Europe/London"))
    assert event["start"] == {"dateTime": "2026-07-01T09:00:00+01:00", "timeZone": "Europe/London"}


def test_patch_merges_objects_replaces_arrays_and_null_clears(api: httpx.Client) -> None:
    event = insert(
        api,
        timed(
            "2026-03-10T09:00:00Z",
            "2026-03-10T10:00:00Z",
            summary="Plan",
            description="Agenda",
            attendees=[{"email": "grace@example.com"}, {"email": "ada@example.com"}],
            extendedProperties={"private": {"a": "1", "b": "2"}, "shared": {"s": "x"}},
        ),
    )
    assert event["attendees"][1] == {"email": "ada@example.com", "responseStatus": "needsAction", "self": True, "organizer": True}
    patched = api.patch(
        f"{EVENTS}/{event['id']}",
        json={"summary": "Plan v2", "description": None, "attendees": [{"email": "bob@example.com"}], "extendedProperties": {"private": {"b": None, "c": "3"}}},
    ).json()
    assert patched["summary"] == "Plan v2" and "description" not in patched
    assert [a["email"] for a in patched["attendees"]] == ["bob@example.com"]
    assert patched["extendedProperties"] == {"private": {"a": "1", "c": "3"}, "shared": {"s": "x"}}
    assert patched["etag"] != event["etag"] and patched["sequence"] == 0 and patched["created"] == event["created"]

    moved = api.patch(f"{EVENTS}/{event['id']}", json=timed("2026-03-11T09:00:00Z", "2026-03-11T10:00:00Z")).json()
    assert moved["sequence"] == 1 and moved["summary"] == "Plan v2"
    all_day = api.patch(f"{EVENTS}/{event['id']}", json={"start": {"date": "2026-03-12"}, "end": {"date": "2026-03-13"}}).json()
    assert all_day["start"] == {"date": "2026-03-12"} and all_day["sequence"] == 2


def test_put_replaces_everything_but_the_immutable_fields(api: httpx.Client) -> None:
    event = insert(api, timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", summary="Plan", location="Room 1", id="keepmid01"))
    replaced = api.put(
        f"{EVENTS}/keepmid01",
        json=timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", summary="Only this", id="otherid99", iCalUID="x@y", created="2000-01-01T00:00:00.000Z"),
    ).json()
    assert replaced["summary"] == "Only this" and "location" not in replaced
    assert (replaced["id"], replaced["iCalUID"], replaced["created"], replaced["creator"]) == (
        event["id"], event["iCalUID"], event["created"], event["creator"],
    )
    missing = api.put(f"{EVENTS}/keepmid01", json={"summary": "no times"})
    assert missing.status_code == 400 and error_of(missing)["reason"] == "required"


def test_if_match_guards_patch_put_and_delete(api: httpx.Client) -> None:
    event = insert(api, timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", summary="Plan"))
    changed = api.patch(f"{EVENTS}/{event['id']}", json={"summary": "Changed"}, headers={"If-Match": event["etag"]})
    assert changed.status_code == 200
    for method in ("PATCH", "PUT", "DELETE"):
        stale = api.request(method, f"{EVENTS}/{event['id']}", json=timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z"), headers={"If-Match": event["etag"]})
        assert stale.status_code == 412
        assert error_of(stale) == {
            "domain": "global", "reason": "conditionNotMet", "message": "Precondition Failed", "locationType": "header", "location": "If-Match",
        }
    assert api.delete(f"{EVENTS}/{event['id']}", headers={"If-Match": changed.json()["etag"]}).status_code == 204


def test_delete_answers_204_get_still_shows_it_and_a_second_delete_is_410(api: httpx.Client) -> None:
    event = insert(api, timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", summary="Plan"))
    deleted = api.delete(f"{EVENTS}/{event['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    shown = api.get(f"{EVENTS}/{event['id']}").json()
    assert shown["status"] == "cancelled" and shown["summary"] == "Plan"
    again = api.delete(f"{EVENTS}/{event['id']}")
    assert again.status_code == 410 and error_of(again)["reason"] == "deleted"
    missing = api.delete(f"{EVENTS}/nosuchevent1")
    assert missing.status_code == 404 and error_of(missing)["reason"] == "notFound"


def test_extended_properties_drop_long_keys_and_truncate_long_values(api: httpx.Client) -> None:
    event = insert(
        api,
        timed(
            "2026-03-10T09:00:00Z",
            "2026-03-10T10:00:00Z",
            extendedProperties={"private": {"k" * 44: "kept", "k" * 45: "dropped", "long": "v" * 1500}},
        ),
    )
    private = event["extendedProperties"]["private"]
    assert set(private) == {"k" * 44, "long"} and private["long"] == "v" * 1024


# --- Google Meet ---------------------------------------------------------------------------

MEET = {"createRequest": {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}


def test_conference_data_is_ignored_without_version_1_and_dropped_by_updates_without_it(api: httpx.Client) -> None:
    ignored = insert(api, timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", conferenceData=MEET))
    assert "conferenceData" not in ignored and "hangoutLink" not in ignored

    event = insert(api, timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", conferenceData=MEET), conferenceDataVersion=1)
    conference = event["conferenceData"]
    assert re.fullmatch(r"[a-z]{3}-[a-z]{4}-[a-z]{3}", conference["conferenceId"])
    assert conference["createRequest"]["status"] == {"statusCode": "success"}
    assert conference["conferenceSolution"]["name"] == "Google Meet" and conference["conferenceSolution"]["key"] == {"type": "hangoutsMeet"}
    video = next(e for e in conference["entryPoints"] if e["entryPointType"] == "video")
    phone = next(e for e in conference["entryPoints"] if e["entryPointType"] == "phone")
    assert video["uri"] == f"https://meet.google.com/{conference['conferenceId']}" == event["hangoutLink"]
    assert phone["uri"].startswith("tel:+1-") and phone["pin"]

    kept = api.patch(f"{EVENTS}/{event['id']}", json={"summary": "x"}, params={"conferenceDataVersion": 1}).json()
    assert kept["conferenceData"] == conference
    # Sending back what was read (same requestId) changes nothing.
    same = api.put(f"{EVENTS}/{event['id']}", json={**kept, "summary": "y"}, params={"conferenceDataVersion": 1}).json()
    assert same["conferenceData"]["conferenceId"] == conference["conferenceId"]
    renewed = api.patch(
        f"{EVENTS}/{event['id']}",
        json={"conferenceData": {"createRequest": {"requestId": "req-2", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}},
        params={"conferenceDataVersion": 1},
    ).json()
    assert renewed["conferenceData"]["conferenceId"] != conference["conferenceId"]

    dropped = api.patch(f"{EVENTS}/{event['id']}", json={"summary": "no version"}).json()
    assert "conferenceData" not in dropped and "hangoutLink" not in dropped


def test_other_conference_types_are_refused(api: httpx.Client) -> None:
    body = timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", conferenceData={"createRequest": {"requestId": "r", "conferenceSolutionKey": {"type": "addOn"}}})
    answer = api.post(EVENTS, json=body, params={"conferenceDataVersion": 1})
    assert answer.status_code == 400 and error_of(answer)["reason"] == "invalid"


def test_a_pending_meet_becomes_success_after_the_configured_reads(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    google_sandbox.sandbox.meet_pending_reads = 2
    event = insert(api, timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", conferenceData=MEET), conferenceDataVersion=1)
    assert event["conferenceData"]["createRequest"]["status"]["statusCode"] == "pending"
    assert "hangoutLink" not in event and "entryPoints" not in event["conferenceData"]
    states = [api.get(f"{EVENTS}/{event['id']}").json()["conferenceData"]["createRequest"]["status"]["statusCode"] for _ in range(2)]
    assert states == ["pending", "pending"]
    listed = api.get(EVENTS).json()["items"][0]
    assert listed["conferenceData"]["createRequest"]["status"]["statusCode"] == "success"
    assert listed["hangoutLink"].startswith("https://meet.google.com/") and listed["etag"] != event["etag"]


def test_a_failing_meet_ends_in_failure(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    google_sandbox.sandbox.meet_fails = True
    event = insert(api, timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", conferenceData=MEET), conferenceDataVersion=1)
    assert event["conferenceData"] == {
        "createRequest": {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}, "status": {"statusCode": "failure"}}
    }
    assert "hangoutLink" not in event


# --- recurrence ----------------------------------------------------------------------------


def weekly_in_london(api: httpx.Client, **more: Any) -> dict[str, Any]:
    # Mondays 09:00 London from 16 March 2026: the clocks go forward on 29 March.
    return insert(
        api,
        timed("2026-03-16T09:00:00Z", "2026-03-16T09:30:00Z", "Europe/London", summary="Standup", recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"], **more),
    )


@pytest.mark.parametrize(
    "recurrence",
    [["RRULE:FREQ=SOMETIMES"], ["DTSTART:20260316T090000Z", "RRULE:FREQ=DAILY"], ["RRULE:FREQ=DAILY;COUNT=2;UNTIL=20260320T000000Z"], ["EXDATE:20260316T090000Z"], ["hello"]],
)
def test_invalid_recurrences_are_refused(api: httpx.Client, recurrence: list[str]) -> None:
    answer = api.post(EVENTS, json=timed("2026-03-16T09:00:00Z", "2026-03-16T09:30:00Z", "Europe/London", recurrence=recurrence))
    assert answer.status_code == 400 and error_of(answer)["reason"] == "invalid"


def test_a_recurring_timed_event_needs_a_time_zone(api: httpx.Client) -> None:
    answer = api.post(EVENTS, json=timed("2026-03-16T09:00:00Z", "2026-03-16T09:30:00Z", recurrence=["RRULE:FREQ=DAILY"]))
    assert answer.status_code == 400
    assert error_of(answer)["message"] == "Missing time zone definition for start time."


def test_single_events_expand_across_dst_with_exceptions_in_place(api: httpx.Client) -> None:
    master = weekly_in_london(api)
    mid = master["id"]
    moved = api.patch(f"{EVENTS}/{mid}_20260330T080000Z", json=timed("2026-03-30T11:00:00+01:00", "2026-03-30T11:30:00+01:00", "Europe/London")).json()
    assert moved["id"] == f"{mid}_20260330T080000Z" and moved["recurringEventId"] == mid
    assert moved["originalStartTime"] == {"dateTime": "2026-03-30T09:00:00+01:00", "timeZone": "Europe/London"}
    assert moved["iCalUID"] == master["iCalUID"] and moved["sequence"] == 1
    assert api.delete(f"{EVENTS}/{mid}_20260323T090000Z").status_code == 204

    items = api.get(EVENTS, params={"singleEvents": "true", "orderBy": "startTime"}).json()["items"]
    assert [(i["id"].split("_")[1], i["start"]["dateTime"]) for i in items] == [
        ("20260316T090000Z", "2026-03-16T09:00:00Z"),
        ("20260330T080000Z", "2026-03-30T11:00:00+01:00"),
        ("20260406T080000Z", "2026-04-06T09:00:00+01:00"),
    ]
    assert all(i["recurringEventId"] == mid and i["iCalUID"] == master["iCalUID"] and "recurrence" not in i for i in items)
    assert items[2]["originalStartTime"] == items[2]["start"] and items[2]["etag"] == master["etag"]

    with_deleted = api.get(EVENTS, params={"singleEvents": "true", "showDeleted": "true"}).json()["items"]
    assert f"{mid}_20260323T090000Z" in [i["id"] for i in with_deleted]


def test_without_single_events_cancelled_instances_are_listed_but_cancelled_events_are_not(api: httpx.Client) -> None:
    master = weekly_in_london(api)
    gone = insert(api, timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", summary="Gone"))
    api.delete(f"{EVENTS}/{gone['id']}")
    api.delete(f"{EVENTS}/{master['id']}_20260323T090000Z")

    items = api.get(EVENTS).json()["items"]
    assert [i["id"] for i in items] == [master["id"], f"{master['id']}_20260323T090000Z"]
    assert items[1] == {
        "kind": "calendar#event",
        "etag": items[1]["etag"],
        "id": f"{master['id']}_20260323T090000Z",
        "status": "cancelled",
        "recurringEventId": master["id"],
        "originalStartTime": {"dateTime": "2026-03-23T09:00:00Z", "timeZone": "Europe/London"},
    }
    shown = [i["id"] for i in api.get(EVENTS, params={"showDeleted": "true"}).json()["items"]]
    assert gone["id"] in shown


def test_instances_lists_a_series_with_its_exceptions(api: httpx.Client) -> None:
    master = weekly_in_london(api)
    mid = master["id"]
    api.patch(f"{EVENTS}/{mid}_20260406T080000Z", json={"summary": "Last one"})
    api.delete(f"{EVENTS}/{mid}_20260323T090000Z")
    instances = api.get(f"{EVENTS}/{mid}/instances").json()
    assert instances["kind"] == "calendar#events" and "nextSyncToken" not in instances
    assert [(i["id"][-16:], i.get("summary")) for i in instances["items"]] == [
        ("20260316T090000Z", "Standup"),
        ("20260330T080000Z", "Standup"),
        ("20260406T080000Z", "Last one"),
    ]
    everything = api.get(f"{EVENTS}/{mid}/instances", params={"showDeleted": "true", "maxResults": 2}).json()
    assert len(everything["items"]) == 2 and "nextPageToken" in everything
    rest = api.get(f"{EVENTS}/{mid}/instances", params={"showDeleted": "true", "maxResults": 2, "pageToken": everything["nextPageToken"]}).json()
    assert [i["status"] for i in everything["items"] + rest["items"]] == ["confirmed", "cancelled", "confirmed", "confirmed"]
    window = api.get(f"{EVENTS}/{mid}/instances", params={"timeMin": "2026-03-29T00:00:00Z", "timeMax": "2026-04-01T00:00:00Z"}).json()
    assert [i["id"][-16:] for i in window["items"]] == ["20260330T080000Z"]


def test_instance_ids_can_be_read_and_a_non_instance_is_404(api: httpx.Client) -> None:
    master = weekly_in_london(api)
    instance = api.get(f"{EVENTS}/{master['id']}_20260330T080000Z").json()
    assert instance["start"] == {"dateTime": "2026-03-30T09:00:00+01:00", "timeZone": "Europe/London"}
    assert instance["end"] == {"dateTime": "2026-03-30T09:30:00+01:00", "timeZone": "Europe/London"}
    assert api.get(f"{EVENTS}/{master['id']}_20260331T080000Z").status_code == 404
    assert api.get(f"{EVENTS}/{master['id']}_20260413T080000Z").status_code == 404  # past COUNT=4

    replaced = api.put(f"{EVENTS}/{master['id']}_20260330T080000Z", json={**instance, "summary": "Replaced", "location": "Hall"}).json()
    assert (replaced["summary"], replaced["location"], replaced["recurringEventId"]) == ("Replaced", "Hall", master["id"])
    assert replaced["originalStartTime"] == instance["originalStartTime"] and replaced["etag"] != master["etag"]
    assert api.get(f"{EVENTS}/{master['id']}").json()["etag"] == master["etag"], "the series itself is unchanged"


def test_deleting_a_series_cancels_its_exceptions(api: httpx.Client) -> None:
    master = weekly_in_london(api)
    api.patch(f"{EVENTS}/{master['id']}_20260330T080000Z", json={"summary": "Special"})
    assert api.delete(f"{EVENTS}/{master['id']}").status_code == 204
    assert api.get(f"{EVENTS}/{master['id']}_20260330T080000Z").json()["status"] == "cancelled"
    assert api.get(f"{EVENTS}/{master['id']}_20260316T090000Z").json()["status"] == "cancelled"
    assert api.get(EVENTS).json()["items"] == []
    assert api.delete(f"{EVENTS}/{master['id']}_20260406T080000Z").status_code == 410


def test_all_day_series_have_date_instance_ids(api: httpx.Client) -> None:
    master = insert(api, {"start": {"date": "2026-03-27"}, "end": {"date": "2026-03-28"}, "recurrence": ["RRULE:FREQ=DAILY;COUNT=3", "EXDATE;VALUE=DATE:20260328"]})
    items = api.get(EVENTS, params={"singleEvents": "true"}).json()["items"]
    assert [(i["id"], i["start"], i["end"]) for i in items] == [
        (f"{master['id']}_20260327", {"date": "2026-03-27"}, {"date": "2026-03-28"}),
        (f"{master['id']}_20260329", {"date": "2026-03-29"}, {"date": "2026-03-30"}),
    ]
    assert items[0]["originalStartTime"] == {"date": "2026-03-27"}


def test_direct_changes_take_the_api_path(google_sandbox: ServedGoogleSandbox, api: httpx.Client) -> None:
    sb = google_sandbox.sandbox
    event = sb.insert_event("ada@example.com", timed("2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", summary="From elsewhere", organizer={"email": "boss@example.com"}))
    assert event["organizer"] == {"email": "boss@example.com"}
    assert api.get(f"{EVENTS}/{event['id']}").json() == event
    patched = sb.patch_event("ada@example.com", event["id"], {"summary": "Changed elsewhere"})
    assert patched["etag"] != event["etag"]
    assert sb.update_event("ada@example.com", event["id"], timed("2026-03-10T09:00:00Z", "2026-03-10T11:00:00Z"))["sequence"] == 1
    sb.delete_event("ada@example.com", event["id"])
    assert sb.get_event("ada@example.com", event["id"])["status"] == "cancelled"  # type: ignore[index]
    assert sb.get_event("ada@example.com", "nosuchevent") is None
    assert sb.events("ada@example.com") == [] and len(sb.events("ada@example.com", include_cancelled=True)) == 1
    with pytest.raises(Exception, match="timeRangeEmpty"):
        sb.insert_event("ada@example.com", timed("2026-03-10T10:00:00Z", "2026-03-10T09:00:00Z"))
