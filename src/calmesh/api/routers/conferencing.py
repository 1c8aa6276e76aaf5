"""``/v1/conferencing``: custom providers, defaults and their resolution (PRODUCT.md M1, M2;
see services.conferencing), and join-link detection (M6).

``POST /v1/conferencing/detect`` runs :func:`calmesh.conferencing.detect_conference` on what the
caller sends — an event's conference field, location and description — and stores nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import EmailStr, Field

from calmesh.api.deps import PageParamsDep, RuntimeDep, TenantIdDep
from calmesh.conferencing import NO_CONFERENCE_MESSAGE, detect_conference
from calmesh.domain.events import ConferenceData
from calmesh.schemas import ApiModel, Page
from calmesh.services import conferencing
from calmesh.services.conferencing import (
    ConferencingChoiceRead,
    ConferencingDefaultRead,
    ConferencingDefaultSet,
    CustomProviderCreate,
    CustomProviderRead,
    CustomProviderUpdate,
)

__all__ = ["ConferenceDetectIn", "ConferenceFieldIn", "DetectedConferenceRead", "router"]

router = APIRouter(prefix="/v1/conferencing", tags=["conferencing"])

_Short = Annotated[str, Field(max_length=4096)]


class ConferenceFieldIn(ApiModel):
    """The calendar's own conference field, as ``/v1/events`` shows it (``conference``)."""

    service: str | None = Field(default=None, max_length=100)
    join_url: _Short | None = None
    meeting_id: str | None = Field(default=None, max_length=200)
    passcode: str | None = Field(default=None, max_length=200)
    dial_ins: list[_Short] = Field(default_factory=list, max_length=200)


class ConferenceDetectIn(ApiModel):
    """An event's three places for a join link; all optional. Text may be plain or HTML."""

    conference: ConferenceFieldIn | None = None
    location: str | None = Field(default=None, max_length=100_000)
    description: str | None = Field(default=None, max_length=1_000_000)
    account_email: EmailStr | None = Field(
        default=None, description="The Google account the event belongs to: a Meet joinUrl then opens with it (authuser)."
    )


class DetectedConferenceRead(ApiModel):
    service: str = Field(description='GOOGLE_MEET, TEAMS, ZOOM, WEBEX…, or "none" when no conference was found.')
    service_name: str | None = Field(description='For people: "Google Meet", "Microsoft Teams"…; null for "none".')
    join_url: str | None
    meeting_id: str | None = Field(description="Digits for numeric ids; Meet's code (abc-defg-hij).")
    passcode: str | None = Field(description="For Meet, the phone PIN.")
    dial_ins: list[str] = Field(description="tel: URIs, the access code after ',,' when known.")
    source: Literal["description", "location", "conference"] | None = Field(description="Where it was found.")
    message: str | None = Field(description='Null when found; else why there is none ("Not a Zoom meeting: …").')


_DESCRIPTION = """\
Which conferencing service an event uses and how to join it, from its conference field, location
and description (plain text or HTML, such as Outlook, Google Calendar, Zoom and Teams invitations).

* Precedence: the description's first join link, else the location's, else the conference
  field (whose link counts even when its service is unknown: `CUSTOM`; dial-ins only: `PHONE`).
* Links are recognised for Zoom (vanity and `zoomgov.com` domains, `zoommtg:`), Google Meet,
  Microsoft Teams, Webex, Whereby, Around, BlueJeans, Doxy.me, Skype, GoTo Meeting, Jitsi,
  Amazon Chime, Slack huddles, Discord, RingCentral, Vonage, Lifesize, FaceTime and Gather;
  Outlook safe links, Google redirects and Proofpoint links are unwrapped.
* `accountEmail`: a Meet `joinUrl` gets `authuser=<accountEmail>` so it opens with that account.

Nothing found is still a 200: `{"service": "none", "joinUrl": null, …, "message": "Not a Zoom
meeting: …"}`. Nothing is stored.
"""


@router.post("/detect", summary="Detect the join link of an event", description=_DESCRIPTION)
def detect_join_link(data: ConferenceDetectIn, tenant_id: TenantIdDep) -> DetectedConferenceRead:
    # A plain def: detection is CPU work on up to a megabyte, so it runs in the thread pool
    # rather than on the event loop. tenant_id: detection stores nothing, but needs a key.
    field = data.conference
    found = detect_conference(
        conference=(
            ConferenceData(field.service, field.join_url, field.meeting_id, field.passcode, tuple(field.dial_ins))
            if field is not None
            else None
        ),
        location=data.location,
        description=data.description,
        account_email=data.account_email,
    )
    return DetectedConferenceRead(
        service=found.service,
        service_name=found.service_name,
        join_url=found.join_url,
        meeting_id=found.meeting_id,
        passcode=found.passcode,
        dial_ins=list(found.dial_ins),
        source=found.source,
        message=None if found.found else NO_CONFERENCE_MESSAGE,
    )


# --- custom providers -----------------------------------------------------------------------


@router.post(
    "/providers",
    status_code=status.HTTP_201_CREATED,
    summary="Add a custom provider: a named stable link (its service is detected from the URL)",
)
async def create_provider(data: CustomProviderCreate, runtime: RuntimeDep, tenant_id: TenantIdDep) -> CustomProviderRead:
    return await conferencing.create_provider(runtime, tenant_id, data)


@router.get("/providers", summary="The tenant's custom providers; with userId, those offered to that user")
async def list_providers(
    runtime: RuntimeDep,
    tenant_id: TenantIdDep,
    page: PageParamsDep,
    user_id: Annotated[str | None, Query(alias="userId", description="The user's own and the tenant-wide ones.")] = None,
) -> Page[CustomProviderRead]:
    return await conferencing.list_providers(runtime, tenant_id, user_id=user_id, limit=page.limit, cursor=page.cursor)


@router.get("/providers/{provider_id}", summary="One custom provider")
async def get_provider(provider_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> CustomProviderRead:
    return await conferencing.get_provider(runtime, tenant_id, provider_id)


@router.patch("/providers/{provider_id}", summary="Rename a custom provider or change its link (detected again)")
async def update_provider(
    provider_id: str, data: CustomProviderUpdate, runtime: RuntimeDep, tenant_id: TenantIdDep
) -> CustomProviderRead:
    return await conferencing.update_provider(runtime, tenant_id, provider_id, data)


@router.delete(
    "/providers/{provider_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a custom provider, with the defaults that chose it",
)
async def delete_provider(provider_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> Response:
    await conferencing.delete_provider(runtime, tenant_id, provider_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- defaults -------------------------------------------------------------------------------


@router.put(
    "/defaults",
    summary="Set the default conferencing of a user, or of one of their calendars (replaces the one there was)",
    description=(
        "`service`: GOOGLE_MEET (a Google calendar), TEAMS (a Microsoft 365 calendar: not yet), ZOOM (the user"
        " must have connected their own Zoom account), CUSTOM (with `customProviderId`) or NONE (add no"
        " conferencing). `setBy`: who chose it, e.g. an admin for `userId`. `applyToAllCalendars` (user-wide"
        " only) removes the user's per-calendar defaults. New events with at least one other participant get"
        " the calendar's default, else the user's, else the calendar's own (Meet for Google)."
    ),
)
async def set_default(data: ConferencingDefaultSet, runtime: RuntimeDep, tenant_id: TenantIdDep) -> ConferencingDefaultRead:
    return await conferencing.set_default(runtime, tenant_id, data)


@router.get("/defaults", summary="Conferencing defaults, by user and calendar")
async def list_defaults(
    runtime: RuntimeDep,
    tenant_id: TenantIdDep,
    page: PageParamsDep,
    user_id: Annotated[str | None, Query(alias="userId")] = None,
    calendar_id: Annotated[str | None, Query(alias="calendarId")] = None,
) -> Page[ConferencingDefaultRead]:
    return await conferencing.list_defaults(
        runtime, tenant_id, user_id=user_id, calendar_id=calendar_id, limit=page.limit, cursor=page.cursor
    )


@router.get("/defaults/{default_id}", summary="One conferencing default")
async def get_default(default_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> ConferencingDefaultRead:
    return await conferencing.get_default(runtime, tenant_id, default_id)


@router.delete("/defaults/{default_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a conferencing default")
async def delete_default(default_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> Response:
    await conferencing.delete_default(runtime, tenant_id, default_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/resolve",
    summary="The conferencing a new event of this user (in this calendar) gets, and what decided it",
)
async def resolve_default(
    runtime: RuntimeDep,
    tenant_id: TenantIdDep,
    user_id: Annotated[str | None, Query(alias="userId", description="Default: the calendar's owner.")] = None,
    calendar_id: Annotated[str | None, Query(alias="calendarId")] = None,
) -> ConferencingChoiceRead:
    return await conferencing.resolve(runtime, tenant_id, user_id=user_id, calendar_id=calendar_id)
