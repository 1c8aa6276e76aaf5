"""``/v1/tenant``: which tenant this API key speaks for."""

from __future__ import annotations

from fastapi import APIRouter

from calmesh.api.deps import RuntimeDep, TenantIdDep
from calmesh.services import tenants
from calmesh.services.tenants import TenantRead

router = APIRouter(prefix="/v1/tenant", tags=["tenant"])


@router.get("", summary="The tenant of the calling API key")
async def get_current_tenant(runtime: RuntimeDep, tenant_id: TenantIdDep) -> TenantRead:
    return await tenants.get_tenant(runtime, tenant_id)
