"""Meetings over HTTP: create with settings and passcode rules, the PMI, get/patch/delete, listing, validation."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from calmesh.sandbox.zoom import ZoomApiError
from tests.zoom_sandbox import ADA, ServedZoomSandbox

MEETINGS = "/v2/users/me/meetings"
ONE: dict[str, Any] = {
    "topic": "Design review",
    "type": 2,
    "start_time": "2026-03-10T09:00:00Z",
    "duration": 30,
    "timezone": "Europe/Paris",
    "agenda": "Slides first",
}


@pytest.fixture
def api(zoom_sandbox: ServedZoomSandbox) -> httpx.Client:
    with zoom_sandbox.client() as client:
        yield client  # type: ignore[misc]


def as_user(zs: ServedZoomSandbox, email: str, **settings: Any) -> httpx.Client:
    zs.sandbox.add_user(email, **settings)
    return zs.client(zs.sandbox.issue_tokens(email)["access_token"])


def test_create_answers_201_with_the_meeting(zoom_sandbox: ServedZoomSandbox, api: httpx.Client) -> None:
    settings = {"join_before_host": True, "mute_upon_entry": True, "waiting_room": False, "auto_recording": "cloud", "jbh_time": 5}
    created = api.post(MEETINGS, json={**ONE, "password": "Pa55-word", "settings": settings})
    assert created.status_code == 201, created.text
    meeting = created.json()
    meeting_id = meeting["id"]
    assert isinstance(meeting_id, int) and 10**10 <= meeting_id < 10**11, "11 digits: more than fits in 32 bits"
    assert created.headers["content-location"] == f"{zoom_sandbox.url}/v2/meetings/{meeting_id}"
    assert meeting["host_id"] == zoom_sandbox.user_id and meeting["host_email"] == ADA
    assert (meeting["topic"], meeting["type"], meeting["status"], meeting["agenda"]) == ("Design review", 2, "waiting", "Slides first")
    assert (meeting["start_time"], meeting["duration"], meeting["timezone"]) == ("2026-03-10T09:00:00Z", 30, "Europe/Paris")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meeting["created_at"])
    assert meeting["password"] == "Pa55-word"
    assert meeting["h323_password"].isdigit() and meeting["pstn_password"] == meeting["h323_password"]
    assert meeting["join_url"] == f"https://zoom.us/j/{meeting_id}?pwd={meeting['encrypted_password']}"
    assert meeting["start_url"].startswith(f"https://zoom.us/s/{meeting_id}?zak=")
    assert re.fullmatch(r"[A-Za-z0-9+/]{22}==", meeting["uuid"])
    got = meeting["settings"]
    assert {k: got[k] for k in settings} == settings
    assert got["use_pmi"] is False and got["approval_type"] == 2 and got["audio"] == "both"
    assert got["global_dial_in_countries"] == ["US"]
    assert [n["country"] for n in got["global_dial_in_numbers"]] == ["US", "US"]
    assert all({"number", "type", "country", "country_name"} <= set(n) for n in got["global_dial_in_numbers"])
    assert "pmi" not in meeting

    fetched = api.get(f"/v2/meetings/{meeting_id}")
    assert fetched.status_code == 200 and fetched.json() == meeting
    assert zoom_sandbox.sandbox.get_meeting(meeting_id) == meeting
    assert zoom_sandbox.sandbox.meetings(ADA) == [meeting]


def test_defaults_local_times_and_the_waiting_room(api: httpx.Client) -> None:
    bare = api.post(MEETINGS, json={"start_time": "2026-07-01T14:30:00", "timezone": "America/New_York"}).json()
    assert bare["topic"] == "Zoom Meeting" and bare["type"] == 2 and bare["duration"] == 60
    assert bare["start_time"] == "2026-07-01T18:30:00Z", "local time in the given zone"
    assert re.fullmatch(r"\d{6}", bare["password"]), "a passcode is generated: passcodes are required"
    assert bare["settings"]["join_before_host"] is False and bare["settings"]["auto_recording"] == "none"
    user_zone = api.post(MEETINGS, json={"start_time": "2026-07-01T14:30:00"}).json()
    assert user_zone["start_time"] == "2026-07-01T14:30:00Z" and user_zone["timezone"] == "UTC"
    waiting = api.post(MEETINGS, json={**ONE, "settings": {"join_before_host": True, "waiting_room": True}}).json()
    assert waiting["settings"]["join_before_host"] is False, "the waiting room overrides join before host"
    recurring = api.post(MEETINGS, json={"topic": "Any time", "type": 3}).json()
    assert recurring["type"] == 3 and "start_time" not in recurring and "duration" not in recurring


@pytest.mark.parametrize(
    ("requirement", "refused", "accepted"),
    [
        ({"length": 8}, "abc123", "abcd1234"),
        ({"have_letter": True}, "123456", "12345a"),
        ({"have_number": True}, "abcdef", "abcde1"),
        ({"have_special_character": True}, "abc123", "abc12*"),
        ({"only_allow_numeric": True}, "12ab56", "902817"),
        ({"have_upper_and_lower_characters": True}, "abc123", "aBc123"),
        ({"consecutive_characters_length": 4}, "x1234y", "x123y4"),
        ({"consecutive_characters_length": 4}, "a1111b", "a111b1"),
        ({"weak_enhance_detection": True}, "123456", "739184"),
        ({"weak_enhance_detection": True}, "password", "pa5sw0rd"),
        ({}, "abc!def", "abc@def"),
        ({}, "abcdefghijk", "abcdefghij"),
    ],
)
def test_passcodes_must_meet_the_hosts_requirement(
    zoom_sandbox: ServedZoomSandbox, requirement: dict[str, Any], refused: str, accepted: str
) -> None:
    with as_user(zoom_sandbox, "grace@example.com", password_requirement=requirement) as api:
        answer = api.post(MEETINGS, json={**ONE, "password": refused})
        assert answer.status_code == 400, refused
        body = answer.json()
        assert body["code"] == 300 and body["message"] == "Validation Failed."
        assert body["errors"] and all(e["field"] == "password" for e in body["errors"])
        good = api.post(MEETINGS, json={**ONE, "password": accepted})
        assert good.status_code == 201, good.text
        assert good.json()["password"] == accepted


def test_every_broken_rule_is_listed_and_generated_passcodes_meet_them(zoom_sandbox: ServedZoomSandbox) -> None:
    requirement = {
        "length": 9,
        "have_letter": True,
        "have_number": True,
        "have_special_character": True,
        "have_upper_and_lower_characters": True,
        "consecutive_characters_length": 4,
        "weak_enhance_detection": True,
    }
    with as_user(zoom_sandbox, "grace@example.com", password_requirement=requirement) as api:
        answer = api.post(MEETINGS, json={**ONE, "password": "abcd"}).json()
        assert len(answer["errors"]) == 6, answer  # length, case, special, number, consecutive, weak
        for body in ({**ONE}, {**ONE, "default_password": True}, {**ONE, "default_password": True, "password": "x"}):
            passcode = api.post(MEETINGS, json=body).json()["password"]
            assert len(passcode) >= 9 and any(c.isupper() for c in passcode) and any(c.islower() for c in passcode)
            assert any(c in "@-_*" for c in passcode) and any(c.isdigit() for c in passcode)
    with as_user(zoom_sandbox, "num@example.com", password_requirement={"only_allow_numeric": True, "length": 7}) as api:
        meeting = api.post(MEETINGS, json={**ONE, "default_password": True}).json()
        assert re.fullmatch(r"\d{7}", meeting["password"]) and meeting["pstn_password"] == meeting["password"]


def test_passcode_failures_can_come_back_as_xml(zoom_sandbox: ServedZoomSandbox, api: httpx.Client) -> None:
    zoom_sandbox.sandbox.passcode_errors_as_xml = True
    answer = api.post(MEETINGS, json={**ONE, "password": "no spaces"})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("application/xml")
    assert "<code>300</code>" in answer.text
    assert api.post(MEETINGS, json={**ONE, "type": 7}).headers["content-type"].startswith("application/json")


def test_use_pmi_puts_the_meeting_on_the_personal_meeting_id(zoom_sandbox: ServedZoomSandbox, api: httpx.Client) -> None:
    zs = zoom_sandbox
    me = api.get("/v2/users/me").json()
    meeting = api.post(MEETINGS, json={**ONE, "settings": {"use_pmi": True}}).json()
    assert meeting["id"] == me["pmi"] and meeting["pmi"] == me["pmi"] and meeting["settings"]["use_pmi"] is True
    assert meeting["join_url"] == me["personal_meeting_url"]
    assert api.get(f"/v2/meetings/{me['pmi']}").json()["uuid"] == meeting["uuid"]
    refused = api.delete(f"/v2/meetings/{me['pmi']}")
    assert refused.status_code == 400 and refused.json() == {"code": 3018, "message": "Not allowed to delete PMI."}
    assert api.patch(f"/v2/meetings/{me['pmi']}", json={"topic": "Office hours"}).status_code == 204
    assert zs.sandbox.get_meeting(me["pmi"])["topic"] == "Office hours"  # type: ignore[index]

    # The host's "use PMI for scheduled meetings" applies when the body does not say.
    with as_user(zs, "grace@example.com", use_pmi_for_scheduled_meetings=True) as grace:
        pmi = grace.get("/v2/users/me").json()["pmi"]
        assert grace.post(MEETINGS, json=ONE).json()["id"] == pmi
        assert grace.post(MEETINGS, json={**ONE, "settings": {"use_pmi": False}}).json()["id"] != pmi
        assert grace.post(MEETINGS, json={**ONE, "type": 8, "recurrence": {"type": 1, "end_times": 3}}).json()["id"] != pmi


def test_patch_and_delete(zoom_sandbox: ServedZoomSandbox, api: httpx.Client) -> None:
    meeting = api.post(MEETINGS, json={**ONE, "settings": {"join_before_host": True}}).json()
    path = f"/v2/meetings/{meeting['id']}"
    patched = api.patch(path, json={"topic": "Moved", "start_time": "2026-03-11T10:00:00", "settings": {"mute_upon_entry": True}})
    assert patched.status_code == 204 and patched.content == b""
    now = api.get(path).json()
    assert now["topic"] == "Moved" and now["start_time"] == "2026-03-11T09:00:00Z", "local time in the meeting's zone (Paris)"
    assert now["settings"]["mute_upon_entry"] is True and now["settings"]["join_before_host"] is True, "settings merge"
    assert (now["agenda"], now["password"], now["join_url"]) == (meeting["agenda"], meeting["password"], meeting["join_url"])
    assert api.patch(path, json={"password": "n3wPass"}).status_code == 204
    changed = api.get(path).json()
    assert changed["password"] == "n3wPass" and changed["join_url"] != meeting["join_url"]
    assert api.patch(path, json={"duration": -5}).json()["code"] == 300

    assert api.delete(path).status_code == 204
    gone = {"code": 3001, "message": f"Meeting does not exist: {meeting['id']}."}
    assert api.get(path).status_code == 404 and api.get(path).json() == gone
    assert api.patch(path, json={"topic": "x"}).json() == gone
    assert api.delete(path).json() == gone
    assert api.get("/v2/meetings/not-a-number").json()["code"] == 3001
    assert zoom_sandbox.sandbox.get_meeting(meeting["id"]) is None


def test_other_users_meetings_are_not_found(zoom_sandbox: ServedZoomSandbox, api: httpx.Client) -> None:
    with as_user(zoom_sandbox, "grace@example.com") as grace:
        hers = grace.post(MEETINGS, json=ONE).json()["id"]
    for method in ("GET", "PATCH", "DELETE"):
        answer = api.request(method, f"/v2/meetings/{hers}", json={"topic": "mine"} if method == "PATCH" else None)
        assert answer.status_code == 404 and answer.json()["code"] == 3001


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"topic": "x" * 201}, "topic"),
        ({"agenda": "x" * 2001}, "agenda"),
        ({"type": 4}, "type"),
        ({"duration": "long"}, "duration"),
        ({"start_time": "next tuesday"}, "start_time"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"settings": {"auto_recording": "tape"}}, "settings.auto_recording"),
        ({"settings": {"join_before_host": "yes"}}, "settings.join_before_host"),
        ({"settings": {"approval_type": 5}}, "settings.approval_type"),
        ({"settings": "none"}, "settings"),
    ],
)
def test_invalid_bodies_are_refused(api: httpx.Client, body: dict[str, Any], field: str) -> None:
    answer = api.post(MEETINGS, json={**ONE, **body})
    assert answer.status_code == 400
    assert answer.json()["code"] == 300 and answer.json()["errors"][0]["field"] == field


def test_unknown_settings_are_ignored_and_non_json_is_refused(api: httpx.Client) -> None:
    meeting = api.post(MEETINGS, json={**ONE, "settings": {"brand_new_flag": True, "global_dial_in_numbers": []}}).json()
    assert "brand_new_flag" not in meeting["settings"] and len(meeting["settings"]["global_dial_in_numbers"]) == 2
    broken = api.post(MEETINGS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json() == {"code": 300, "message": "Request Body should be a valid JSON object."}
    assert api.post(MEETINGS, json=["a list"]).json()["code"] == 300


def test_listing_meetings(zoom_sandbox: ServedZoomSandbox, api: httpx.Client) -> None:
    for day in (14, 12, 13):
        api.post(MEETINGS, json={**ONE, "start_time": f"2030-01-{day}T09:00:00Z", "agenda": "a" * 300})
    api.post(MEETINGS, json={**ONE, "start_time": "2020-01-01T09:00:00Z"})
    api.post(MEETINGS, json={"topic": "Instant", "type": 1})
    listed = api.get(MEETINGS).json()
    assert listed["total_records"] == 4 and listed["page_size"] == 30 and listed["next_page_token"] == ""
    starts = [m["start_time"] for m in listed["meetings"]]
    assert starts == sorted(starts) and starts[0].startswith("2020")
    item = listed["meetings"][1]
    assert set(item) == {"uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone", "agenda", "created_at", "join_url"}
    assert len(item["agenda"]) == 250
    upcoming = api.get(MEETINGS, params={"type": "upcoming"}).json()["meetings"]
    assert [m["start_time"][:10] for m in upcoming] == ["2030-01-12", "2030-01-13", "2030-01-14"]
    assert api.get(MEETINGS, params={"type": "live"}).json()["meetings"] == []
    assert api.get(MEETINGS, params={"type": "sometimes"}).status_code == 400

    first = api.get(MEETINGS, params={"page_size": 3}).json()
    assert len(first["meetings"]) == 3 and first["next_page_token"] and first["page_count"] == 2
    second = api.get(MEETINGS, params={"page_size": 3, "next_page_token": first["next_page_token"]}).json()
    assert len(second["meetings"]) == 1 and second["next_page_token"] == ""
    assert {m["id"] for m in first["meetings"] + second["meetings"]} == {m["id"] for m in listed["meetings"]}


def test_direct_changes_raise_what_the_api_would_answer(zoom_sandbox: ServedZoomSandbox) -> None:
    sb = zoom_sandbox.sandbox
    with pytest.raises(ZoomApiError) as missing:
        sb.edit_meeting_in_zoom(12345678901, {"topic": "x"})
    assert (missing.value.status, missing.value.code) == (404, 3001)
    meeting = sb.create_meeting_in_zoom(ADA, ONE)
    with pytest.raises(ZoomApiError) as invalid:
        sb.edit_meeting_in_zoom(meeting["id"], {"type": 5})
    assert invalid.value.code == 300
    assert sb.edit_meeting_in_zoom(meeting["id"], {"topic": "Renamed"})["topic"] == "Renamed"
    sb.delete_meeting_in_zoom(meeting["id"])
    assert sb.meetings(ADA) == []
