"""Zoom meetings through :mod:`calmesh.services.meetings`, against calmesh's Zoom emulator: made
with the connection's ``defaultMeetingSettings``, moved on the same link, cancelled once, the
personal room left alone — and the daily allowance (PRODUCT.md M5) counted in the database, so
that two processes together never send more than it, refused before Zoom is asked, and Zoom's
own 429 honoured until the time it names.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from calmesh.errors import MeetingQuotaExhausted, NotFound
from calmesh.providers.base import MeetingRequest
from calmesh.services import integrations, meetings
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from tests import zoom_connect
from tests.mirror_helpers import make_tenant, make_user
from tests.zoom_connect import RuntimeFactory, connect_zoom
from tests.zoom_sandbox import ADA, ServedZoomSandbox

UTC = timezone.utc

#: Runtimes with Zoom pointed at the emulator, on one database (fixtures shared with the other
#: Zoom service tests: pytest finds them among this module's names).
make_runtime, runtime = zoom_connect.make_runtime, zoom_connect.runtime


async def connected(runtime: Runtime, email: str = ADA) -> tuple[str, str, str]:
    """(tenant id, user id, Zoom connection id)."""
    tenant_id = await make_tenant(runtime)
    user_id = await make_user(runtime, tenant_id, f"user-{email}")
    return tenant_id, user_id, await connect_zoom(runtime, tenant_id, user_id, email)


def at(hours: int, minutes: int = 30, topic: str = "Intro call") -> MeetingRequest:
    start = (datetime.now(UTC) + timedelta(days=2, hours=hours)).replace(minute=0, second=0, microsecond=0)
    return MeetingRequest(topic=topic, start=start, duration_minutes=minutes, time_zone="Europe/London")


def next_midnight() -> datetime:
    return datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC)


def meeting_writes(served: ServedZoomSandbox) -> list[str]:
    """The create, update and delete requests Zoom received (what its daily limits count)."""
    return [
        f"{r.method} {r.path}" for r in served.sandbox.requests
        if (r.method == "POST" and r.path.endswith("/meetings")) or (r.method in ("PATCH", "DELETE") and "/v2/meetings/" in r.path)
    ]


async def test_a_meeting_gets_the_default_meeting_settings_and_is_stored(zoom_sandbox: ServedZoomSandbox, runtime: Runtime) -> None:
    tenant_id, user_id, connection_id = await connected(runtime)
    await integrations.configure(
        runtime, tenant_id, connection_id,
        {"defaultMeetingSettings": {"joinBeforeHost": True, "muteUponEntry": True, "autoRecording": "cloud"}},
    )

    meeting = await meetings.schedule_meeting(runtime, tenant_id, connection_id, at(1))

    at_zoom = zoom_sandbox.sandbox.get_meeting(meeting.meeting_id)
    assert at_zoom is not None and at_zoom["topic"] == "Intro call" and at_zoom["duration"] == 30
    settings = at_zoom["settings"]
    assert (settings["join_before_host"], settings["mute_upon_entry"], settings["waiting_room"], settings["auto_recording"]) == (
        True, True, False, "cloud",
    )
    # A waiting room (Zoom then lets nobody in before the host).
    await integrations.configure(runtime, tenant_id, connection_id, {"defaultMeetingSettings": {"waitingRoom": True}})
    other = await meetings.schedule_meeting(runtime, tenant_id, connection_id, at(2))
    other_at_zoom = zoom_sandbox.sandbox.get_meeting(other.meeting_id)
    assert other_at_zoom is not None and other_at_zoom["settings"]["waiting_room"] is True
    assert other_at_zoom["settings"]["mute_upon_entry"] is True and other_at_zoom["settings"]["auto_recording"] == "cloud"
    assert (meeting.service, meeting.connection_id, meeting.personal) == ("ZOOM", connection_id, False)
    assert meeting.id.startswith("mtg_") and meeting.join_url == at_zoom["join_url"] and meeting.passcode == at_zoom.get("password")
    assert meeting.conference() == {
        "service": "ZOOM", "joinUrl": meeting.join_url, "meetingId": meeting.meeting_id, "passcode": meeting.passcode,
        "dialIns": list(meeting.dial_ins),
    }
    assert await meetings.get_meeting(runtime, tenant_id, meeting.id) == meeting
    async with UnitOfWork(runtime) as uow:
        row = await uow.session.get(models.Meeting, meeting.id)
        assert row is not None and row.start_at == at(1).start and row.end_at == at(1).start + timedelta(minutes=30)
    with pytest.raises(NotFound):
        await meetings.get_meeting(runtime, await make_tenant(runtime), meeting.id)


async def test_rescheduling_keeps_the_link_and_cancelling_deletes_it_once(zoom_sandbox: ServedZoomSandbox, runtime: Runtime) -> None:
    tenant_id, _, connection_id = await connected(runtime)
    meeting = await meetings.schedule_meeting(runtime, tenant_id, connection_id, at(1))

    moved = await meetings.reschedule_meeting(runtime, tenant_id, meeting.id, at(5, 45, "Intro call (moved)"))

    assert (moved.id, moved.join_url, moved.meeting_id) == (meeting.id, meeting.join_url, meeting.meeting_id)
    at_zoom = zoom_sandbox.sandbox.get_meeting(meeting.meeting_id)
    assert at_zoom is not None and at_zoom["topic"] == "Intro call (moved)" and at_zoom["duration"] == 45
    assert datetime.fromisoformat(at_zoom["start_time"].replace("Z", "+00:00")) == at(5).start

    await meetings.cancel_meeting(runtime, tenant_id, meeting.id)
    await meetings.cancel_meeting(runtime, tenant_id, meeting.id)  # idempotent: Zoom is not asked again

    assert zoom_sandbox.sandbox.get_meeting(meeting.meeting_id) is None
    assert meeting_writes(zoom_sandbox) == [
        "POST /v2/users/me/meetings", f"PATCH /v2/meetings/{meeting.meeting_id}", f"DELETE /v2/meetings/{meeting.meeting_id}",
    ]
    async with UnitOfWork(runtime) as uow:
        row = await uow.session.get(models.Meeting, meeting.id)
        assert row is not None and row.deleted_at is not None


async def test_the_personal_room_is_used_when_zoom_says_so_and_never_deleted(zoom_sandbox: ServedZoomSandbox, runtime: Runtime) -> None:
    zoom_sandbox.sandbox.add_user("pmi@example.com", pmi=5551234567, use_pmi_for_scheduled_meetings=True)
    tenant_id, _, connection_id = await connected(runtime, "pmi@example.com")

    meeting = await meetings.schedule_meeting(runtime, tenant_id, connection_id, at(1))
    assert meeting.personal and meeting.meeting_id == "5551234567"
    await meetings.reschedule_meeting(runtime, tenant_id, meeting.id, at(3))
    await meetings.cancel_meeting(runtime, tenant_id, meeting.id)

    assert not any(r.method in ("PATCH", "DELETE") for r in zoom_sandbox.sandbox.requests)
    async with UnitOfWork(runtime) as uow:
        row = await uow.session.get(models.Meeting, meeting.id)
        assert row is not None and row.deleted_at is not None and row.start_at == at(3).start


async def test_the_daily_allowance_holds_across_processes_and_is_refused_before_zoom_is_asked(
    zoom_sandbox: ServedZoomSandbox, make_runtime: RuntimeFactory
) -> None:
    first = await make_runtime(zoom_daily_meeting_requests=5)
    second = await make_runtime(zoom_daily_meeting_requests=5)  # another engine: another process
    tenant_id, _, connection_id = await connected(first)

    async def attempt(rt: Runtime, hour: int) -> meetings.ScheduledMeeting | MeetingQuotaExhausted:
        try:
            return await meetings.schedule_meeting(rt, tenant_id, connection_id, at(hour))
        except MeetingQuotaExhausted as refused:
            return refused

    outcomes = await asyncio.gather(*(attempt(first if i % 2 else second, i) for i in range(12)))

    made = [o for o in outcomes if isinstance(o, meetings.ScheduledMeeting)]
    refused = [o for o in outcomes if isinstance(o, MeetingQuotaExhausted)]
    assert (len(made), len(refused)) == (5, 7)
    assert len(meeting_writes(zoom_sandbox)) == 5 and len(zoom_sandbox.sandbox.meetings(ADA)) == 5
    assert {r.resets_at for r in refused} == {next_midnight()}
    assert "5 meeting requests" in refused[0].message and "00:00 UTC" in refused[0].message

    asked = len(zoom_sandbox.sandbox.requests)
    with pytest.raises(MeetingQuotaExhausted) as more:
        await meetings.schedule_meeting(second, tenant_id, connection_id, at(20))
    with pytest.raises(MeetingQuotaExhausted):
        await meetings.cancel_meeting(first, tenant_id, made[0].id)  # deletes count too
    assert len(zoom_sandbox.sandbox.requests) == asked, "Zoom was asked although the allowance was used up"
    assert more.value.resets_at == next_midnight()

    status = await integrations.sync_status(first, tenant_id, connection_id)
    assert status.meeting_quota is not None
    assert (status.meeting_quota.used, status.meeting_quota.limit, status.meeting_quota.resets_at) == (5, 5, next_midnight())
    assert status.rate_limited and status.rate_limit_resets_at == next_midnight() and status.calendars == []

    # A new day: the count starts again.
    async with UnitOfWork(first) as uow:
        for row in (await uow.session.scalars(select(models.MeetingQuota))).all():
            row.day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
        await uow.commit()
    assert (await meetings.schedule_meeting(second, tenant_id, connection_id, at(21))).join_url
    status = await integrations.sync_status(first, tenant_id, connection_id)
    assert status.meeting_quota is not None and status.meeting_quota.used == 1 and not status.rate_limited


async def test_zooms_own_429_is_honoured_until_the_time_it_names(zoom_sandbox: ServedZoomSandbox, runtime: Runtime) -> None:
    tenant_id, _, connection_id = await connected(runtime)
    zoom_sandbox.sandbox.daily_limit = 2  # Zoom counts less than calmesh thinks is left (other apps, say)
    for hour in (1, 2):
        await meetings.schedule_meeting(runtime, tenant_id, connection_id, at(hour))

    with pytest.raises(MeetingQuotaExhausted) as refused:
        await meetings.schedule_meeting(runtime, tenant_id, connection_id, at(3))
    assert refused.value.resets_at == next_midnight()  # Zoom's Retry-After
    asked = len(zoom_sandbox.sandbox.requests)
    with pytest.raises(MeetingQuotaExhausted, match="until"):
        await meetings.schedule_meeting(runtime, tenant_id, connection_id, at(4))
    assert len(zoom_sandbox.sandbox.requests) == asked

    status = await integrations.sync_status(runtime, tenant_id, connection_id)
    assert status.rate_limited and status.rate_limit_resets_at == next_midnight()
    assert status.meeting_quota is not None and status.meeting_quota.used == 3 and status.state == "ACTIVE"
    async with UnitOfWork(runtime) as uow:
        connection = await uow.session.get(models.Connection, connection_id)
        assert connection is not None and connection.rate_limited_until == next_midnight()


async def test_a_short_wait_asked_by_zoom_ends_on_time(zoom_sandbox: ServedZoomSandbox, runtime: Runtime) -> None:
    tenant_id, _, connection_id = await connected(runtime)
    until = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    zoom_sandbox.sandbox.inject(429, path="/v2/users/.*/meetings", method="POST", retry_after=until.strftime("%Y-%m-%dT%H:%M:%SZ"))
    with pytest.raises(MeetingQuotaExhausted):
        await meetings.schedule_meeting(runtime, tenant_id, connection_id, at(1))
    posts = len(meeting_writes(zoom_sandbox))
    with pytest.raises(MeetingQuotaExhausted) as waiting:
        await meetings.schedule_meeting(runtime, tenant_id, connection_id, at(1))
    assert waiting.value.resets_at == until and len(meeting_writes(zoom_sandbox)) == posts

    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)
    assert (await meetings.schedule_meeting(runtime, tenant_id, connection_id, at(1))).join_url
    assert not (await integrations.sync_status(runtime, tenant_id, connection_id)).rate_limited
