"""The job functions. Each takes the runtime and ids, does one use case, and never raises for a
failure the use case already recorded (the connection's state says what went wrong)."""

from __future__ import annotations

import logging

from calmesh.errors import CalmeshError, InvalidState
from calmesh.services.integrations import check_credentials
from calmesh.services.runtime import Runtime
from calmesh.services.sync import sync_connection

__all__ = ["check_credentials_job", "sync_connection_job"]

log = logging.getLogger(__name__)


async def sync_connection_job(runtime: Runtime, connection_id: str) -> None:
    """Sync one connection; a sync already running elsewhere is left to finish."""
    try:
        report = await sync_connection(runtime, connection_id)
    except InvalidState:
        log.info("sync skipped: already running", extra={"connection_id": connection_id})
    except CalmeshError as error:
        log.warning("sync failed", extra={"connection_id": connection_id, "error": error.message})
    else:
        log.info(
            "sync finished",
            extra={
                "connection_id": connection_id,
                "pulled": report.total("pulled"),
                "pushed": report.total("pushed"),
                "conflicts": report.total("conflicts"),
            },
        )


async def check_credentials_job(runtime: Runtime, connection_id: str) -> None:
    """The daily health check: do the connection's credentials still work?"""
    try:
        state = await check_credentials(runtime, connection_id)
    except CalmeshError as error:
        log.warning("credential check failed", extra={"connection_id": connection_id, "error": error.message})
    else:
        log.info("credentials checked", extra={"connection_id": connection_id, "state": state})
