"""``/v1/integrations``: connect calendars, configure their sync, watch it (seed 001)."""

from __future__ import annotations

from typing import Any

from html import escape
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from calmesh.api.deps import PageParamsDep, RuntimeDep, TenantIdDep
from calmesh.errors import CalmeshError, InvalidInput
from calmesh.schemas import Page
from calmesh.services import integrations, oauth
from calmesh.services.integrations import (
    CalendarRead,
    ConflictRead,
    IntegrationCreate,
    IntegrationRead,
    ResyncRequest,
    SyncStatusRead,
)
from calmesh.services.oauth import AuthUrlRead, AuthUrlRequest

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Connect an account (the credentials are checked with the provider before they are kept)",
    description=(
        "201 with the new integration. With `connectionId` (or the `state` of a sign-in started with one),"
        " re-authenticates that integration instead (e.g. after TOKEN_EXPIRED): it keeps its id, settings"
        " and sync state, and the answer is 200. Google and Zoom: `code`, `redirectUri` and `state` from the redirect (Zoom also needs the `userId` it belongs to, given to auth-url)."
    ),
    responses={status.HTTP_200_OK: {"description": "Re-authenticated (the body had connectionId)", "model": IntegrationRead}},
)
async def connect(data: IntegrationCreate, runtime: RuntimeDep, tenant_id: TenantIdDep, response: Response) -> IntegrationRead:
    read, reauthenticated = await integrations.connect_or_reauthenticate(runtime, tenant_id, data)
    if reauthenticated:
        response.status_code = status.HTTP_200_OK
    return read


@router.post(
    "/auth-url",
    summary="Start connecting an OAuth account (Google, Zoom): the URL to send the user to, with state and PKCE",
    description=(
        "The provider sends the user back to `redirectUri` with `code` and `state`; pass them to"
        " `POST /v1/integrations`. Without `redirectUri`, calmesh's own callback receives them and"
        " connects the account itself, then sends the browser to `returnTo`. With `connectionId`,"
        " the sign-in re-authenticates that integration. The sign-in is valid for ten minutes."
    ),
)
async def auth_url(request: AuthUrlRequest, runtime: RuntimeDep, tenant_id: TenantIdDep) -> AuthUrlRead:
    return await oauth.create_auth_url(runtime, tenant_id, request)


@router.get(
    "/oauth/callback",
    response_class=HTMLResponse,
    summary="Where the provider sends the user back (no API key: the state names the tenant)",
    include_in_schema=True,
)
async def oauth_callback(
    runtime: RuntimeDep, state: str, code: str | None = None, error: str | None = None
) -> Response:
    pending: oauth.PendingSignIn | None = None
    try:
        pending = await oauth.pending_sign_in(runtime, state, forget=code is None)
        if code is None:
            raise InvalidInput(f"the sign-in was not completed ({error or 'no code came back'})")
        read = await integrations.connect(
            runtime, pending.tenant_id, IntegrationCreate(provider=pending.provider, code=code, state=state)
        )
    except CalmeshError as failure:
        return _callback_page(None, failure, pending)
    return _callback_page(read, None, pending)


def _callback_page(read: IntegrationRead | None, failure: CalmeshError | None, pending: oauth.PendingSignIn | None) -> Response:
    """The browser's last stop: the application's ``returnTo``, or a short page of our own."""
    if pending is not None and pending.return_to:
        query = {"integrationId": read.id} if read else {"error": failure.__class__.__name__, "message": failure.message if failure else ""}
        separator = "&" if "?" in pending.return_to else "?"
        return RedirectResponse(pending.return_to + separator + urlencode(query), status_code=status.HTTP_303_SEE_OTHER)
    if read is not None:
        body = f"<h1>Connected</h1><p>{escape(read.account_email or read.provider)} is connected to calmesh as {escape(read.id)}. You can close this window.</p>"
        return HTMLResponse(_PAGE.format(title="Connected", body=body))
    assert failure is not None
    body = f"<h1>Not connected</h1><p>{escape(failure.message)}</p>"
    return HTMLResponse(_PAGE.format(title="Not connected", body=body), status_code=status.HTTP_400_BAD_REQUEST)


_PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} — calmesh</title></head><body>{body}</body></html>'


@router.get("")
async def list_integrations(runtime: RuntimeDep, tenant_id: TenantIdDep, page: PageParamsDep) -> Page[IntegrationRead]:
    return await integrations.list_integrations(runtime, tenant_id, limit=page.limit, cursor=page.cursor)


@router.get("/{integration_id}")
async def get_integration(integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> IntegrationRead:
    return await integrations.get_integration(runtime, tenant_id, integration_id)


@router.patch("/{integration_id}", summary="Configure sync (syncDirection, calendarsToSync, eventPrivacy…)")
async def configure(
    integration_id: str,
    runtime: RuntimeDep,
    tenant_id: TenantIdDep,
    changes: dict[str, Any] = Body(
        openapi_examples={"seed": {"value": {"syncDirection": "BOTH", "syncFrequency": 5, "createEventsIn": "primary"}}}
    ),
) -> IntegrationRead:
    return await integrations.configure(runtime, tenant_id, integration_id, changes)


@router.delete("/{integration_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Disconnect and forget")
async def disconnect(integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> Response:
    await integrations.disconnect(runtime, tenant_id, integration_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{integration_id}/calendars")
async def list_calendars(
    integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep, page: PageParamsDep
) -> Page[CalendarRead]:
    return await integrations.list_calendars(runtime, tenant_id, integration_id, limit=page.limit, cursor=page.cursor)


@router.post(
    "/{integration_id}/resync",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Sync now (fullSync forgets every cursor and lists everything again)",
)
async def resync(
    integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep, request: ResyncRequest | None = None
) -> SyncStatusRead:
    return await integrations.request_resync(runtime, tenant_id, integration_id, request or ResyncRequest())


@router.post(
    "/{integration_id}/refresh",
    summary=(
        "Check the credentials now (an OAuth provider refreshes its token); TOKEN_EXPIRED or ERROR"
        " connections that work again go back to ACTIVE"
    ),
)
async def refresh(integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> IntegrationRead:
    return await integrations.refresh(runtime, tenant_id, integration_id)


@router.get("/{integration_id}/sync-status")
async def sync_status(integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> SyncStatusRead:
    return await integrations.sync_status(runtime, tenant_id, integration_id)


@router.get("/{integration_id}/conflicts", summary="Changes made on both sides, and which side won")
async def list_conflicts(
    integration_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep, page: PageParamsDep
) -> Page[ConflictRead]:
    return await integrations.list_conflicts(runtime, tenant_id, integration_id, limit=page.limit, cursor=page.cursor)
