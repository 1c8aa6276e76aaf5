"""The per-user daily limit: 100 creates and, apart, 100 updates per UTC day, then 429 until 00:00 UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from tests.zoom_sandbox import ADA, ServedZoomSandbox

MEETINGS = "/v2/users/me/meetings"
ONE = {"topic": "Standup", "type": 2, "start_time": "2026-03-11T09:00:00Z", "duration": 15}
LATE = datetime(2026, 3, 10, 23, 40, tzinfo=timezone.utc)
DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)


def client(zs: ServedZoomSandbox, email: str = ADA) -> httpx.Client:
    return zs.client(zs.sandbox.issue_tokens(email)["access_token"])


def test_the_101st_create_of_the_day_is_refused_until_midnight_utc(zoom_sandbox: ServedZoomSandbox) -> None:
    zs = zoom_sandbox
    zs.sandbox.set_clock(LATE)
    with client(zs) as api:
        for number in range(100):
            answer = api.post(MEETINGS, json=ONE)
            assert answer.status_code == 201, (number, answer.text)
        refused = api.post(MEETINGS, json=ONE)
        assert refused.status_code == 429
        assert refused.json() == {"code": 429, "message": DAILY_MESSAGE}
        assert refused.headers["x-ratelimit-category"] == "Medium"
        assert refused.headers["x-ratelimit-type"] == "Daily"
        assert refused.headers["x-ratelimit-limit"] == "100"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.headers["retry-after"] == "2026-03-11T00:00:00Z"
        assert api.post(MEETINGS, json=ONE).status_code == 429, "refusals do not reset anything"

        # Updates are counted apart; reads are not limited.
        meeting_id = zs.sandbox.meetings(ADA)[0]["id"]
        assert api.patch(f"/v2/meetings/{meeting_id}", json={"topic": "Still fine"}).status_code == 204
        assert api.get(MEETINGS).status_code == 200

        zs.sandbox.set_clock(datetime(2026, 3, 11, 0, 0, 1, tzinfo=timezone.utc))
        assert api.post(MEETINGS, json=ONE).status_code == 201, "a new UTC day"
    assert len(zs.sandbox.meetings(ADA)) == 101


def test_updates_have_their_own_budget(zoom_sandbox: ServedZoomSandbox) -> None:
    zs = zoom_sandbox
    zs.sandbox.set_clock(LATE)
    with client(zs) as api:
        meeting_id = api.post(MEETINGS, json=ONE).json()["id"]
        for number in range(100):
            answer = api.patch(f"/v2/meetings/{meeting_id}", json={"topic": f"Take {number}"})
            assert answer.status_code == 204, (number, answer.text)
        refused = api.patch(f"/v2/meetings/{meeting_id}", json={"topic": "One more"})
        assert refused.status_code == 429 and refused.json()["code"] == 429
        assert refused.headers["x-ratelimit-category"] == "Light"
        assert refused.headers["retry-after"] == "2026-03-11T00:00:00Z"
        assert api.post(MEETINGS, json=ONE).status_code == 201, "creates have their own budget"
        assert api.delete(f"/v2/meetings/{meeting_id}").status_code == 204, "deletes are not counted"
        zs.sandbox.set_clock(LATE + timedelta(minutes=30))
        other = api.post(MEETINGS, json=ONE).json()["id"]
        assert api.patch(f"/v2/meetings/{other}", json={"topic": "Tomorrow"}).status_code == 204
    assert zs.sandbox.get_meeting(other)["topic"] == "Tomorrow"  # type: ignore[index]


def test_the_limit_is_per_user_and_configurable(zoom_sandbox: ServedZoomSandbox) -> None:
    zs = zoom_sandbox
    zs.sandbox.daily_limit = 2
    zs.sandbox.add_user("grace@example.com")
    with client(zs) as ada, client(zs, "grace@example.com") as grace:
        assert [ada.post(MEETINGS, json=ONE).status_code for _ in range(3)] == [201, 201, 429]
        assert grace.post(MEETINGS, json=ONE).status_code == 201
        # Every authenticated request counts, even one the API refuses for another reason.
        assert grace.post(MEETINGS, json={"type": 99}).status_code == 400
        refused = grace.post(MEETINGS, json=ONE)
        assert refused.status_code == 429 and refused.headers["x-ratelimit-limit"] == "2"
    zs.sandbox.reset()
    assert zs.sandbox.daily_limit == 100
