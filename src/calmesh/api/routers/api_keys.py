"""``/v1/api-keys``: a tenant's own API keys (create another to rotate, then revoke the old)."""

from __future__ import annotations

from fastapi import APIRouter, status

from calmesh.api.deps import PageParamsDep, RuntimeDep, TenantIdDep
from calmesh.schemas import Page
from calmesh.services import tenants
from calmesh.services.tenants import ApiKeyCreate, ApiKeyCreated, ApiKeyRead

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create an API key (shown once)")
async def create_api_key(data: ApiKeyCreate, runtime: RuntimeDep, tenant_id: TenantIdDep) -> ApiKeyCreated:
    return await tenants.create_api_key(runtime, tenant_id, data)


@router.get("")
async def list_api_keys(runtime: RuntimeDep, tenant_id: TenantIdDep, page: PageParamsDep) -> Page[ApiKeyRead]:
    return await tenants.list_api_keys(runtime, tenant_id, limit=page.limit, cursor=page.cursor)


@router.post("/{key_id}/revoke", summary="Revoke an API key; it stops working at once")
async def revoke_api_key(key_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> ApiKeyRead:
    return await tenants.revoke_api_key(runtime, tenant_id, key_id)
