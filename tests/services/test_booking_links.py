"""A booking's meeting link and calendar event through its life (PRODUCT.md A4, M4; seed 004),
with Ada hosting: her Google calendar and her Zoom are calmesh's emulators, over HTTP.

Each rule of seed 004 is a test: an edit that keeps date and time keeps the link; a reschedule
gets a new link unless another booking holds the slot (its link is reused); bookings sharing a
slot share one link; a cancellation deletes the meeting unless another booking still uses it; the
calendar event always shows the current link. And a link that cannot be made is the booking's
error, leaving nothing behind.

SQLite only: what is tested is the conversation with the providers; the booking transactions
themselves run on PostgreSQL too in test_availability_and_bookings.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from calmesh.errors import InvalidState, MeetingQuotaExhausted, ProviderError, SlotUnavailable
from calmesh.services import bookings, event_types, events
from calmesh.services.bookings import Attendee, BookingCreate, BookingRead
from calmesh.services.event_types import EventTypeCreate
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.migrate import upgrade
from tests.conftest import make_settings
from tests.google_sandbox import ADA, ServedGoogleSandbox
from tests.mirror_helpers import make_tenant, make_user
from tests.services.remote_sides import connect_google, google_settings
from tests.zoom_connect import connect_zoom, zoom_settings
from tests.zoom_sandbox import ServedZoomSandbox

UTC = timezone.utc
NOW = datetime.now(UTC)
MONDAY = (NOW + timedelta(days=14 - NOW.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def at(hour: int, minute: int = 0) -> datetime:
    return MONDAY + timedelta(hours=hour, minutes=minute)


@pytest.fixture
async def runtime(google_sandbox: ServedGoogleSandbox, zoom_sandbox: ServedZoomSandbox, sqlite_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = {**google_settings(google_sandbox.sandbox, google_sandbox.url), **zoom_settings(zoom_sandbox)}
    rt = build_runtime(make_settings(sqlite_url, tmp_path, **settings))
    await upgrade(rt.engine)
    yield rt
    await rt.close()


class Ada:
    """Ada, with her Google calendar (createEventsIn: primary) and, unless asked not to, her Zoom."""

    def __init__(self, runtime: Runtime, google: ServedGoogleSandbox, zoom: ServedZoomSandbox) -> None:
        self.runtime, self.google, self.zoom = runtime, google, zoom

    async def start(self, *, with_zoom: bool = True) -> Ada:
        self.tenant = await make_tenant(self.runtime)
        self.user = await make_user(self.runtime, self.tenant, ADA, time_zone="Europe/Berlin")
        await connect_google(self.runtime, self.tenant, ADA, user_id=self.user)
        if with_zoom:
            await connect_zoom(self.runtime, self.tenant, self.user)
        return self

    async def event_type(self, location: dict[str, Any], seats: int = 1, title: str = "Intro") -> str:
        created = await event_types.create_event_type(
            self.runtime, self.tenant,
            EventTypeCreate.model_validate({
                "title": title, "durationMinutes": 30, "slotIntervalMinutes": 15, "location": location,
                "hosts": [self.user], "seatsPerSlot": seats, "bookingWindowDays": 30,
                "schedule": {"timeZone": "UTC", "weeklyHours": {"monday": [{"start": "08:00", "end": "18:00"}]}},
            }),
        )
        return created.id

    async def book(self, event_type_id: str, start: datetime, who: str = "Grace", notes: str | None = None) -> BookingRead:
        attendee = Attendee(name=who, email=f"{who.lower()}@example.org")
        return await bookings.create_booking(
            self.runtime, self.tenant, BookingCreate(event_type_id=event_type_id, start=start, attendee=attendee, notes=notes)
        )

    def zoom_meetings(self) -> list[dict[str, Any]]:
        return self.zoom.sandbox.meetings(ADA)

    def google_events(self) -> list[dict[str, Any]]:
        return self.google.sandbox.events(ADA)

    def zoom_calls(self, method: str) -> int:
        return sum(1 for r in self.zoom.sandbox.requests if r.method == method and "/meetings" in r.path)

    async def announced(self, kind: str) -> list[dict[str, Any]]:
        async with UnitOfWork(self.runtime) as uow:
            rows = await uow.session.scalars(
                select(models.WebhookEvent).where(models.WebhookEvent.type == kind).order_by(models.WebhookEvent.id)
            )
            return [dict(r.data) for r in rows.all()]


@pytest.fixture
async def ada(runtime: Runtime, google_sandbox: ServedGoogleSandbox, zoom_sandbox: ServedZoomSandbox) -> Ada:
    return await Ada(runtime, google_sandbox, zoom_sandbox).start()


def join_url(booking: BookingRead) -> str:
    assert booking.conference is not None and booking.conference.join_url
    return booking.conference.join_url


async def test_a_zoom_booking_has_its_link_in_the_booking_the_calendar_event_and_the_webhook(ada: Ada) -> None:
    booked = await ada.book(await ada.event_type({"type": "ZOOM"}), at(10), notes="Agenda: intro")

    [meeting] = ada.zoom_meetings()
    assert booked.conference is not None and booked.conference.service == "ZOOM"
    assert join_url(booked) == meeting["join_url"] and booked.conference.meeting_id == str(meeting["id"])
    assert booked.conference.passcode == meeting["password"]
    assert datetime.fromisoformat(meeting["start_time"].replace("Z", "+00:00")) == at(10) and meeting["duration"] == 30

    [event] = [e for e in ada.google_events() if e.get("summary") == "Intro with Grace"]
    assert event["location"] == meeting["join_url"]
    assert meeting["join_url"] in event["description"] and meeting["password"] in event["description"]
    assert "Agenda: intro" in event["description"]
    assert {a["email"] for a in event.get("attendees", [])} >= {"grace@example.org"}

    # /v1/events shows the detected conference of the booking's event.
    assert booked.calendar_event_id is not None
    shown = await events.get_event(ada.runtime, ada.tenant, booked.calendar_event_id)
    assert shown.conference is not None and shown.conference.service == "ZOOM"
    assert shown.conference.join_url == meeting["join_url"] and shown.conference.passcode == meeting["password"]

    [created] = await ada.announced("booking.created")
    assert created["conference"]["joinUrl"] == meeting["join_url"] and created["conference"]["service"] == "ZOOM"


async def test_an_edit_that_keeps_date_and_time_keeps_the_link(ada: Ada) -> None:
    booked = await ada.book(await ada.event_type({"type": "ZOOM"}), at(10))
    creates = ada.zoom_calls("POST")

    edited = await bookings.update_booking(ada.runtime, ada.tenant, booked.id, bookings.BookingUpdate(start=at(10), notes="bring slides"))

    assert edited.conference == booked.conference
    assert ada.zoom_calls("POST") == creates and ada.zoom_calls("PATCH") == ada.zoom_calls("DELETE") == 0
    [event] = [e for e in ada.google_events() if e.get("summary") == "Intro with Grace"]
    assert "bring slides" in event["description"] and join_url(booked) in event["description"]


async def test_a_reschedule_gets_a_new_link_and_the_old_meeting_is_deleted(ada: Ada) -> None:
    booked = await ada.book(await ada.event_type({"type": "ZOOM"}), at(10))
    old = booked.conference
    assert old is not None and old.meeting_id is not None

    # 10:15 overlaps the booking's own old time and its calendar event: neither is in the way.
    moved = await bookings.update_booking(ada.runtime, ada.tenant, booked.id, bookings.BookingUpdate(start=at(10, 15)))

    assert moved.conference is not None and moved.conference.join_url != old.join_url
    assert ada.zoom.sandbox.get_meeting(old.meeting_id) is None, "the old meeting is deleted at Zoom"
    [meeting] = ada.zoom_meetings()
    assert join_url(moved) == meeting["join_url"]
    [event] = [e for e in ada.google_events() if e.get("summary") == "Intro with Grace"]
    assert event["location"] == meeting["join_url"] and old.join_url not in event["description"]
    assert datetime.fromisoformat(event["start"]["dateTime"]) == at(10, 15)
    [rescheduled] = await ada.announced("booking.rescheduled")
    assert rescheduled["conference"]["joinUrl"] == meeting["join_url"]


async def test_bookings_sharing_a_slot_share_one_link(ada: Ada) -> None:
    seated = await ada.event_type({"type": "ZOOM"}, seats=3)
    first = await ada.book(seated, at(10), "Grace")
    second = await ada.book(seated, at(10), "Hedy")

    assert join_url(first) == join_url(second)
    assert len(ada.zoom_meetings()) == 1
    await ada.book(seated, at(10), "Barbara")
    with pytest.raises(SlotUnavailable, match="every seat"):
        await ada.book(seated, at(10), "Radia")
    assert len(ada.zoom_meetings()) == 1


async def test_a_reschedule_into_a_slot_another_booking_holds_reuses_its_link(ada: Ada) -> None:
    seated = await ada.event_type({"type": "ZOOM"}, seats=2)
    holder = await ada.book(seated, at(10), "Grace")
    mover = await ada.book(seated, at(11), "Hedy")
    assert join_url(holder) != join_url(mover)

    moved = await bookings.update_booking(ada.runtime, ada.tenant, mover.id, bookings.BookingUpdate(start=at(10)))

    assert join_url(moved) == join_url(holder)
    assert [m["join_url"] for m in ada.zoom_meetings()] == [join_url(holder)], "the 11:00 meeting is deleted"


async def test_a_cancellation_deletes_the_meeting_only_when_no_booking_still_uses_it(ada: Ada) -> None:
    seated = await ada.event_type({"type": "ZOOM"}, seats=2)
    first = await ada.book(seated, at(10), "Grace")
    second = await ada.book(seated, at(10), "Hedy")
    assert len([e for e in ada.google_events() if e.get("summary", "").startswith("Intro")]) == 2

    await bookings.cancel_booking(ada.runtime, ada.tenant, first.id, bookings.BookingCancel(reason="ill"))
    assert [m["join_url"] for m in ada.zoom_meetings()] == [join_url(second)], "Hedy still uses it"
    assert [e["summary"] for e in ada.google_events() if e.get("summary", "").startswith("Intro")] == ["Intro with Hedy"]
    # The first booking's hold on Ada's time passed to the second: 10:00 stays taken for others.
    plain = await ada.event_type({"type": "ZOOM"}, title="Quick")
    with pytest.raises(SlotUnavailable):
        await ada.book(plain, at(10), "Radia")

    await bookings.cancel_booking(ada.runtime, ada.tenant, second.id, bookings.BookingCancel())
    assert ada.zoom_meetings() == []
    assert [e for e in ada.google_events() if e.get("summary", "").startswith("Intro")] == []


async def test_a_zoom_meeting_that_cannot_be_made_is_the_bookings_error_and_nothing_is_left(ada: Ada) -> None:
    zoom_type = await ada.event_type({"type": "ZOOM"})
    ada.zoom.sandbox.inject(500, times=10, path="/v2/users/me/meetings", method="POST")

    with pytest.raises(ProviderError):
        await ada.book(zoom_type, at(10))

    assert ada.zoom_meetings() == [] and ada.google_events() == []
    assert await ada.announced("booking.created") == []
    ada.zoom.sandbox.inject(500, times=0, path="/v2/users/me/meetings", method="POST")


async def test_a_host_without_zoom_gets_an_explicit_error_not_another_service(
    runtime: Runtime, google_sandbox: ServedGoogleSandbox, zoom_sandbox: ServedZoomSandbox
) -> None:
    ada = await Ada(runtime, google_sandbox, zoom_sandbox).start(with_zoom=False)
    with pytest.raises(InvalidState, match="not connected Zoom"):
        await ada.book(await ada.event_type({"type": "ZOOM"}), at(10))
    assert ada.google_events() == []


async def test_the_daily_zoom_quota_refuses_the_booking_with_its_reset_time(
    google_sandbox: ServedGoogleSandbox, zoom_sandbox: ServedZoomSandbox, sqlite_url: str, tmp_path: Path
) -> None:
    settings = {**google_settings(google_sandbox.sandbox, google_sandbox.url), **zoom_settings(zoom_sandbox)}
    rt = build_runtime(make_settings(sqlite_url, tmp_path, zoom_daily_meeting_requests=1, **settings))
    await upgrade(rt.engine)
    try:
        ada = await Ada(rt, google_sandbox, zoom_sandbox).start()
        zoom_type = await ada.event_type({"type": "ZOOM"})
        await ada.book(zoom_type, at(10))
        with pytest.raises(MeetingQuotaExhausted) as refused:
            await ada.book(zoom_type, at(11), "Hedy")
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        assert refused.value.resets_at == tomorrow
        assert len(ada.zoom_meetings()) == 1 and ada.zoom_calls("POST") == 1, "Zoom was not asked"
    finally:
        await rt.close()


async def test_a_lost_race_for_a_slot_leaves_one_meeting_and_one_event(ada: Ada) -> None:
    zoom_type = await ada.event_type({"type": "ZOOM"})
    outcomes = await asyncio.gather(ada.book(zoom_type, at(10), "Grace"), ada.book(zoom_type, at(10), "Hedy"), return_exceptions=True)

    won = [o for o in outcomes if isinstance(o, BookingRead)]
    assert len(won) == 1 and all(isinstance(o, SlotUnavailable) for o in outcomes if not isinstance(o, BookingRead))
    assert [m["join_url"] for m in ada.zoom_meetings()] == [join_url(won[0])]
    assert len([e for e in ada.google_events() if e.get("summary", "").startswith("Intro")]) == 1


async def test_a_meet_booking_gets_the_link_google_made(ada: Ada) -> None:
    booked = await ada.book(await ada.event_type({"type": "GOOGLE_MEET"}), at(10))

    [event] = [e for e in ada.google_events() if e.get("summary") == "Intro with Grace"]
    meet = next(p["uri"] for p in event["conferenceData"]["entryPoints"] if p["entryPointType"] == "video")
    assert booked.conference is not None and booked.conference.service == "GOOGLE_MEET"
    assert join_url(booked) == meet and "authuser" not in meet
    [created] = await ada.announced("booking.created")
    assert created["conference"]["joinUrl"] == meet

    moved = await bookings.update_booking(ada.runtime, ada.tenant, booked.id, bookings.BookingUpdate(start=at(11)))
    assert join_url(moved) == meet, "Google keeps the Meet link with the event it moves"


async def test_a_custom_location_gives_every_booking_its_stable_link(ada: Ada) -> None:
    room = "https://whereby.com/ada-office"
    booked = await ada.book(await ada.event_type({"type": "CUSTOM", "value": room}), at(10))

    assert booked.conference is not None and booked.conference.service == "WHEREBY" and join_url(booked) == room
    [event] = [e for e in ada.google_events() if e.get("summary") == "Intro with Grace"]
    assert event["location"] == room
    assert ada.zoom_meetings() == []


async def test_the_hosts_default_conferencing_decides_a_host_default_location(ada: Ada) -> None:
    from calmesh.services import conferencing

    await conferencing.set_default(
        ada.runtime, ada.tenant, conferencing.ConferencingDefaultSet.model_validate({"userId": ada.user, "service": "ZOOM"})
    )
    booked = await ada.book(await ada.event_type({"type": "HOST_DEFAULT"}), at(10))
    assert booked.conference is not None and booked.conference.service == "ZOOM"
    assert [m["join_url"] for m in ada.zoom_meetings()] == [join_url(booked)]

