"""Zoom's event notifications in (PRODUCT.md W2, C5; protocols.md §3.5).

Every request is checked before it is read: ``x-zm-signature`` must be ``v0=`` + hex
HMAC-SHA256, keyed by the app's Secret Token (``CALMESH_ZOOM_WEBHOOK_SECRET_TOKEN``), of
``v0:{x-zm-request-timestamp}:{raw body}`` (compared in constant time), and the timestamp must be
within five minutes of now — else :class:`~calmesh.errors.WebhookVerificationFailed` (401).
Then:

* ``endpoint.url_validation`` — answered with ``{plainToken, encryptedToken}``, the token's
  HMAC-SHA256 under the same secret (Zoom validates the endpoint on subscription and every
  72 hours);
* ``app_deauthorized`` — the user removed calmesh's app in Zoom (data compliance): every Zoom
  connection of that Zoom user (and account) loses its credentials and its stored meetings —
  bookings that used them keep no link — becomes DISCONNECTED, and ``integration.disconnected``
  is announced with ``reason: "provider"``;
* ``meeting.deleted`` — a meeting calmesh made was deleted in Zoom: its row is marked deleted;
* anything else — acknowledged and ignored. So is an event about a user calmesh does not know:
  Zoom retries whatever is not a 200, and nothing would ever change that answer.

Public API: :func:`notification_received`, :func:`verify_signature`, :data:`TOLERANCE`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update

from calmesh.errors import InvalidInput, NotFound, WebhookVerificationFailed
from calmesh.services.connection_events import announce_disconnected
from calmesh.services.meetings import forget_connection_data
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models

__all__ = ["TOLERANCE", "notification_received", "verify_signature"]

#: How far ``x-zm-request-timestamp`` may be from now (a replayed request is older).
TOLERANCE = timedelta(minutes=5)

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str, signature: str, body: bytes, *, now: datetime | None = None) -> None:
    """Raise :class:`WebhookVerificationFailed` unless Zoom signed ``body`` at ``timestamp``
    (Unix seconds) within :data:`TOLERANCE` of ``now``."""
    try:
        seconds = float(timestamp)
    except ValueError:
        raise WebhookVerificationFailed("x-zm-request-timestamp is missing or not a Unix time") from None
    if seconds > 1e11:  # milliseconds
        seconds /= 1000
    if abs((now or _now()).timestamp() - seconds) > TOLERANCE.total_seconds():
        raise WebhookVerificationFailed("x-zm-request-timestamp is more than five minutes away from now (a replay?)")
    expected = "v0=" + _hmac(secret, b"v0:" + timestamp.encode() + b":" + body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise WebhookVerificationFailed("x-zm-signature does not match the body (is CALMESH_ZOOM_WEBHOOK_SECRET_TOKEN the app's Secret Token?)")


async def notification_received(runtime: Runtime, body: bytes, *, timestamp: str, signature: str) -> dict[str, str] | None:
    """Check and act on one notification; returns what to answer (the URL validation's tokens)
    or None (an empty 200)."""
    token = runtime.settings.zoom_webhook_secret_token
    if token is None:
        raise NotFound(
            "Zoom webhooks are not set up on this calmesh: the operator sets CALMESH_ZOOM_WEBHOOK_SECRET_TOKEN"
            " to the Secret Token of the Zoom app's event subscription"
        )
    secret = token.get_secret_value()
    verify_signature(secret, timestamp, signature, body)
    try:
        message = json.loads(body)
    except ValueError:
        raise InvalidInput("the notification is not JSON") from None
    if not isinstance(message, dict):
        raise InvalidInput("the notification is not a JSON object")
    event = str(message.get("event") or "")
    payload = message.get("payload") if isinstance(message.get("payload"), dict) else {}
    assert isinstance(payload, dict)
    if event == "endpoint.url_validation":
        plain = payload.get("plainToken")
        if not isinstance(plain, str) or not plain:
            raise InvalidInput("endpoint.url_validation without payload.plainToken")
        return {"plainToken": plain, "encryptedToken": _hmac(secret, plain.encode())}
    if event == "app_deauthorized":
        await _deauthorized(runtime, payload)
    elif event == "meeting.deleted":
        await _meeting_deleted(runtime, payload)
    return None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


async def _deauthorized(runtime: Runtime, payload: Mapping[str, Any]) -> int:
    """Forget every Zoom connection of the user who removed the app; returns how many."""
    zoom_user, zoom_account = _text(payload.get("user_id")), _text(payload.get("account_id"))
    if zoom_user is None:
        return 0
    forgotten = 0
    async with UnitOfWork(runtime) as uow:
        # Every tenant's: the app is the operator's, and one Zoom user may be connected twice.
        candidates = (
            await uow.session.scalars(
                select(models.Connection).where(models.Connection.provider == "ZOOM", models.Connection.status != "DISCONNECTED")
            )
        ).all()
        for connection in candidates:
            account = connection.account or {}
            if account.get("zoomUserId") != zoom_user:
                continue
            if zoom_account and account.get("zoomAccountId") and account.get("zoomAccountId") != zoom_account:
                continue
            await forget_connection_data(uow, connection)
            connection.status = "DISCONNECTED"
            connection.last_error, connection.last_error_at = "the user removed calmesh's app in Zoom", _now()
            connection.version += 1
            await announce_disconnected(uow, connection, "provider", revoked=False)
            forgotten += 1
        await uow.commit()
    if not forgotten:
        log.info("app_deauthorized for a Zoom user calmesh does not know", extra={"zoom_user_id": zoom_user})
    return forgotten


async def _meeting_deleted(runtime: Runtime, payload: Mapping[str, Any]) -> None:
    meeting = payload.get("object")
    meeting_id = _text(meeting.get("id")) if isinstance(meeting, dict) else None
    if meeting_id is None:
        return
    async with UnitOfWork(runtime) as uow:
        # A meeting's service is its connection's provider: these are the Zoom connections' meetings.
        await uow.session.execute(
            update(models.Meeting)
            .where(
                models.Meeting.service == "ZOOM",
                models.Meeting.provider_meeting_id == meeting_id,
                models.Meeting.personal.is_(False),
                models.Meeting.deleted_at.is_(None),
            )
            .values(deleted_at=_now())
            .execution_options(synchronize_session=False)
        )
        await uow.commit()
