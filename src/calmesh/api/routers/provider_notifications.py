"""``/v1/providers/{provider}/notifications``: webhooks in (PRODUCT.md W2).

No API key: a provider calls these. Each is checked by what the provider echoes back — Google
the channel token calmesh gave it, Zoom its HMAC signature — and Google's only ever start an
incremental sync; Zoom's say that a user removed the app or deleted a meeting.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.responses import JSONResponse

from calmesh.api.deps import RuntimeDep
from calmesh.services import push, zoom_notifications

router = APIRouter(prefix="/v1/providers", tags=["provider-notifications"])


@router.post(
    "/google/notifications",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Google Calendar push notifications (watch channels)",
    description="Google's `sync` message is acknowledged; `exists` asks for an incremental sync of the channel's integration.",
)
async def google_notification(
    runtime: RuntimeDep,
    channel_id: Annotated[str, Header(alias="X-Goog-Channel-ID", max_length=64)],
    resource_state: Annotated[str, Header(alias="X-Goog-Resource-State", max_length=32)],
    channel_token: Annotated[str, Header(alias="X-Goog-Channel-Token", max_length=256)] = "",
) -> Response:
    await push.notification_received(runtime, "GOOGLE", channel_id, channel_token, resource_state)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/zoom/notifications",
    status_code=status.HTTP_200_OK,
    summary="Zoom event notifications (webhooks: URL validation, app_deauthorized, meeting.deleted)",
    description=(
        "Signed by Zoom (`x-zm-signature`, v0 HMAC-SHA256 with the app's Secret Token over the timestamp"
        " and the raw body; `x-zm-request-timestamp` within five minutes), else 401. `endpoint.url_validation`"
        " is answered with `plainToken` and `encryptedToken`; `app_deauthorized` disconnects that Zoom user's"
        " integrations and forgets their meetings; `meeting.deleted` marks the meeting deleted; other events"
        " are acknowledged. 404 while the operator has not set CALMESH_ZOOM_WEBHOOK_SECRET_TOKEN."
    ),
    responses={status.HTTP_200_OK: {"description": "Acknowledged (URL validation: the tokens)"}},
)
async def zoom_notification(
    request: Request,
    runtime: RuntimeDep,
    timestamp: Annotated[str, Header(alias="x-zm-request-timestamp", max_length=32)] = "",
    signature: Annotated[str, Header(alias="x-zm-signature", max_length=128)] = "",
) -> Response:
    # The raw bytes: the signature covers them exactly as sent.
    body = await request.body()
    answer = await zoom_notifications.notification_received(runtime, body, timestamp=timestamp, signature=signature)
    if answer is not None:
        return JSONResponse(answer)
    return Response(status_code=status.HTTP_200_OK)
