"""The conferencing service on SQLite and PostgreSQL: custom providers (detection, hostile links,
tenant isolation), defaults per user and per calendar set by the user or an admin (seed 004's
rules: Zoom only for a user who connected it, Meet only with Google, Teams not yet), and their
resolution: the calendar's default > the user's > the calendar's own Meet > none."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from calmesh.domain.events import ConferenceData
from calmesh.errors import InvalidInput, InvalidState, NotFound
from calmesh.ids import new_id
from calmesh.services import conferencing
from calmesh.services.conferencing import (
    ConferencingChoice,
    ConferencingDefaultSet,
    CustomProviderCreate,
    CustomProviderUpdate,
    resolve_default,
    stable_link_conference,
)
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from tests.mirror_helpers import make_tenant, make_user

HOSTILE_LINKS = [
    "javascript:alert(document.cookie)",
    "JavaScript://zoom.us/%0aalert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://files.example.com/room",
    "/rooms/7",
    "//evil.example/room",
    "zoom.us/j/85012345678",
    "https://zoom.us@evil.example/j/85012345678",
    "https://evil.example\\@zoom.us/j/1",
    "https:///no-host",
    "https://zoom.us:port/j/1",
    "https://zoom.us/j/1 onclick=alert(1)",
    "https://zoom.us/j/1\u202e",
    "https://zoom.us/j/1\r\nX-Injected: yes",
    "https://example.com/" + "a" * 2100,
    "   ",
]


async def make_connection(
    runtime: Runtime, tenant_id: str, user_id: str | None, provider: str, *,
    status: str = "ACTIVE", calendar: str | None = "Work", account_email: str | None = None,
) -> tuple[str, str | None]:
    """A connection row of ``provider`` (and a calendar of it, unless ``calendar`` is None)."""
    async with UnitOfWork(runtime) as uow:
        connection = models.Connection(
            id=new_id("con"), tenant_id=tenant_id, user_id=user_id, provider=provider, status=status,
            account_email=account_email,
        )
        uow.session.add(connection)
        await uow.session.flush()
        calendar_id = None
        if calendar is not None:
            calendar_id = new_id("cal")
            uow.session.add(
                models.Calendar(
                    id=calendar_id, tenant_id=tenant_id, connection_id=connection.id,
                    provider_calendar_id=f"/{calendar}/", name=calendar, is_primary=True,
                )
            )
        await uow.commit()
        return connection.id, calendar_id


async def resolved(runtime: Runtime, tenant_id: str, user_id: str | None, calendar_id: str | None) -> ConferencingChoice:
    async with UnitOfWork(runtime) as uow:
        return await resolve_default(uow, tenant_id, user_id, calendar_id)


async def default_rows(runtime: Runtime, user_id: str) -> int:
    async with UnitOfWork(runtime) as uow:
        return int(
            await uow.session.scalar(
                select(func.count()).select_from(models.ConferencingDefault).where(models.ConferencingDefault.user_id == user_id)
            ) or 0
        )


# --- custom providers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "service"),
    [
        ("https://acme.zoom.us/j/85012345678?pwd=abc123", "ZOOM"),
        ("https://acme.webex.com/meet/ada.lovelace", "WEBEX"),
        ("https://whereby.com/ada-room", "WHEREBY"),
        ("https://meet.jit.si/AcmeSync", "JITSI"),
        ("https://around.co/r/ada", "AROUND"),
        ("https://meet.example.org/room/7", "CUSTOM"),
        ("http://video.intranet.example:8443/r/board", "CUSTOM"),
    ],
)
async def test_a_custom_provider_names_the_service_its_link_is(runtime: Runtime, url: str, service: str) -> None:
    tenant = await make_tenant(runtime)
    created = await conferencing.create_provider(runtime, tenant, CustomProviderCreate(name="  My room ", url=f" {url} "))
    assert (created.name, created.url, created.service, created.user_id) == ("My room", url, service, None)
    assert await conferencing.get_provider(runtime, tenant, created.id) == created


@pytest.mark.parametrize("url", HOSTILE_LINKS)
async def test_hostile_and_broken_links_are_refused(runtime: Runtime, url: str) -> None:
    tenant = await make_tenant(runtime)
    with pytest.raises(InvalidInput) as refused:
        await conferencing.create_provider(runtime, tenant, CustomProviderCreate(name="Room", url=url))
    assert refused.value.field == "url"
    fine = await conferencing.create_provider(runtime, tenant, CustomProviderCreate(name="Room", url="https://whereby.com/ada"))
    with pytest.raises(InvalidInput):
        await conferencing.update_provider(runtime, tenant, fine.id, CustomProviderUpdate(url=url))
    assert (await conferencing.get_provider(runtime, tenant, fine.id)).url == "https://whereby.com/ada"


async def test_providers_are_listed_per_user_with_the_tenant_wide_ones_and_paged(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    ada, grace = await make_user(runtime, tenant, "ada@example.com"), await make_user(runtime, tenant, "grace@example.com")
    shared = await conferencing.create_provider(runtime, tenant, CustomProviderCreate(name="Board room", url="https://whereby.com/board"))
    adas = await conferencing.create_provider(
        runtime, tenant, CustomProviderCreate(name="Ada's Webex", url="https://acme.webex.com/meet/ada", user_id=ada)
    )
    graces = await conferencing.create_provider(
        runtime, tenant, CustomProviderCreate(name="Grace's Jitsi", url="https://meet.jit.si/grace", user_id=grace)
    )

    everything = await conferencing.list_providers(runtime, tenant, limit=50, cursor=None)
    assert [p.id for p in everything.data] == [shared.id, adas.id, graces.id]
    for_ada = await conferencing.list_providers(runtime, tenant, user_id=ada, limit=50, cursor=None)
    assert [p.id for p in for_ada.data] == [shared.id, adas.id]

    first = await conferencing.list_providers(runtime, tenant, limit=2, cursor=None)
    assert first.next_cursor is not None
    rest = await conferencing.list_providers(runtime, tenant, limit=2, cursor=first.next_cursor)
    assert [p.id for p in first.data + rest.data] == [shared.id, adas.id, graces.id] and rest.next_cursor is None

    with pytest.raises(InvalidInput) as refused:
        await conferencing.create_provider(runtime, tenant, CustomProviderCreate(name="x", url="https://whereby.com/x", user_id="usr_nobody"))
    assert refused.value.field == "userId"


async def test_an_update_detects_the_new_link_and_a_delete_takes_its_defaults_along(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    ada = await make_user(runtime, tenant, "ada@example.com")
    room = await conferencing.create_provider(runtime, tenant, CustomProviderCreate(name="Room", url="https://meet.example.org/r/1"))
    assert room.service == "CUSTOM"
    moved = await conferencing.update_provider(runtime, tenant, room.id, CustomProviderUpdate(url="https://acme.webex.com/meet/ada"))
    assert (moved.name, moved.service, moved.service_name) == ("Room", "WEBEX", "Webex")
    renamed = await conferencing.update_provider(runtime, tenant, room.id, CustomProviderUpdate(name="Ada's Webex"))
    assert (renamed.name, renamed.url) == ("Ada's Webex", "https://acme.webex.com/meet/ada")
    with pytest.raises(InvalidInput):
        await conferencing.update_provider(runtime, tenant, room.id, CustomProviderUpdate.model_validate({"url": None}))

    await conferencing.set_default(
        runtime, tenant, ConferencingDefaultSet(user_id=ada, service="CUSTOM", custom_provider_id=room.id)
    )
    choice = await resolved(runtime, tenant, ada, None)
    assert choice == ConferencingChoice("CUSTOM", "user", room.id, "https://acme.webex.com/meet/ada", "WEBEX")
    assert stable_link_conference(choice) == ConferenceData("WEBEX", "https://acme.webex.com/meet/ada")

    await conferencing.delete_provider(runtime, tenant, room.id)
    assert await default_rows(runtime, ada) == 0
    assert await resolved(runtime, tenant, ada, None) == ConferencingChoice("NONE", "none")
    with pytest.raises(NotFound):
        await conferencing.get_provider(runtime, tenant, room.id)


async def test_another_tenants_providers_and_defaults_are_not_found(runtime: Runtime) -> None:
    mine, theirs = await make_tenant(runtime), await make_tenant(runtime)
    their_user = await make_user(runtime, theirs, "eve@example.com")
    my_user = await make_user(runtime, mine, "ada@example.com")
    their_room = await conferencing.create_provider(runtime, theirs, CustomProviderCreate(name="Eve", url="https://whereby.com/eve"))
    their_default = await conferencing.set_default(runtime, theirs, ConferencingDefaultSet(user_id=their_user, service="NONE"))

    for call in (
        conferencing.get_provider(runtime, mine, their_room.id),
        conferencing.update_provider(runtime, mine, their_room.id, CustomProviderUpdate(name="mine now")),
        conferencing.delete_provider(runtime, mine, their_room.id),
        conferencing.get_default(runtime, mine, their_default.id),
        conferencing.delete_default(runtime, mine, their_default.id),
    ):
        with pytest.raises(NotFound):
            await call
    assert (await conferencing.list_providers(runtime, mine, limit=50, cursor=None)).data == []
    assert (await conferencing.list_defaults(runtime, mine, limit=50, cursor=None)).data == []
    assert (await conferencing.list_defaults(runtime, mine, user_id=their_user, limit=50, cursor=None)).data == []

    # Their user, their provider and their calendar are no more usable than missing ones.
    _, their_calendar = await make_connection(runtime, theirs, their_user, "GOOGLE")
    for data, field in (
        (ConferencingDefaultSet(user_id=their_user, service="NONE"), "userId"),
        (ConferencingDefaultSet(user_id=my_user, service="NONE", set_by=their_user), "setBy"),
        (ConferencingDefaultSet(user_id=my_user, service="CUSTOM", custom_provider_id=their_room.id), "customProviderId"),
        (ConferencingDefaultSet(user_id=my_user, calendar_id=their_calendar, service="NONE"), "calendarId"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await conferencing.set_default(runtime, mine, data)
        assert refused.value.field == field
    with pytest.raises(NotFound):
        await resolved(runtime, mine, their_user, None)
    with pytest.raises(NotFound):
        await resolved(runtime, mine, None, their_calendar)
    assert (await conferencing.get_provider(runtime, theirs, their_room.id)).name == "Eve"


# --- defaults -------------------------------------------------------------------------------


async def test_the_calendars_default_wins_over_the_users_which_wins_over_googles_meet(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    ada = await make_user(runtime, tenant, "ada@example.com")
    _, google = await make_connection(runtime, tenant, ada, "GOOGLE", calendar="Work")
    _, caldav = await make_connection(runtime, tenant, ada, "CALDAV", calendar="Home")
    assert google is not None and caldav is not None
    room = await conferencing.create_provider(runtime, tenant, CustomProviderCreate(name="Whereby", url="https://whereby.com/ada", user_id=ada))

    # Nothing chosen: Google's own Meet on the Google calendar, nothing elsewhere.
    assert await resolved(runtime, tenant, ada, google) == ConferencingChoice("GOOGLE_MEET", "calendar-provider")
    assert await resolved(runtime, tenant, ada, caldav) == ConferencingChoice("NONE", "none")
    assert await resolved(runtime, tenant, ada, None) == ConferencingChoice("NONE", "none")

    # The user's default, everywhere.
    await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, service="CUSTOM", custom_provider_id=room.id))
    whereby = ConferencingChoice("CUSTOM", "user", room.id, "https://whereby.com/ada", "WHEREBY")
    assert await resolved(runtime, tenant, ada, google) == whereby
    assert await resolved(runtime, tenant, ada, caldav) == whereby
    assert await resolved(runtime, tenant, None, caldav) == whereby, "the user is the calendar's owner by default"

    # The Google calendar's own default wins over it; NONE is a choice too.
    await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, calendar_id=google, service="NONE"))
    assert await resolved(runtime, tenant, ada, google) == ConferencingChoice("NONE", "calendar")
    assert await resolved(runtime, tenant, ada, caldav) == whereby

    # A user-wide Meet applies where Google makes it, and is skipped elsewhere.
    await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, service="GOOGLE_MEET"))
    assert await resolved(runtime, tenant, ada, caldav) == ConferencingChoice("NONE", "none")
    assert await resolved(runtime, tenant, ada, None) == ConferencingChoice("GOOGLE_MEET", "user")

    answer = await conferencing.resolve(runtime, tenant, user_id=None, calendar_id=google)
    assert (answer.service, answer.source) == ("NONE", "calendar")
    with pytest.raises(InvalidInput):
        await conferencing.resolve(runtime, tenant, user_id=None, calendar_id=None)


async def test_an_admin_sets_another_users_default_and_setting_again_replaces_it(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    admin, ada = await make_user(runtime, tenant, "admin@example.com"), await make_user(runtime, tenant, "ada@example.com")
    await make_connection(runtime, tenant, ada, "GOOGLE")

    first = await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, service="GOOGLE_MEET", set_by=admin))
    assert (first.user_id, first.calendar_id, first.service, first.set_by) == (ada, None, "GOOGLE_MEET", admin)
    again = await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, service="NONE", set_by=ada))
    assert (again.id, again.service, again.set_by) == (first.id, "NONE", ada), "the same default, replaced"
    assert await conferencing.get_default(runtime, tenant, first.id) == again
    assert await default_rows(runtime, ada) == 1

    listed = await conferencing.list_defaults(runtime, tenant, user_id=ada, limit=50, cursor=None)
    assert listed.data == [again]
    await conferencing.delete_default(runtime, tenant, again.id)
    assert await default_rows(runtime, ada) == 0


async def test_concurrent_upserts_of_a_user_wide_default_leave_one_row(runtime: Runtime) -> None:
    # (user_id, NULL) rows are not unique to the database: the upsert itself must serialize.
    tenant = await make_tenant(runtime)
    ada = await make_user(runtime, tenant, "ada@example.com")
    services = ["NONE", "NONE", "NONE", "NONE", "NONE", "NONE"]
    await asyncio.gather(
        *(conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, service=s)) for s in services)  # type: ignore[arg-type]
    )
    assert await default_rows(runtime, ada) == 1


async def test_zoom_is_refused_for_a_user_who_has_not_connected_it_even_by_an_admin(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    admin, ada = await make_user(runtime, tenant, "admin@example.com"), await make_user(runtime, tenant, "ada@example.com")
    # An admin's own Zoom does not count for Ada, nor does Ada's expired one.
    await make_connection(runtime, tenant, admin, "ZOOM", calendar=None)
    await make_connection(runtime, tenant, ada, "ZOOM", calendar=None, status="TOKEN_EXPIRED")
    with pytest.raises(InvalidState) as refused:
        await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, service="ZOOM", set_by=admin))
    assert "ada@example.com" in refused.value.message and "connect their own Zoom" in refused.value.message
    assert await default_rows(runtime, ada) == 0

    await make_connection(runtime, tenant, ada, "ZOOM", calendar=None)
    chosen = await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, service="ZOOM", set_by=admin))
    assert (chosen.service, chosen.set_by) == ("ZOOM", admin)
    assert await resolved(runtime, tenant, ada, None) == ConferencingChoice("ZOOM", "user")


async def test_meet_needs_google_and_teams_is_refused_clearly(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    ada = await make_user(runtime, tenant, "ada@example.com")
    _, home = await make_connection(runtime, tenant, ada, "CALDAV", calendar="Home")
    with pytest.raises(InvalidState, match="no Google connection"):
        await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, service="GOOGLE_MEET"))
    with pytest.raises(InvalidState, match="made by Google calendars"):
        await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, calendar_id=home, service="GOOGLE_MEET"))
    for calendar_id in (None, home):
        with pytest.raises(InvalidState, match="Microsoft 365"):
            await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, calendar_id=calendar_id, service="TEAMS"))

    _, work = await make_connection(runtime, tenant, ada, "GOOGLE", calendar="Work")
    await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, calendar_id=work, service="GOOGLE_MEET"))
    await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, service="GOOGLE_MEET"))
    assert await default_rows(runtime, ada) == 2


async def test_a_calendar_default_needs_a_calendar_of_that_user_and_a_provider_they_may_use(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    ada, grace = await make_user(runtime, tenant, "ada@example.com"), await make_user(runtime, tenant, "grace@example.com")
    _, graces_calendar = await make_connection(runtime, tenant, grace, "CALDAV")
    _, nobodys_calendar = await make_connection(runtime, tenant, None, "CALDAV")
    for calendar_id in (graces_calendar, nobodys_calendar, "cal_missing"):
        with pytest.raises(InvalidInput) as refused:
            await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, calendar_id=calendar_id, service="NONE"))
        assert refused.value.field == "calendarId"
    graces_room = await conferencing.create_provider(
        runtime, tenant, CustomProviderCreate(name="Grace", url="https://whereby.com/grace", user_id=grace)
    )
    with pytest.raises(InvalidInput) as refused:
        await conferencing.set_default(
            runtime, tenant, ConferencingDefaultSet(user_id=ada, service="CUSTOM", custom_provider_id=graces_room.id)
        )
    assert refused.value.field == "customProviderId"
    with pytest.raises(ValueError, match="customProviderId"):
        ConferencingDefaultSet(user_id=ada, service="CUSTOM")
    with pytest.raises(ValueError, match="CUSTOM only"):
        ConferencingDefaultSet(user_id=ada, service="NONE", custom_provider_id=graces_room.id)


async def test_apply_to_all_calendars_removes_the_users_calendar_defaults(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    ada, grace = await make_user(runtime, tenant, "ada@example.com"), await make_user(runtime, tenant, "grace@example.com")
    await make_connection(runtime, tenant, ada, "ZOOM", calendar=None)
    _, work = await make_connection(runtime, tenant, ada, "GOOGLE", calendar="Work")
    _, home = await make_connection(runtime, tenant, ada, "CALDAV", calendar="Home")
    _, graces = await make_connection(runtime, tenant, grace, "GOOGLE", calendar="Grace")
    assert work and home and graces
    await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, calendar_id=work, service="GOOGLE_MEET"))
    await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, calendar_id=home, service="NONE"))
    await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=grace, calendar_id=graces, service="NONE"))

    # Without it, the calendars keep their own.
    await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, service="ZOOM"))
    assert (await resolved(runtime, tenant, ada, work)).service == "GOOGLE_MEET"
    assert await default_rows(runtime, ada) == 3

    await conferencing.set_default(runtime, tenant, ConferencingDefaultSet(user_id=ada, service="ZOOM", apply_to_all_calendars=True))
    assert await default_rows(runtime, ada) == 1
    for calendar_id in (work, home):
        assert await resolved(runtime, tenant, ada, calendar_id) == ConferencingChoice("ZOOM", "user")
    assert await default_rows(runtime, grace) == 1, "another user's calendars are left alone"
    with pytest.raises(ValueError, match="user-wide"):
        ConferencingDefaultSet(user_id=ada, calendar_id=work, service="NONE", apply_to_all_calendars=True)


def test_only_a_custom_choice_has_a_stable_link() -> None:
    zoom_pmi = ConferencingChoice("CUSTOM", "user", "cnfp_x", "https://acme.zoom.us/j/85012345678?pwd=abc123", "ZOOM")
    assert stable_link_conference(zoom_pmi) == ConferenceData(
        "ZOOM", "https://acme.zoom.us/j/85012345678?pwd=abc123", meeting_id="85012345678", passcode="abc123"
    )
    with pytest.raises(ValueError):
        stable_link_conference(ConferencingChoice("ZOOM", "user"))
