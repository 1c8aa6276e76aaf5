"""Conferencing on new events (PRODUCT.md M1, M2, M6), on SQLite and PostgreSQL, against the
Google and Zoom emulators served on loopback.

An event with at least one participant other than the calendar's account gets the resolved
default (Google's own Meet when nothing was chosen); ``NONE`` opts out. A Zoom meeting is made
with the calendar owner's Zoom before the event is stored — its link reaching Google's copy in
the location and description, and read back by detection — and a Zoom that fails, or a store
that fails afterwards, leaves neither an event nor a meeting. A Meet of a second Google account
opens with that account.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from calmesh.errors import InvalidInput, InvalidState, MeetingQuotaExhausted, ProviderError
from calmesh.services import conferencing, events, mirror
from calmesh.services.conferencing import ConferencingDefaultSet, CustomProviderCreate
from calmesh.services.events import EventCreate, EventRead
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.sync import sync_connection
from calmesh.services.tenants import create_tenant
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.migrate import upgrade
from tests.api.test_problems_and_conventions import assert_problem
from tests.conftest import make_settings, start_server
from tests.google_sandbox import ADA, ServedGoogleSandbox
from tests.mirror_helpers import make_calendar, make_tenant, make_user
from tests.services.remote_sides import connect_google, google_settings
from tests.zoom_connect import connect_zoom, zoom_settings
from tests.zoom_sandbox import ServedZoomSandbox

UTC = timezone.utc
GRACE = "grace@example.com"
START = datetime(2030, 4, 2, 9, 0, tzinfo=UTC)


def settings_for(google_sandbox: ServedGoogleSandbox, zoom_sandbox: ServedZoomSandbox) -> dict[str, object]:
    return {**google_settings(google_sandbox.sandbox, google_sandbox.url), **zoom_settings(zoom_sandbox)}


@pytest.fixture
async def runtime(
    google_sandbox: ServedGoogleSandbox, zoom_sandbox: ServedZoomSandbox, database_url: str, tmp_path: Path
) -> AsyncIterator[Runtime]:
    rt = build_runtime(make_settings(database_url, tmp_path, **settings_for(google_sandbox, zoom_sandbox)))
    await upgrade(rt.engine)
    yield rt
    await rt.close()


@dataclass
class Person:
    """A calmesh user with their Google account connected: its primary calendar in calmesh."""

    tenant: str
    user: str
    connection: str
    calendar: str
    email: str


async def google_person(runtime: Runtime, tenant: str | None = None, email: str = ADA) -> Person:
    tenant = tenant or await make_tenant(runtime)
    user = await make_user(runtime, tenant, email)
    connection = await connect_google(runtime, tenant, email)
    async with UnitOfWork(runtime) as uow:
        await uow.session.execute(update(models.Connection).where(models.Connection.id == connection).values(user_id=user))
        calendar = await uow.session.scalar(
            select(models.Calendar.id).where(models.Calendar.connection_id == connection, models.Calendar.provider_calendar_id == email)
        )
        await uow.commit()
    assert calendar is not None
    return Person(tenant, user, connection, calendar, email)


def new_event(person: Person, *attendees: str, **more: Any) -> EventCreate:
    return EventCreate.model_validate(
        {
            "calendarId": person.calendar,
            "title": more.pop("title", "Design review"),
            "start": {"dateTime": START.isoformat()},
            "end": {"dateTime": (START + timedelta(minutes=45)).isoformat()},
            "attendees": [{"email": a} for a in attendees],
            **more,
        }
    )


def at_google(google_sandbox: ServedGoogleSandbox, calendar: str = ADA) -> list[dict[str, Any]]:
    return google_sandbox.sandbox.events(calendar)


async def count(runtime: Runtime, model: Any, **where: Any) -> int:
    async with UnitOfWork(runtime) as uow:
        statement = select(func.count()).select_from(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return int(await uow.session.scalar(statement) or 0)


async def meeting_rows(runtime: Runtime) -> list[tuple[str, str, datetime | None]]:
    """(Zoom's meeting id, join URL, deleted at) of every stored meeting."""
    async with UnitOfWork(runtime) as uow:
        rows = await uow.session.execute(
            select(models.Meeting.provider_meeting_id, models.Meeting.join_url, models.Meeting.deleted_at).order_by(models.Meeting.id)
        )
        return [(meeting_id, join_url, deleted_at) for meeting_id, join_url, deleted_at in rows]


# --- defaults applied to new events ---------------------------------------------------------


async def test_conferencing_is_added_only_to_events_with_another_participant(
    runtime: Runtime, google_sandbox: ServedGoogleSandbox
) -> None:
    ada = await google_person(runtime)

    alone = await events.create_event(runtime, ada.tenant, new_event(ada, title="Focus time"))
    with_myself = await events.create_event(runtime, ada.tenant, new_event(ada, "Ada@Example.com", title="Note to self"))
    assert (alone.conference, with_myself.conference) == (None, None)

    # Nothing chosen: the Google calendar's own Meet.
    meeting = await events.create_event(runtime, ada.tenant, new_event(ada, ADA, GRACE, title="1:1"))
    assert meeting.sync_state == "SYNCED", meeting.sync_error
    assert meeting.conference is not None and meeting.conference.service == "GOOGLE_MEET"
    assert meeting.conference.join_url and meeting.conference.join_url.startswith("https://meet.google.com/")
    assert meeting.conference.join_url.endswith("authuser=ada@example.com")

    opted_out = await events.create_event(runtime, ada.tenant, new_event(ada, GRACE, title="Lunch", conference={"service": "NONE"}))
    assert opted_out.conference is None

    by_title = {e["summary"]: e for e in at_google(google_sandbox)}
    assert [t for t, e in by_title.items() if e.get("hangoutLink")] == ["1:1"]
    assert by_title["Lunch"].get("conferenceData") is None and by_title["Focus time"].get("location") is None

    # The user's NONE default: no Meet either.
    await conferencing.set_default(runtime, ada.tenant, ConferencingDefaultSet(user_id=ada.user, service="NONE"))
    quiet = await events.create_event(runtime, ada.tenant, new_event(ada, GRACE, title="Walk"))
    assert quiet.conference is None


async def test_a_zoom_event_carries_its_link_to_google_and_reads_back_as_zoom(
    runtime: Runtime, google_sandbox: ServedGoogleSandbox, zoom_sandbox: ServedZoomSandbox
) -> None:
    ada = await google_person(runtime)
    with pytest.raises(InvalidState, match="connect their own Zoom"):
        await conferencing.set_default(runtime, ada.tenant, ConferencingDefaultSet(user_id=ada.user, service="ZOOM"))
    await connect_zoom(runtime, ada.tenant, ada.user)
    await conferencing.set_default(runtime, ada.tenant, ConferencingDefaultSet(user_id=ada.user, service="ZOOM"))

    created = await events.create_event(runtime, ada.tenant, new_event(ada, GRACE, description="Agenda: the budget"))
    assert created.sync_state == "SYNCED", created.sync_error

    [zoom] = zoom_sandbox.sandbox.meetings(ADA)
    assert zoom["topic"] == "Design review" and zoom["duration"] == 45
    join_url, meeting_id, passcode = zoom["join_url"], str(zoom["id"]), zoom.get("password")
    assert passcode, "a one-time passcode (PRODUCT.md M3)"
    assert await meeting_rows(runtime) == [(meeting_id, join_url, None)]

    assert created.conference is not None
    assert (created.conference.service, created.conference.join_url, created.conference.meeting_id, created.conference.passcode) == (
        "ZOOM", join_url, meeting_id, passcode,
    )
    assert created.location == join_url
    assert created.description is not None and created.description.startswith("Agenda: the budget\n\nJoin Zoom meeting: ")

    # Google's copy carries the link where Google keeps it: location and description; no Meet.
    [stored] = at_google(google_sandbox)
    assert stored["location"] == join_url
    assert f"Join Zoom meeting: {join_url}" in stored["description"] and f"Meeting ID: {meeting_id}" in stored["description"]
    assert not stored.get("hangoutLink") and not stored.get("conferenceData")

    # /v1/events shows it, and still does once the sync has read Google's copy back.
    listed = await events.list_events(runtime, ada.tenant, calendar_id=ada.calendar, limit=50, cursor=None)
    assert [e.conference for e in listed.data] == [created.conference]
    await sync_connection(runtime, ada.connection)
    again = await events.get_event(runtime, ada.tenant, created.id)
    assert again.conference is not None
    assert (again.conference.service, again.conference.join_url, again.conference.meeting_id, again.conference.passcode) == (
        "ZOOM", join_url, meeting_id, passcode,
    )

    # An explicit choice wins over the default; NONE opts out of Zoom too.
    assert (await events.create_event(runtime, ada.tenant, new_event(ada, GRACE, conference={"service": "NONE"}))).conference is None
    assert len(zoom_sandbox.sandbox.meetings(ADA)) == 1


async def test_zoom_without_a_zoom_connection_is_an_explicit_error(runtime: Runtime, google_sandbox: ServedGoogleSandbox) -> None:
    ada = await google_person(runtime)
    with pytest.raises(InvalidState, match="no active Zoom connection"):
        await events.create_event(runtime, ada.tenant, new_event(ada, GRACE, conference={"service": "ZOOM"}))

    # A Zoom default whose connection has since stopped working is no reason to fall back to Meet.
    zoom = await connect_zoom(runtime, ada.tenant, ada.user)
    await conferencing.set_default(runtime, ada.tenant, ConferencingDefaultSet(user_id=ada.user, service="ZOOM"))
    async with UnitOfWork(runtime) as uow:
        await uow.session.execute(update(models.Connection).where(models.Connection.id == zoom).values(status="TOKEN_EXPIRED"))
        await uow.commit()
    with pytest.raises(InvalidState, match=r"default conferencing \(user\) is Zoom"):
        await events.create_event(runtime, ada.tenant, new_event(ada, GRACE))
    assert await count(runtime, models.Event) == 0 and at_google(google_sandbox) == []


async def test_a_zoom_failure_leaves_no_event_and_no_meeting(
    runtime: Runtime, google_sandbox: ServedGoogleSandbox, zoom_sandbox: ServedZoomSandbox
) -> None:
    ada = await google_person(runtime)
    await connect_zoom(runtime, ada.tenant, ada.user)
    zoom_sandbox.sandbox.inject(500, times=20, path=r"/v2/users/.*/meetings", method="POST")
    with pytest.raises(ProviderError):
        await events.create_event(runtime, ada.tenant, new_event(ada, GRACE, conference={"service": "ZOOM"}))
    assert await count(runtime, models.Event) == 0
    assert await meeting_rows(runtime) == []
    assert zoom_sandbox.sandbox.meetings(ADA) == [] and at_google(google_sandbox) == []


async def test_a_used_up_daily_allowance_is_a_quota_error_before_zoom_is_asked(
    runtime: Runtime, google_sandbox: ServedGoogleSandbox, zoom_sandbox: ServedZoomSandbox
) -> None:
    ada = await google_person(runtime)
    zoom = await connect_zoom(runtime, ada.tenant, ada.user)
    today = datetime.now(UTC).date()
    async with UnitOfWork(runtime) as uow:
        uow.session.add(models.MeetingQuota(connection_id=zoom, day=today.isoformat(), used=runtime.settings.zoom_daily_meeting_requests))
        await uow.commit()
    asked = len(zoom_sandbox.sandbox.requests)
    with pytest.raises(MeetingQuotaExhausted) as refused:
        await events.create_event(runtime, ada.tenant, new_event(ada, GRACE, conference={"service": "ZOOM"}))
    assert refused.value.resets_at == datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    assert len(zoom_sandbox.sandbox.requests) == asked
    assert await count(runtime, models.Event) == 0 and await meeting_rows(runtime) == []


async def test_a_store_that_fails_after_the_meeting_was_made_cancels_it(
    runtime: Runtime, google_sandbox: ServedGoogleSandbox, zoom_sandbox: ServedZoomSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await google_person(runtime)
    await connect_zoom(runtime, ada.tenant, ada.user)

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(mirror, "replace_series", broken)
    with pytest.raises(RuntimeError, match="disk is full"):
        await events.create_event(runtime, ada.tenant, new_event(ada, GRACE, conference={"service": "ZOOM"}))
    [(_, _, deleted_at)] = await meeting_rows(runtime)
    assert deleted_at is not None, "the meeting made for the event is cancelled"
    assert zoom_sandbox.sandbox.meetings(ADA) == []
    assert await count(runtime, models.Event) == 0


# --- stable links ---------------------------------------------------------------------------


async def test_custom_links_reach_google_and_read_back_as_their_service(runtime: Runtime, google_sandbox: ServedGoogleSandbox) -> None:
    ada = await google_person(runtime)
    webex = "https://acme.webex.com/meet/ada"
    explicit = await events.create_event(
        runtime, ada.tenant, new_event(ada, GRACE, title="Webex", location="Room 4", conference={"service": "CUSTOM", "url": webex})
    )
    assert explicit.conference is not None
    assert (explicit.conference.service, explicit.conference.join_url) == ("WEBEX", webex)
    assert explicit.location == "Room 4", "a location the event has is kept"
    stored = {e["summary"]: e for e in at_google(google_sandbox)}["Webex"]
    assert stored["location"] == "Room 4" and f"Join Webex meeting: {webex}" in stored["description"]

    room = await conferencing.create_provider(
        runtime, ada.tenant, CustomProviderCreate(name="Lobby", url="https://video.example.org/lobby", user_id=ada.user)
    )
    by_id = await events.create_event(
        runtime, ada.tenant, new_event(ada, title="Lobby", conference={"service": "CUSTOM", "customProviderId": room.id})
    )
    assert by_id.conference is not None
    assert (by_id.conference.service, by_id.conference.join_url, by_id.conference.source) == (
        "CUSTOM", "https://video.example.org/lobby", "conference",
    )
    assert by_id.location == "https://video.example.org/lobby"
    assert by_id.description == "Join the meeting: https://video.example.org/lobby"

    # A default that is a stable link is added like any other.
    whereby = await conferencing.create_provider(runtime, ada.tenant, CustomProviderCreate(name="Whereby", url="https://whereby.com/ada"))
    await conferencing.set_default(
        runtime, ada.tenant, ConferencingDefaultSet(user_id=ada.user, calendar_id=ada.calendar, service="CUSTOM", custom_provider_id=whereby.id)
    )
    auto = await events.create_event(runtime, ada.tenant, new_event(ada, GRACE, title="Auto"))
    assert auto.conference is not None and (auto.conference.service, auto.conference.join_url) == ("WHEREBY", "https://whereby.com/ada")


async def test_conference_choices_that_cannot_be_used_are_refused(runtime: Runtime, google_sandbox: ServedGoogleSandbox) -> None:
    ada = await google_person(runtime)
    grace = await make_user(runtime, ada.tenant, GRACE)
    graces = await conferencing.create_provider(
        runtime, ada.tenant, CustomProviderCreate(name="Grace", url="https://whereby.com/grace", user_id=grace)
    )
    for conference, field in (
        ({"service": "CUSTOM", "customProviderId": graces.id}, "conference.customProviderId"),
        ({"service": "CUSTOM", "url": "javascript:alert(1)"}, "conference.url"),
        ({"service": "CUSTOM", "url": "https://zoom.us@evil.example/j/1"}, "conference.url"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await events.create_event(runtime, ada.tenant, new_event(ada, GRACE, conference=conference))
        assert refused.value.field == field
    for conference in ({"service": "CUSTOM"}, {"service": "ZOOM", "url": "https://zoom.us/j/1"}, {"service": "TEAMS"}):
        with pytest.raises(ValueError):
            new_event(ada, GRACE, conference=conference)

    home = await make_calendar(runtime, ada.tenant, ada.user, name="Home")
    with pytest.raises(InvalidInput, match="Meet links are made by Google calendars"):
        await events.create_event(
            runtime, ada.tenant,
            EventCreate.model_validate(
                {"calendarId": home, "title": "x", "start": {"dateTime": START.isoformat()},
                 "end": {"dateTime": (START + timedelta(hours=1)).isoformat()}, "conference": {"service": "GOOGLE_MEET"}}
            ),
        )
    assert await count(runtime, models.Event) == 0 and at_google(google_sandbox) == []


# --- Meet with several Google accounts ------------------------------------------------------


def meet_url(read: EventRead) -> str:
    assert read.conference is not None and read.conference.service == "GOOGLE_MEET" and read.conference.join_url
    return read.conference.join_url


async def test_a_meet_of_a_second_google_account_opens_with_that_account(
    runtime: Runtime, google_sandbox: ServedGoogleSandbox
) -> None:
    google_sandbox.sandbox.add_user(GRACE, "Grace Hopper")
    ada = await google_person(runtime)
    grace = await google_person(runtime, ada.tenant, GRACE)

    adas = await events.create_event(runtime, ada.tenant, new_event(ada, conference={"service": "GOOGLE_MEET"}))
    graces = await events.create_event(
        runtime, ada.tenant, new_event(grace, ADA, title="Standup", recurrence=["RRULE:FREQ=DAILY;COUNT=3"])
    )
    assert meet_url(adas).endswith("?authuser=ada@example.com")
    assert meet_url(graces).endswith("?authuser=grace@example.com")

    listed = {e.id: meet_url(e) for e in (await events.list_events(runtime, ada.tenant, limit=50, cursor=None)).data}
    assert listed == {adas.id: meet_url(adas), graces.id: meet_url(graces)}
    expanded = await events.list_events(
        runtime, ada.tenant, calendar_id=grace.calendar, start="2030-04-01", end="2030-04-10", expand=True, limit=50, cursor=None
    )
    assert len(expanded.data) == 3 and {meet_url(e) for e in expanded.data} == {meet_url(graces)}
    instance = await events.get_event(runtime, ada.tenant, expanded.data[1].id)
    assert meet_url(instance) == meet_url(graces)


# --- over HTTP ------------------------------------------------------------------------------


async def test_the_quota_error_reaches_the_api_as_a_429_with_resets_at(
    google_sandbox: ServedGoogleSandbox, zoom_sandbox: ServedZoomSandbox, sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_url, tmp_path, **settings_for(google_sandbox, zoom_sandbox))
    running, thread = start_server(settings)
    runtime = build_runtime(settings)
    try:
        created = await create_tenant(runtime, "acme")
        ada = await google_person(runtime, created.tenant.id)
        zoom = await connect_zoom(runtime, ada.tenant, ada.user)
        async with UnitOfWork(runtime) as uow:
            uow.session.add(
                models.MeetingQuota(connection_id=zoom, day=datetime.now(UTC).date().isoformat(), used=settings.zoom_daily_meeting_requests)
            )
            await uow.commit()
        body = new_event(ada, GRACE, conference={"service": "ZOOM"}).model_dump(mode="json", by_alias=True, exclude_unset=True)
        async with running.client(created.api_key.key) as api:
            response = await api.post("/v1/events", json=body)
            problem = assert_problem(response, 429, "/problems/meeting-quota-exhausted")
            assert datetime.fromisoformat(str(problem["resetsAt"])).time() == datetime.min.time()
            assert int(response.headers["retry-after"]) >= 1
            assert (await api.get("/v1/events")).json()["data"] == []
    finally:
        await runtime.close()
        running.server.should_exit = True
        thread.join(timeout=10)
