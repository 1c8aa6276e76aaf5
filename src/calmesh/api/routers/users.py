"""``/v1/users``: the people of a tenant."""

from __future__ import annotations

from fastapi import APIRouter, status

from calmesh.api.deps import PageParamsDep, RuntimeDep, TenantIdDep
from calmesh.schemas import Page
from calmesh.services import users
from calmesh.services.users import UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(data: UserCreate, runtime: RuntimeDep, tenant_id: TenantIdDep) -> UserRead:
    return await users.create_user(runtime, tenant_id, data)


@router.get("")
async def list_users(runtime: RuntimeDep, tenant_id: TenantIdDep, page: PageParamsDep) -> Page[UserRead]:
    return await users.list_users(runtime, tenant_id, limit=page.limit, cursor=page.cursor)


@router.get("/{user_id}")
async def get_user(user_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> UserRead:
    return await users.get_user(runtime, tenant_id, user_id)


@router.patch("/{user_id}")
async def update_user(user_id: str, data: UserUpdate, runtime: RuntimeDep, tenant_id: TenantIdDep) -> UserRead:
    return await users.update_user(runtime, tenant_id, user_id, data)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: str, runtime: RuntimeDep, tenant_id: TenantIdDep) -> None:
    await users.delete_user(runtime, tenant_id, user_id)
