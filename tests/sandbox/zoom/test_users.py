"""users/me and user settings: PMI, personal meeting URL, use_pmi_for_scheduled_meetings, passcode requirements; access."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.zoom_sandbox import ADA, ServedZoomSandbox

REQUIREMENT = {"length": 8, "have_letter": True, "have_number": True, "have_special_character": False}


def test_users_me(zoom_sandbox: ServedZoomSandbox) -> None:
    zs = zoom_sandbox
    zs.sandbox.add_user("grace@example.com", first_name="Grace", last_name="Hopper", pmi=5551234567, timezone="America/New_York")
    grace = zs.sandbox.issue_tokens("grace@example.com")
    with zs.client(grace["access_token"]) as api:
        answer = api.get("/v2/users/me")
    assert answer.status_code == 200
    body = answer.json()
    assert body["email"] == "grace@example.com" and body["first_name"] == "Grace" and body["last_name"] == "Hopper"
    assert body["display_name"] == "Grace Hopper" and body["timezone"] == "America/New_York"
    assert body["pmi"] == 5551234567 and body["type"] == 2 and body["status"] == "active"
    assert re.fullmatch(r"https://zoom\.us/j/5551234567\?pwd=[A-Za-z0-9]{32}\.1", body["personal_meeting_url"])
    assert body["account_id"] == zs.sandbox.account_id and body["role_name"] == "Member"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", body["id"])

    with zs.client() as api:
        ada = api.get("/v2/users/me").json()
        assert ada["email"] == ADA and ada["id"] == zs.user_id and ada["role_name"] == "Owner"
        assert re.fullmatch(r"[2-9]\d{9}", str(ada["pmi"]))
        # Her own id and email address her too.
        assert api.get(f"/v2/users/{zs.user_id}").json()["email"] == ADA
        assert api.get("/v2/users/ADA@example.com").json()["id"] == zs.user_id


def test_settings_show_pmi_use_and_the_passcode_requirement(zoom_sandbox: ServedZoomSandbox) -> None:
    zs = zoom_sandbox
    zs.sandbox.add_user("grace@example.com", use_pmi_for_scheduled_meetings=True, password_requirement=REQUIREMENT)
    grace = zs.sandbox.issue_tokens("grace@example.com")
    with zs.client(grace["access_token"]) as api:
        settings = api.get("/v2/users/me/settings").json()
        security = api.get("/v2/users/me/settings", params={"option": "meeting_security"}).json()
    schedule = settings["schedule_meeting"]
    assert schedule["use_pmi_for_scheduled_meetings"] is True and schedule["use_pmi_for_instant_meetings"] is False
    expected = {
        "length": 8,
        "have_letter": True,
        "have_number": True,
        "have_special_character": False,
        "only_allow_numeric": False,
        "have_upper_and_lower_characters": False,
        "consecutive_characters_length": 0,
        "weak_enhance_detection": False,
    }
    assert schedule["meeting_password_requirement"] == expected
    assert schedule["require_password_for_scheduling_new_meetings"] is True
    default = schedule["default_password_for_scheduled_meetings"]
    assert len(default) >= 8 and any(c.isalpha() for c in default) and any(c.isdigit() for c in default)
    assert {"in_meeting", "recording", "email_notification"} <= set(settings)
    assert settings["recording"]["auto_recording"] == "none"
    assert set(security) == {"meeting_security"}
    assert security["meeting_security"]["meeting_password_requirement"] == expected

    with zs.client() as api:
        plain = api.get("/v2/users/me/settings").json()["schedule_meeting"]
        assert plain["use_pmi_for_scheduled_meetings"] is False
        assert plain["meeting_password_requirement"]["length"] == 0
        assert not any(v for k, v in plain["meeting_password_requirement"].items())
        bad = api.get("/v2/users/me/settings", params={"option": "nonsense"})
        assert bad.status_code == 400 and bad.json()["code"] == 300


def test_bad_tokens_answer_401_code_124(zoom_sandbox: ServedZoomSandbox) -> None:
    zs = zoom_sandbox
    invalid = {"code": 124, "message": "Invalid access token."}
    with httpx.Client(base_url=zs.url, trust_env=False) as anonymous:
        assert anonymous.get("/v2/users/me").json() == invalid
        assert anonymous.get("/v2/users/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401
        assert anonymous.get("/v2/users/me", headers={"Authorization": f"Basic {zs.access_token}"}).status_code == 401
    zs.sandbox.expire_access_tokens(ADA)
    with zs.client() as api:
        expired = api.get("/v2/users/me")
    assert expired.status_code == 401 and expired.json() == invalid
    fresh = zs.sandbox.issue_tokens(ADA)
    zs.sandbox.revoke_grants(ADA)
    with zs.client(fresh["access_token"]) as api:
        assert api.get("/v2/meetings/12345678901").status_code == 401


@pytest.mark.parametrize(
    ("scopes", "method", "path", "missing"),
    [
        (["meeting:read"], "POST", "/v2/users/me/meetings", "meeting:write"),
        (["meeting:write"], "GET", "/v2/users/me", "user:read"),
        (["user:read"], "GET", "/v2/users/me/meetings", "meeting:read"),
    ],
)
def test_a_token_without_the_scope_is_refused(zoom_sandbox: ServedZoomSandbox, scopes: list[str], method: str, path: str, missing: str) -> None:
    tokens = zoom_sandbox.sandbox.issue_tokens(ADA, scopes=scopes)
    with zoom_sandbox.client(tokens["access_token"]) as api:
        answer = api.request(method, path, json={"topic": "x"} if method == "POST" else None)
    assert answer.status_code == 400
    assert answer.json()["code"] == 4711 and missing in answer.json()["message"]
    assert answer.json()["message"].startswith("Invalid access token, does not contain scopes:[")


def test_add_user_refuses_bad_input(zoom_sandbox: ServedZoomSandbox) -> None:
    sb = zoom_sandbox.sandbox
    with pytest.raises(ValueError):
        sb.add_user(ADA)
    with pytest.raises(ValueError):
        sb.add_user("x@example.com", pmi=1234567890)
    with pytest.raises(ValueError):
        sb.add_user("x@example.com", timezone="Mars/Olympus")
    with pytest.raises(ValueError):
        sb.add_user("x@example.com", password_requirement={"lenght": 8})
    with pytest.raises(ValueError):
        sb.add_user("x@example.com", password_requirement={"consecutive_characters_length": 2})
