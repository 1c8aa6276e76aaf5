"""Liveness and readiness, for load balancers and orchestrators (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter

from calmesh.api.deps import RuntimeDep
from calmesh.storage.database import ping

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The process can serve: its database answers")
async def readyz(runtime: RuntimeDep) -> dict[str, str]:
    await ping(runtime.engine)  # StorageUnavailable -> 503 problem
    return {"status": "ready", "database": runtime.engine.dialect.name}
