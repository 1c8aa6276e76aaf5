"""The Zoom adapter against the served emulator (calmesh.sandbox.zoom), over real HTTP.

What calmesh sent is read back from the emulator (``sb.requests``, ``sb.get_meeting``); the
emulator validates bodies and passcodes as Zoom does. Every test gets a fresh emulator.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from calmesh.auth.oauth import MemoryTokenKeeper, TokenSet
from calmesh.errors import (
    ConfigurationError,
    InvalidInput,
    MeetingQuotaExhausted,
    ProviderAuthFailed,
    ProviderRateLimited,
    ProviderRefused,
    ProviderUnreachable,
)
from calmesh.providers.base import ConferencingAccount, ConferencingProvider, MeetingDefaults, MeetingRequest, ProviderConfig
from calmesh.providers.http import RetryPolicy
from calmesh.providers.registry import open_conferencing_provider
from calmesh.providers.zoom import ZoomConferencingProvider, open_zoom
from calmesh.sandbox._common import RecordedRequest
from calmesh.sandbox.zoom import ZoomSandbox
from calmesh.sandbox.zoom.passcodes import normalize_requirement, problems
from calmesh.sandbox.zoom.state import ZoomUser
from tests.providers.zoom.conftest import ADA, Connect, CountingGate, config_for, keeper_for, sandbox_app
from tests.zoom_sandbox import ServedZoomSandbox

BERLIN = ZoneInfo("Europe/Berlin")
GRACE = "grace@example.com"
REVIEW = MeetingRequest(
    topic="Design review",
    start=datetime(2030, 3, 4, 10, 30, tzinfo=BERLIN),
    duration_minutes=45,
    time_zone="Europe/Berlin",
    agenda="The new booking page",
)
DEFAULTS = MeetingDefaults(join_before_host=True, mute_upon_entry=True, waiting_room=False, auto_recording="cloud")
STRICT = {
    "length": 8,
    "have_letter": True,
    "have_number": True,
    "have_special_character": True,
    "have_upper_and_lower_characters": True,
}


def sent(sb: ZoomSandbox, method: str, path_end: str) -> list[RecordedRequest]:
    return [r for r in sb.requests if r.method == method and r.path.endswith(path_end)]


def user(sb: ZoomSandbox, email: str) -> ZoomUser:
    return next(u for u in sb.users if u.email == email)


def next_midnight() -> datetime:
    return datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(0), UTC)


# --- the account ------------------------------------------------------------------------------


async def test_account_is_who_the_tokens_act_for(connect: Connect, zoom_sandbox: ServedZoomSandbox) -> None:
    conn = await connect()
    assert await conn.provider.account() == ConferencingAccount(
        user_id=zoom_sandbox.user_id, email=ADA, account_id=zoom_sandbox.sandbox.account_id
    )
    assert conn.provider.service == "ZOOM" and isinstance(conn.provider, ConferencingProvider)


async def test_the_registry_opens_zoom_and_refuses_what_it_does_not_know(zoom_sandbox: ServedZoomSandbox) -> None:
    with pytest.raises(InvalidInput, match="unknown conferencing provider 'TEAMS'; calmesh knows ZOOM"):
        open_conferencing_provider("TEAMS", ProviderConfig(account={}))
    with pytest.raises(ConfigurationError):
        open_zoom(ProviderConfig(account={}))


# --- creating meetings ------------------------------------------------------------------------


async def test_a_scheduled_meeting_carries_the_request_the_defaults_and_a_one_time_passcode(connect: Connect) -> None:
    conn = await connect()
    ada = user(conn.sb, ADA)

    meeting = await conn.provider.create_meeting(REVIEW, DEFAULTS)

    (post,) = sent(conn.sb, "POST", "/v2/users/me/meetings")
    body = post.json
    assert body == {
        "topic": "Design review",
        "start_time": "2030-03-04T09:30:00Z",
        "duration": 45,
        "timezone": "Europe/Berlin",
        "agenda": "The new booking page",
        "type": 2,
        "password": meeting.passcode,
        "settings": {
            "use_pmi": False,
            "join_before_host": True,
            "mute_upon_entry": True,
            "waiting_room": False,
            "auto_recording": "cloud",
        },
    }
    stored = conn.sb.get_meeting(meeting.id)
    assert stored is not None and str(stored["id"]) == meeting.id and meeting.id.isdigit() and len(meeting.id) >= 11
    assert meeting.id != str(ada.pmi) and meeting.personal is False
    assert meeting.join_url == stored["join_url"] and meeting.passcode == stored["password"]
    assert meeting.passcode is not None and meeting.passcode.isdigit() and len(meeting.passcode) == 6
    assert stored["settings"]["auto_recording"] == "cloud" and stored["settings"]["join_before_host"] is True
    assert meeting.dial_ins == ("US (New York): +1 6465588656", "US (San Jose): +1 6699006833")
    assert conn.gate.admitted == 1


async def test_long_texts_are_cut_to_what_zoom_accepts_and_naive_times_are_refused(connect: Connect) -> None:
    conn = await connect()
    long = MeetingRequest(topic="T" * 300, start=REVIEW.start, duration_minutes=30, agenda="A" * 2500)
    meeting = await conn.provider.create_meeting(long, MeetingDefaults())
    stored = conn.sb.get_meeting(meeting.id)
    assert stored is not None and len(stored["topic"]) == 200 and len(stored["agenda"]) == 2000

    naive = MeetingRequest(topic="Naive", start=datetime(2030, 3, 4, 10, 30), duration_minutes=30)
    before = len(conn.sb.requests)
    with pytest.raises(ValueError, match="timezone-aware"):
        await conn.provider.create_meeting(naive, MeetingDefaults())
    assert len(conn.sb.requests) == before and conn.gate.admitted == 1


async def test_the_personal_room_is_used_when_the_users_settings_say_so(connect: Connect) -> None:
    conn = await connect()
    conn.sb.add_user(GRACE, use_pmi_for_scheduled_meetings=True)
    grace = user(conn.sb, GRACE)
    graces = await connect(GRACE)

    meeting = await graces.provider.create_meeting(REVIEW, DEFAULTS)

    assert meeting.id == str(grace.pmi) and meeting.personal is True
    assert meeting.passcode == grace.pmi_password
    (post,) = sent(conn.sb, "POST", "/v2/users/me/meetings")
    assert post.json["settings"] == {"use_pmi": True} and "password" not in post.json
    # calmesh never deletes a personal room; Zoom would refuse anyway (code 3018).
    with pytest.raises(ProviderRefused, match="personal meeting room") as refused:
        await graces.provider.delete_meeting(meeting.id)
    assert "3018" in refused.value.message
    # Ada's settings say otherwise: a meeting of its own, use_pmi false said explicitly.
    adas = await conn.provider.create_meeting(REVIEW, DEFAULTS)
    assert adas.personal is False and adas.id != str(user(conn.sb, ADA).pmi)
    assert sent(conn.sb, "POST", "/v2/users/me/meetings")[-1].json["settings"]["use_pmi"] is False


async def test_the_passcode_meets_the_accounts_rules(connect: Connect) -> None:
    conn = await connect()
    conn.sb.add_user(GRACE, password_requirement=STRICT)
    conn.sb.add_user("alan@example.com", password_requirement={"only_allow_numeric": True, "length": 9})

    strict = await (await connect(GRACE)).provider.create_meeting(REVIEW, DEFAULTS)
    numeric = await (await connect("alan@example.com")).provider.create_meeting(REVIEW, DEFAULTS)

    assert strict.passcode is not None and problems(strict.passcode, normalize_requirement(STRICT)) == []
    assert len(strict.passcode) >= 8 and any(c in "@-_*" for c in strict.passcode)
    assert any(c.isupper() for c in strict.passcode) and any(c.islower() for c in strict.passcode)
    assert numeric.passcode is not None and numeric.passcode.isdigit() and len(numeric.passcode) == 9


class SettingsLikeAnOlderAccount(httpx.AsyncBaseTransport):
    """Forwards every request to the emulator, but answers ``users/me/settings`` as an account whose
    ``schedule_meeting`` states no passcode requirement; with ``free_account``, the emulator is
    told to refuse the ``?option=meeting_security`` read (403), as Zoom does for free accounts."""

    def __init__(self, sandbox: ZoomSandbox, *, free_account: bool) -> None:
        self._sandbox = sandbox
        self._free_account = free_account
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        settings = request.url.path.endswith("/settings")
        option = request.url.params.get("option")
        if settings and option == "meeting_security" and self._free_account:
            self._sandbox.inject(403, path=r"/settings$", message="This API is only available for Paid account.")
        response = await self._inner.handle_async_request(request)
        if settings and option is None and response.status_code == 200:
            body = json.loads(await response.aread())
            del body["schedule_meeting"]["meeting_password_requirement"]
            return httpx.Response(200, json=body)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def older_account(served: ServedZoomSandbox, email: str, *, free_account: bool) -> ZoomConferencingProvider:
    app = sandbox_app(served)
    client = httpx.AsyncClient(base_url=app.api_base_url, transport=SettingsLikeAnOlderAccount(served.sandbox, free_account=free_account))
    return ZoomConferencingProvider(client, app, keeper_for(served, email), retry=RetryPolicy(base_seconds=0.001))


async def test_the_requirement_falls_back_to_the_meeting_security_settings(zoom_sandbox: ServedZoomSandbox) -> None:
    zoom_sandbox.sandbox.add_user(GRACE, password_requirement=STRICT)
    async with older_account(zoom_sandbox, GRACE, free_account=False) as provider:
        meeting = await provider.create_meeting(REVIEW, DEFAULTS)

    assert meeting.passcode is not None and problems(meeting.passcode, normalize_requirement(STRICT)) == []
    reads = [r.query for r in zoom_sandbox.sandbox.requests if r.path.endswith("/settings")]
    assert reads == [[], [("option", "meeting_security")]]


async def test_a_free_account_refused_its_security_settings_gets_a_passcode_without_rules(
    zoom_sandbox: ServedZoomSandbox,
) -> None:
    async with older_account(zoom_sandbox, ADA, free_account=True) as provider:
        meeting = await provider.create_meeting(REVIEW, DEFAULTS)

    assert meeting.passcode is not None and meeting.passcode.isdigit()
    assert [r.status for r in zoom_sandbox.sandbox.requests] == [200, 403, 201]


async def test_a_refused_passcode_answered_in_xml_is_still_a_clear_refusal(zoom_sandbox: ServedZoomSandbox) -> None:
    # Zoom's rules are hidden from calmesh here, so its passcode breaks them; Zoom answers in XML.
    zoom_sandbox.sandbox.add_user(GRACE, password_requirement={"have_special_character": True})
    zoom_sandbox.sandbox.passcode_errors_as_xml = True
    async with older_account(zoom_sandbox, GRACE, free_account=True) as provider:
        with pytest.raises(ProviderRefused) as refused:
            await provider.create_meeting(REVIEW, DEFAULTS)

    (post,) = sent(zoom_sandbox.sandbox, "POST", "/meetings")
    assert post.status == 400 and post.response is None  # Zoom answered XML, not JSON
    message = refused.value.message
    assert "HTTP 400 code 300" in message and "Validation Failed." in message
    assert post.json["password"] not in message


# --- updating and deleting --------------------------------------------------------------------


async def test_an_update_changes_time_topic_and_settings_and_keeps_the_link(connect: Connect) -> None:
    conn = await connect()
    meeting = await conn.provider.create_meeting(REVIEW, DEFAULTS)
    moved = MeetingRequest(
        topic="Design review (moved)",
        start=datetime(2030, 3, 5, 16, 0, tzinfo=ZoneInfo("America/New_York")),
        duration_minutes=60,
        time_zone="America/New_York",
    )

    await conn.provider.update_meeting(meeting.id, moved, MeetingDefaults(waiting_room=True))

    (patch,) = sent(conn.sb, "PATCH", f"/v2/meetings/{meeting.id}")
    assert patch.status == 204
    assert patch.json == {
        "topic": "Design review (moved)",
        "start_time": "2030-03-05T21:00:00Z",
        "duration": 60,
        "timezone": "America/New_York",
        "agenda": "",
        "settings": {"join_before_host": False, "mute_upon_entry": False, "waiting_room": True, "auto_recording": "none"},
    }
    stored = conn.sb.get_meeting(meeting.id)
    assert stored is not None
    assert (stored["topic"], stored["start_time"], stored["duration"]) == ("Design review (moved)", "2030-03-05T21:00:00Z", 60)
    assert stored["settings"]["waiting_room"] is True and stored.get("agenda", "") == ""
    assert stored["join_url"] == meeting.join_url and stored["password"] == meeting.passcode
    assert conn.gate.admitted == 2


async def test_deleting_a_meeting_twice_is_not_an_error(connect: Connect) -> None:
    conn = await connect()
    meeting = await conn.provider.create_meeting(REVIEW, DEFAULTS)

    await conn.provider.delete_meeting(meeting.id)
    assert conn.sb.get_meeting(meeting.id) is None
    await conn.provider.delete_meeting(meeting.id)  # 404 code 3001: already gone

    assert [r.status for r in sent(conn.sb, "DELETE", meeting.id)] == [204, 404]
    with pytest.raises(ProviderRefused, match="does not know this meeting"):
        await conn.provider.update_meeting(meeting.id, REVIEW, DEFAULTS)
    before = len(conn.sb.requests)
    with pytest.raises(InvalidInput):
        await conn.provider.delete_meeting("../users/me")
    assert len(conn.sb.requests) == before


# --- the daily allowance ----------------------------------------------------------------------


async def test_a_gate_that_refuses_keeps_every_request_from_zoom(connect: Connect) -> None:
    conn = await connect(gate=CountingGate(allowance=0))

    for attempt in (
        conn.provider.create_meeting(REVIEW, DEFAULTS),
        conn.provider.update_meeting("81234567890", REVIEW, DEFAULTS),
        conn.provider.delete_meeting("81234567890"),
    ):
        with pytest.raises(MeetingQuotaExhausted):
            await attempt

    assert conn.sb.requests == []


async def test_zooms_daily_limit_blocks_the_gate_until_midnight_utc(connect: Connect) -> None:
    conn = await connect()
    conn.sb.daily_limit = 1
    meeting = await conn.provider.create_meeting(REVIEW, DEFAULTS)
    await conn.provider.update_meeting(meeting.id, REVIEW, DEFAULTS)

    for refused in (
        conn.provider.create_meeting(REVIEW, DEFAULTS),
        conn.provider.update_meeting(meeting.id, REVIEW, DEFAULTS),
    ):
        with pytest.raises(ProviderRateLimited) as limited:
            await refused
        midnight = next_midnight()
        assert isinstance(limited.value, MeetingQuotaExhausted) and limited.value.resets_at == midnight
        assert limited.value.retry_after == pytest.approx((midnight - datetime.now(UTC)).total_seconds(), abs=5)
        assert "resume at" in limited.value.message

    assert conn.gate.blocked_until == [midnight, midnight] and conn.gate.admitted == 4
    assert len(sent(conn.sb, "POST", "/meetings")) == 2  # a daily 429 is not retried


async def test_a_retry_after_in_seconds_blocks_the_gate_that_long(connect: Connect) -> None:
    conn = await connect()
    conn.sb.inject(429, path=r"/users/me/meetings$", retry_after=30)

    with pytest.raises(ProviderRateLimited) as limited:
        await conn.provider.create_meeting(REVIEW, DEFAULTS)

    assert not isinstance(limited.value, MeetingQuotaExhausted)
    assert limited.value.retry_after == pytest.approx(30, abs=5)
    (until,) = conn.gate.blocked_until
    assert until - datetime.now(UTC) == pytest.approx(timedelta(seconds=30), abs=timedelta(seconds=5))


async def test_a_429_without_retry_after_is_retried_shortly_then_given_up(connect: Connect) -> None:
    conn = await connect()
    conn.sb.inject(429, path=r"/users/me/meetings$", times=2)
    await conn.provider.create_meeting(REVIEW, DEFAULTS)
    assert [r.status for r in sent(conn.sb, "POST", "/meetings")] == [429, 429, 201]

    conn.sb.inject(429, path=r"/users/me/meetings$", times=10)
    with pytest.raises(ProviderRateLimited, match="5 attempts"):
        await conn.provider.create_meeting(REVIEW, DEFAULTS)
    assert conn.gate.blocked_until == [] and conn.gate.admitted == 2


# --- failures and tokens ----------------------------------------------------------------------


async def test_zoom_failures_are_retried_then_unreachable(connect: Connect, caplog: pytest.LogCaptureFixture) -> None:
    conn = await connect()
    caplog.set_level(logging.INFO, logger="calmesh.providers.zoom")
    conn.sb.inject(503, path=r"/users/me/meetings$", times=2)
    await conn.provider.create_meeting(REVIEW, DEFAULTS)
    assert [r.status for r in sent(conn.sb, "POST", "/meetings")] == [503, 503, 201]

    conn.sb.inject(500, path=r"/users/me$", times=10)
    with pytest.raises(ProviderUnreachable, match="HTTP 500, Zoom failed \\(5 attempts\\)"):
        await conn.provider.account()
    assert "retrying" in caplog.text and conn.keeper.tokens.access_token not in caplog.text


async def test_a_timeout_is_retried_unless_the_request_may_have_made_a_meeting(connect: Connect) -> None:
    conn = await connect(timeout=0.3)
    meeting = await conn.provider.create_meeting(REVIEW, DEFAULTS)

    conn.sb.delay(1.0, path=r"/meetings/\d+$")
    await conn.provider.update_meeting(meeting.id, REVIEW, DEFAULTS)

    conn.sb.delay(1.0, path=r"/users/me/meetings$")
    with pytest.raises(ProviderUnreachable, match="may have been carried out, so it was not sent again"):
        await conn.provider.create_meeting(REVIEW, DEFAULTS)


async def test_an_expired_token_is_refreshed_once_and_the_request_retried(connect: Connect) -> None:
    conn = await connect()
    stale = conn.keeper.tokens
    conn.sb.expire_access_tokens()

    assert (await conn.provider.account()).email == ADA
    assert conn.keeper.refreshes == 1 and conn.keeper.tokens.refresh_token != stale.refresh_token

    conn.sb.inject(401, path=r"/users/me$", times=2)
    with pytest.raises(ProviderAuthFailed, match="even after a token refresh") as refused:
        await conn.provider.account()
    assert conn.keeper.refreshes == 2
    assert conn.keeper.tokens.access_token not in refused.value.message and stale.access_token not in refused.value.message


async def test_a_revoked_grant_or_a_missing_scope_means_connecting_again(connect: Connect) -> None:
    narrow = await connect(scopes=("user:read",))
    with pytest.raises(ProviderAuthFailed, match="lacks a permission.*4711"):
        await narrow.provider.create_meeting(REVIEW, DEFAULTS)

    conn = await connect()
    conn.sb.revoke_grants(ADA)
    with pytest.raises(ProviderAuthFailed, match="connect the account again"):
        await conn.provider.create_meeting(REVIEW, DEFAULTS)


async def test_twenty_meetings_at_once_on_an_expired_token_refresh_it_once(
    connect: Connect, zoom_sandbox: ServedZoomSandbox
) -> None:
    conn = await connect()
    conn.sb.expire_access_tokens()

    meetings = await asyncio.gather(*(conn.provider.create_meeting(REVIEW, DEFAULTS) for _ in range(20)))

    assert len({m.id for m in meetings}) == 20
    assert conn.keeper.refreshes == 1
    assert len([r for r in zoom_sandbox.sandbox.requests if r.path == "/oauth/token"]) == 1
    # Nobody was logged out: the rotated tokens still work.
    assert (await conn.provider.account()).email == ADA


# --- revocation -------------------------------------------------------------------------------


async def test_revoking_says_whether_anything_was_revoked(connect: Connect) -> None:
    conn = await connect()
    assert await conn.provider.revoke() is True
    assert await conn.provider.revoke() is False
    with pytest.raises(ProviderAuthFailed):
        await conn.provider.account()


async def test_an_expiring_token_is_refreshed_before_it_is_revoked(zoom_sandbox: ServedZoomSandbox) -> None:
    grant: dict[str, Any] = zoom_sandbox.sandbox.issue_tokens(ADA)
    expiring = TokenSet(grant["access_token"], grant["refresh_token"], expires_at=datetime.now(UTC))
    keeper = MemoryTokenKeeper(sandbox_app(zoom_sandbox), expiring)
    async with open_zoom(config_for(zoom_sandbox, keeper)) as provider:
        assert await provider.revoke() is True
        assert keeper.refreshes == 1
        keeper_after = MemoryTokenKeeper(sandbox_app(zoom_sandbox), expiring)
    async with open_zoom(config_for(zoom_sandbox, keeper_after)) as provider:
        assert await provider.revoke() is False  # the refresh token died with the grant
