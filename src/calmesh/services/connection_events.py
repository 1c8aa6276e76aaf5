"""The ``integration.*`` announcements, built the same way wherever a connection's state changes
(the sync executor, a credential check, re-authentication, disconnection)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calmesh.errors import (
    CalmeshError,
    InvalidInput,
    ProviderAuthFailed,
    ProviderRefused,
    SyncHalted,
)
from calmesh.services.announcements import announce
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.webhooks.catalogue import EventType

__all__ = [
    "announce_disconnected",
    "announce_error",
    "announce_token_expired",
    "integration_data",
    "mark_token_expired",
    "needs_user",
]


def integration_data(connection: models.Connection) -> dict[str, Any]:
    """What every ``integration.*`` event says about its connection (seed 001 reads
    ``data.connectionId`` and ``data.userId``)."""
    return {
        "connectionId": connection.id,
        "integrationId": connection.id,
        "userId": connection.user_id,
        "provider": connection.provider,
        "accountEmail": connection.account_email,
        "status": connection.status,
    }


def needs_user(error: CalmeshError) -> bool:
    """Whether only the user can clear ``error`` (retrying alone will not)."""
    return isinstance(error, (ProviderAuthFailed, ProviderRefused, SyncHalted, InvalidInput))


async def announce_error(uow: UnitOfWork, connection: models.Connection, error: CalmeshError, retry_at: datetime | None) -> None:
    await announce(
        uow,
        connection.tenant_id,
        EventType.INTEGRATION_ERROR,
        {
            **integration_data(connection),
            "error": error.message,
            "userActionRequired": needs_user(error),
            "retryAt": retry_at.isoformat() if retry_at else None,
            "failureCount": connection.failure_count,
        },
    )


async def announce_token_expired(uow: UnitOfWork, connection: models.Connection, error: CalmeshError) -> None:
    await announce(
        uow,
        connection.tenant_id,
        EventType.INTEGRATION_TOKEN_EXPIRED,
        {**integration_data(connection), "error": error.message, "userActionRequired": True},
    )


async def mark_token_expired(uow: UnitOfWork, connection: models.Connection, error: CalmeshError, now: datetime) -> bool:
    """Move the connection to TOKEN_EXPIRED with ``error`` as its last error, and announce
    ``integration.token_expired`` — once: a connection already there is left alone (False).
    Does not commit."""
    if connection.status == "TOKEN_EXPIRED":
        return False
    connection.status, connection.last_error, connection.last_error_at = "TOKEN_EXPIRED", error.message, now
    await announce_token_expired(uow, connection, error)
    return True


async def announce_disconnected(uow: UnitOfWork, connection: models.Connection, reason: str, revoked: bool) -> None:
    """``integration.disconnected``: ``reason`` is ``user`` (calmesh's API) or ``provider`` (the
    provider ended the grant); ``revoked``: calmesh revoked its access at the provider."""
    await announce(
        uow,
        connection.tenant_id,
        EventType.INTEGRATION_DISCONNECTED,
        {**integration_data(connection), "status": "DISCONNECTED", "reason": reason, "revoked": revoked},
    )
