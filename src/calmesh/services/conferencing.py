"""Conferencing choices (PRODUCT.md M1, M2): custom providers, defaults, and which one applies.

Custom providers
----------------
A custom provider is a named, stable meeting link (a Webex personal room, a Whereby room, a
self-hosted Jitsi): ``name`` and ``url``, and the tenant's (``userId`` null, offered to every
user) or one user's own. Its ``service`` is what :func:`calmesh.conferencing.service_for_url`
recognises in the URL (``ZOOM``, ``WEBEX``, ``WHEREBY``…), ``CUSTOM`` when nothing. Only absolute
``http``/``https`` URLs with a host are taken (:func:`checked_link`): a link ends up in other
people's calendars, so ``javascript:``, ``data:``, relative, credential-carrying (``https://zoom.us@evil.example``)
and over-long URLs are refused with a 422. calmesh never fetches the link, so a host on a
private network (an intranet Jitsi) is allowed.

Defaults
--------
A default is per user (``calendarId`` null: all their calendars) or per calendar of that user;
:func:`set_default` upserts it. ``service``: ``GOOGLE_MEET``, ``TEAMS``, ``ZOOM``, ``CUSTOM``
(with ``customProviderId``, one visible to that user) or ``NONE`` (add no conferencing — an
explicit choice that stops the calendar's own Meet). ``setBy`` records who chose it (an admin
choosing for another user, seed 004). The rules of seed 004 and PRODUCT.md M1:

* ``ZOOM`` only for a user with an ACTIVE Zoom connection: "each user has to log into their
  account" — an admin cannot pick Zoom for someone who has not connected it (409);
* ``GOOGLE_MEET`` only for a Google calendar, or (user-wide) a user with a Google connection
  (409): Meet links are made by Google Calendar;
* ``TEAMS`` only for a Microsoft 365 calendar, which calmesh cannot connect yet (409);
* ``applyToAllCalendars`` on a user-wide default removes the user's per-calendar ones (seed
  004: "should existing meeting locations across all other calendars be defaulted to Zoom").

Resolution
----------
:func:`resolve_default` is what new events (:mod:`calmesh.services.events`) and bookings use:
the calendar's own default, else the user's, else the calendar's provider (Google → Meet,
Microsoft → Teams), else none. A user-wide Meet or Teams default is skipped for a calendar
whose provider cannot make that link (it then falls through to the calendar's own kind).
:func:`stable_link_conference` turns a ``CUSTOM`` choice into the event's conference.

Every query is filtered by tenant: another tenant's provider or default is a 404 exactly like a
missing one.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from sqlalchemy import ColumnElement, delete, or_, select, update

from calmesh.conferencing import CUSTOM, SERVICE_NAMES, identify_join_link, service_for_url
from calmesh.domain.events import ConferenceData
from calmesh.errors import InvalidInput, InvalidState
from calmesh.ids import new_id
from calmesh.schemas import ApiModel, Page
from calmesh.services.meetings import conferencing_connection
from calmesh.services.pagination import paginate
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models

__all__ = [
    "MAX_LINK_LENGTH",
    "ConferencingChoice",
    "ConferencingChoiceRead",
    "ConferencingDefaultRead",
    "ConferencingDefaultSet",
    "CustomProviderCreate",
    "CustomProviderRead",
    "CustomProviderUpdate",
    "DefaultService",
    "checked_link",
    "create_provider",
    "custom_provider_choice",
    "delete_default",
    "delete_provider",
    "get_default",
    "get_provider",
    "link_conference",
    "list_defaults",
    "list_providers",
    "resolve",
    "resolve_default",
    "set_default",
    "stable_link_conference",
    "update_provider",
]

#: The longest link taken (browsers and calendar clients handle far more; links are not essays).
MAX_LINK_LENGTH = 2048

DefaultService = Literal["GOOGLE_MEET", "TEAMS", "ZOOM", "CUSTOM", "NONE"]
ChoiceSource = Literal["calendar", "user", "calendar-provider", "none"]

#: The conferencing a calendar provider makes itself for its events (PRODUCT.md M1 "default").
_MADE_BY_CALENDAR = {"GOOGLE": "GOOGLE_MEET", "MICROSOFT": "TEAMS"}
#: Which calendar providers make each such service.
_MAKERS = {"GOOGLE_MEET": frozenset({"GOOGLE"}), "TEAMS": frozenset({"MICROSOFT"})}
#: Unicode categories a link may not contain: controls, format characters and separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


# --- shapes ---------------------------------------------------------------------------------

_Name = Annotated[str, Field(min_length=1, max_length=200)]
# The model's bound only caps the body; checked_link says what is wrong with a URL.
_Url = Annotated[str, Field(max_length=MAX_LINK_LENGTH * 4)]


class CustomProviderCreate(ApiModel):
    """A named stable link; ``userId`` makes it that user's own, else every user's."""

    name: _Name
    url: _Url = Field(description="An absolute http(s) link, e.g. https://acme.webex.com/meet/ada.")
    user_id: str | None = None


class CustomProviderUpdate(ApiModel):
    """Fields not sent stay as they are; a new ``url`` is detected again."""

    name: _Name | None = None
    url: _Url | None = None


class CustomProviderRead(ApiModel):
    id: str
    name: str
    url: str
    service: str = Field(description="What the URL is: ZOOM, WEBEX, WHEREBY… or CUSTOM when not recognised.")
    service_name: str = Field(description='For people: "Webex", "Custom link"…')
    user_id: str | None = Field(description="The user it belongs to; null: offered to every user of the tenant.")
    created_at: datetime


class ConferencingDefaultSet(ApiModel):
    """``PUT /v1/conferencing/defaults``: the default of a user, or of one of their calendars."""

    user_id: str
    calendar_id: str | None = Field(default=None, description="One of the user's calendars; null: all of them.")
    service: DefaultService
    custom_provider_id: str | None = Field(default=None, description="With CUSTOM: a provider of this user or of the tenant.")
    set_by: str | None = Field(default=None, description="The user choosing it (e.g. an admin choosing for userId).")
    apply_to_all_calendars: bool = Field(
        default=False, description="User-wide defaults only: remove the user's per-calendar defaults, so this one applies everywhere."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ConferencingDefaultSet:
        if self.service == "CUSTOM" and not self.custom_provider_id:
            raise ValueError("CUSTOM needs customProviderId")
        if self.service != "CUSTOM" and self.custom_provider_id:
            raise ValueError("customProviderId goes with service CUSTOM only")
        if self.apply_to_all_calendars and self.calendar_id:
            raise ValueError("applyToAllCalendars is for a user-wide default (no calendarId)")
        return self


class ConferencingDefaultRead(ApiModel):
    id: str
    user_id: str
    calendar_id: str | None
    service: str
    custom_provider_id: str | None
    set_by: str | None
    updated_at: datetime


class ConferencingChoiceRead(ApiModel):
    """The conferencing a new event of this user (in this calendar) gets, and what decided it."""

    service: str = Field(description="GOOGLE_MEET, TEAMS, ZOOM, CUSTOM or NONE.")
    source: str = Field(
        description="calendar: the calendar's default; user: the user's; calendar-provider: the calendar's own kind (Meet for Google); none."
    )
    custom_provider_id: str | None
    url: str | None = Field(description="CUSTOM: the stable link.")
    detected_service: str | None = Field(description="CUSTOM: what the link is (ZOOM, WEBEX…, or CUSTOM).")


@dataclass(frozen=True, slots=True)
class ConferencingChoice:
    """The conferencing that applies to a new event or booking (see :func:`resolve_default`)."""

    #: ``GOOGLE_MEET``, ``TEAMS``, ``ZOOM``, ``CUSTOM`` or ``NONE``.
    service: str
    #: What decided it: ``calendar``, ``user``, ``calendar-provider`` or ``none``.
    source: str
    custom_provider_id: str | None = None
    #: CUSTOM: the stable link.
    url: str | None = None
    #: CUSTOM: what the link is (``ZOOM``, ``WEBEX``…, or ``CUSTOM``).
    detected_service: str | None = None


# --- links ----------------------------------------------------------------------------------


def checked_link(url: str, field: str = "url") -> str:
    """``url`` stripped, if it is an absolute http(s) link with a host; else InvalidInput."""
    url = url.strip()
    if not url:
        raise InvalidInput("the link is empty", field=field)
    if len(url) > MAX_LINK_LENGTH:
        raise InvalidInput(f"the link is longer than {MAX_LINK_LENGTH} characters", field=field)
    if any(unicodedata.category(ch) in _INVISIBLE for ch in url):
        # Spaces end a link in most clients; control and format characters (bidi overrides,
        # zero-width joiners) make a link read as another.
        raise InvalidInput("the link contains spaces, control or invisible characters", field=field)
    try:
        split = urlsplit(url)
        host = split.hostname
        split.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise InvalidInput("the link is not a valid URL", field=field) from None
    if split.scheme.lower() not in ("http", "https"):
        # javascript:, data:, file:, mailto:… and relative links: a join link opens a web page.
        raise InvalidInput("the link must be an absolute http:// or https:// URL", field=field)
    if not host or not split.netloc:
        raise InvalidInput("the link must name a host", field=field)
    if "@" in split.netloc:
        # https://zoom.us@evil.example/ shows one host and opens another.
        raise InvalidInput("the link must not carry a user name or password", field=field)
    return url


def _name(name: str) -> str:
    if not name.strip():
        raise InvalidInput("the name is empty", field="name")
    return name.strip()


def _detected(url: str) -> str:
    return service_for_url(url) or CUSTOM


def link_conference(url: str, service: str | None = None) -> ConferenceData:
    """The conference of a stable link: its detected service (or ``service``), the link, and
    the meeting id and passcode the link itself carries (a Zoom PMI link's ``/j/<id>?pwd=``)."""
    found = identify_join_link(url)
    return ConferenceData(
        service=service or _detected(url),
        join_url=url,
        meeting_id=found.meeting_id if found else None,
        passcode=found.passcode if found else None,
    )


def stable_link_conference(choice: ConferencingChoice) -> ConferenceData:
    """A ``CUSTOM`` choice as the event's conference: the link, named by what it is."""
    if choice.service != CUSTOM or choice.url is None:
        raise ValueError(f"only a CUSTOM choice with a link has a stable conference, not {choice.service}")
    return link_conference(choice.url, choice.detected_service)


# --- reading rows ---------------------------------------------------------------------------


def _provider_read(row: models.CustomConferencingProvider) -> CustomProviderRead:
    return CustomProviderRead(
        id=row.id, name=row.name, url=row.url, service=row.service,
        service_name=SERVICE_NAMES.get(row.service, row.service), user_id=row.user_id, created_at=row.created_at,
    )


def _default_read(row: models.ConferencingDefault) -> ConferencingDefaultRead:
    return ConferencingDefaultRead.model_validate(row)


async def _user_of_tenant(uow: UnitOfWork, tenant_id: str, user_id: str, field: str) -> models.User:
    """A user named in a body: another tenant's is no user here (422, like event types' hosts)."""
    user = await uow.session.get(models.User, user_id)
    if user is None or user.tenant_id != tenant_id:
        raise InvalidInput(f"no such user: {user_id}", field=field)
    return user


# --- custom providers -----------------------------------------------------------------------


async def create_provider(runtime: Runtime, tenant_id: str, data: CustomProviderCreate) -> CustomProviderRead:
    url = checked_link(data.url)
    async with UnitOfWork(runtime) as uow:
        if data.user_id is not None:
            await _user_of_tenant(uow, tenant_id, data.user_id, "userId")
        row = models.CustomConferencingProvider(
            id=new_id("cnfp"), tenant_id=tenant_id, user_id=data.user_id, name=_name(data.name),
            url=url, service=_detected(url),
        )
        uow.session.add(row)
        await uow.commit()
        return _provider_read(row)


async def list_providers(
    runtime: Runtime, tenant_id: str, *, user_id: str | None = None, limit: int, cursor: str | None
) -> Page[CustomProviderRead]:
    """The tenant's providers; with ``user_id``, those offered to that user (theirs and the tenant-wide ones)."""
    provider = models.CustomConferencingProvider
    statement = select(provider).where(provider.tenant_id == tenant_id)
    if user_id is not None:
        statement = statement.where(or_(provider.user_id == user_id, provider.user_id.is_(None)))
    async with UnitOfWork(runtime) as uow:
        return await paginate(uow.session, statement, provider.id, _provider_read, limit=limit, cursor=cursor)


async def _owned_provider(uow: UnitOfWork, tenant_id: str, provider_id: str) -> models.CustomConferencingProvider:
    return await uow.owned(models.CustomConferencingProvider, provider_id, tenant_id, "no such conferencing provider")


async def get_provider(runtime: Runtime, tenant_id: str, provider_id: str) -> CustomProviderRead:
    async with UnitOfWork(runtime) as uow:
        return _provider_read(await _owned_provider(uow, tenant_id, provider_id))


async def update_provider(runtime: Runtime, tenant_id: str, provider_id: str, data: CustomProviderUpdate) -> CustomProviderRead:
    sent = data.model_fields_set
    for field in ("name", "url"):
        if field in sent and getattr(data, field) is None:
            raise InvalidInput(f"{field} cannot be cleared", field=field)
    url = checked_link(data.url) if data.url is not None else None
    async with UnitOfWork(runtime) as uow:
        row = await _owned_provider(uow, tenant_id, provider_id)
        if data.name is not None:
            row.name = _name(data.name)
        if url is not None:
            row.url, row.service = url, _detected(url)
        await uow.commit()
        return _provider_read(row)


async def delete_provider(runtime: Runtime, tenant_id: str, provider_id: str) -> None:
    """Delete it; the defaults that chose it go with it (foreign key cascade)."""
    async with UnitOfWork(runtime) as uow:
        await uow.session.delete(await _owned_provider(uow, tenant_id, provider_id))
        await uow.commit()


async def custom_provider_choice(
    uow: UnitOfWork, tenant_id: str, provider_id: str, user_id: str | None, *, field: str = "customProviderId"
) -> ConferencingChoice:
    """The provider ``provider_id`` as a CUSTOM choice, if it is offered to ``user_id`` (theirs
    or the tenant's; with no user, only the tenant's); else InvalidInput on ``field``."""
    row = await uow.session.get(models.CustomConferencingProvider, provider_id)
    if row is None or row.tenant_id != tenant_id or (row.user_id is not None and row.user_id != user_id):
        raise InvalidInput("no such conferencing provider for this user", field=field)
    return ConferencingChoice(CUSTOM, "user", row.id, row.url, row.service)


# --- defaults: rules ------------------------------------------------------------------------


async def _connections(uow: UnitOfWork, tenant_id: str, user_id: str, provider: str) -> list[models.Connection]:
    """The user's connections of ``provider`` that are not disconnected."""
    connection = models.Connection
    statement = select(connection).where(
        connection.tenant_id == tenant_id,
        connection.user_id == user_id,
        connection.provider == provider,
        connection.status != "DISCONNECTED",
    )
    return list((await uow.session.scalars(statement.order_by(connection.id))).all())


async def _check_service(
    uow: UnitOfWork, tenant_id: str, user: models.User, calendar_provider: str | None, data: ConferencingDefaultSet
) -> None:
    """InvalidState (409) when ``data.service`` cannot be that user's (calendar's) default."""
    who = user.email
    if data.service == "ZOOM":
        if await conferencing_connection(uow, tenant_id, user.id, "ZOOM") is None:
            raise InvalidState(
                f"Zoom cannot be the default for {who}: they have no active Zoom connection. Each user has to"
                " connect their own Zoom account (an admin cannot do it for them), then Zoom can be chosen."
            )
    elif data.service == "GOOGLE_MEET":
        if calendar_provider is not None:
            if calendar_provider != "GOOGLE":
                raise InvalidState(f"Google Meet links are made by Google calendars; this calendar is {calendar_provider}'s")
        elif not await _connections(uow, tenant_id, user.id, "GOOGLE"):
            raise InvalidState(f"Google Meet needs a Google calendar: {who} has no Google connection")
    elif data.service == "TEAMS":
        has_microsoft = (
            calendar_provider in _MAKERS["TEAMS"]
            if calendar_provider is not None
            else bool(await _connections(uow, tenant_id, user.id, "MICROSOFT"))
        )
        if not has_microsoft:
            raise InvalidState(
                "Microsoft Teams links are made by Microsoft 365 calendars, and calmesh cannot connect"
                " Microsoft 365 calendars yet: choose another service"
            )
    elif data.service == "CUSTOM":
        assert data.custom_provider_id is not None
        await custom_provider_choice(uow, tenant_id, data.custom_provider_id, user.id)


async def _calendar_provider(uow: UnitOfWork, tenant_id: str, user_id: str, calendar_id: str) -> str:
    """The provider of ``calendar_id``, which must be a calendar of one of the user's connections."""
    calendar = await uow.session.get(models.Calendar, calendar_id)
    connection = await uow.session.get(models.Connection, calendar.connection_id) if calendar is not None else None
    if calendar is None or calendar.tenant_id != tenant_id or connection is None or connection.user_id != user_id:
        raise InvalidInput("that calendar is not one of that user's (of a connection of userId)", field="calendarId")
    return connection.provider


async def _lock_user(uow: UnitOfWork, user_id: str) -> None:
    """Serialize default changes per user: a no-op write to the user's row, which PostgreSQL
    row-locks and SQLite takes the write lock for, until the commit. Needed because the unique
    constraint on (user_id, calendar_id) does not see two NULL calendar ids as equal."""
    await uow.session.execute(
        update(models.User)
        .where(models.User.id == user_id)
        .values(updated_at=models.User.updated_at)
        .execution_options(synchronize_session=False)
    )


def _scope(calendar_id: str | None) -> ColumnElement[bool]:
    column = models.ConferencingDefault.calendar_id
    return column.is_(None) if calendar_id is None else column == calendar_id


# --- defaults: use cases --------------------------------------------------------------------


async def set_default(runtime: Runtime, tenant_id: str, data: ConferencingDefaultSet) -> ConferencingDefaultRead:
    """Create or replace the default of ``data.userId`` (for ``data.calendarId``, or all their calendars)."""
    async with UnitOfWork(runtime) as uow:
        user = await _user_of_tenant(uow, tenant_id, data.user_id, "userId")
        if data.set_by is not None:
            await _user_of_tenant(uow, tenant_id, data.set_by, "setBy")
        calendar_provider = (
            await _calendar_provider(uow, tenant_id, user.id, data.calendar_id) if data.calendar_id is not None else None
        )
        await _check_service(uow, tenant_id, user, calendar_provider, data)

        await _lock_user(uow, user.id)
        default = models.ConferencingDefault
        row = (
            await uow.session.scalars(select(default).where(default.user_id == user.id, _scope(data.calendar_id)))
        ).first()
        if row is None:
            row = default(id=new_id("cnfd"), tenant_id=tenant_id, user_id=user.id, calendar_id=data.calendar_id, service=data.service)
            uow.session.add(row)
        row.service = data.service
        row.custom_provider_id = data.custom_provider_id
        row.set_by = data.set_by
        if data.apply_to_all_calendars:
            await uow.session.execute(
                delete(default).where(default.user_id == user.id, default.calendar_id.is_not(None))
            )
        await uow.session.flush()
        read = _default_read(row)
        await uow.commit()
        return read


async def list_defaults(
    runtime: Runtime, tenant_id: str, *, user_id: str | None = None, calendar_id: str | None = None, limit: int, cursor: str | None
) -> Page[ConferencingDefaultRead]:
    default = models.ConferencingDefault
    statement = select(default).where(default.tenant_id == tenant_id)
    if user_id is not None:
        statement = statement.where(default.user_id == user_id)
    if calendar_id is not None:
        statement = statement.where(default.calendar_id == calendar_id)
    async with UnitOfWork(runtime) as uow:
        return await paginate(uow.session, statement, default.id, _default_read, limit=limit, cursor=cursor)


async def get_default(runtime: Runtime, tenant_id: str, default_id: str) -> ConferencingDefaultRead:
    async with UnitOfWork(runtime) as uow:
        return _default_read(await uow.owned(models.ConferencingDefault, default_id, tenant_id, "no such conferencing default"))


async def delete_default(runtime: Runtime, tenant_id: str, default_id: str) -> None:
    async with UnitOfWork(runtime) as uow:
        await uow.session.delete(await uow.owned(models.ConferencingDefault, default_id, tenant_id, "no such conferencing default"))
        await uow.commit()


# --- resolution -----------------------------------------------------------------------------


async def _choice(uow: UnitOfWork, row: models.ConferencingDefault, source: ChoiceSource) -> ConferencingChoice | None:
    if row.service != CUSTOM:
        return ConferencingChoice(row.service, source)
    provider = (
        await uow.session.get(models.CustomConferencingProvider, row.custom_provider_id) if row.custom_provider_id else None
    )
    if provider is None:
        return None  # gone meanwhile (its defaults go with it): as if there were no default
    return ConferencingChoice(CUSTOM, source, provider.id, provider.url, provider.service)


def _applies(service: str, calendar_provider: str | None) -> bool:
    """A user-wide default applies to the calendar unless it is a link only other calendars make."""
    makers = _MAKERS.get(service)
    return makers is None or calendar_provider is None or calendar_provider in makers


async def resolve_default(uow: UnitOfWork, tenant_id: str, user_id: str | None, calendar_id: str | None) -> ConferencingChoice:
    """The conferencing a new event of ``user_id`` in ``calendar_id`` gets (either may be None):
    the calendar's own default, else the user's (by default the calendar's owner), else what
    the calendar's provider makes (Google: Meet), else NONE. NotFound for an unknown id."""
    calendar_provider: str | None = None
    if calendar_id is not None:
        calendar = await uow.owned(models.Calendar, calendar_id, tenant_id, "no such calendar")
        connection = await uow.session.get(models.Connection, calendar.connection_id)
        assert connection is not None
        calendar_provider = connection.provider
        user_id = user_id if user_id is not None else connection.user_id
    elif user_id is not None:
        await uow.owned(models.User, user_id, tenant_id, "no such user")

    default = models.ConferencingDefault
    if calendar_id is not None:
        row = (
            await uow.session.scalars(select(default).where(default.tenant_id == tenant_id, default.calendar_id == calendar_id).order_by(default.id))
        ).first()
        chosen = await _choice(uow, row, "calendar") if row is not None else None
        if chosen is not None:
            return chosen
    if user_id is not None:
        row = (
            await uow.session.scalars(
                select(default).where(default.tenant_id == tenant_id, default.user_id == user_id, default.calendar_id.is_(None)).order_by(default.id)
            )
        ).first()
        if row is not None and _applies(row.service, calendar_provider):
            chosen = await _choice(uow, row, "user")
            if chosen is not None:
                return chosen
    made = _MADE_BY_CALENDAR.get(calendar_provider or "")
    if made is not None:
        return ConferencingChoice(made, "calendar-provider")
    return ConferencingChoice("NONE", "none")


async def resolve(runtime: Runtime, tenant_id: str, *, user_id: str | None, calendar_id: str | None) -> ConferencingChoiceRead:
    """:func:`resolve_default` for the API (``GET /v1/conferencing/resolve``)."""
    if user_id is None and calendar_id is None:
        raise InvalidInput("give userId, calendarId or both", field="userId")
    async with UnitOfWork(runtime) as uow:
        choice = await resolve_default(uow, tenant_id, user_id, calendar_id)
    return ConferencingChoiceRead(
        service=choice.service, source=choice.source,
        custom_provider_id=choice.custom_provider_id, url=choice.url, detected_service=choice.detected_service,
    )
