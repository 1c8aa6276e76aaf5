"""Tenants and their API keys: create, authenticate, list, revoke."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from calmesh.auth.api_keys import display_prefix, generate_api_key, hash_api_key
from calmesh.errors import AlreadyExists, AuthenticationFailed, InvalidInput, NotFound
from calmesh.ids import new_id
from calmesh.schemas import ApiModel, Page
from calmesh.services.pagination import paginate
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyRead",
    "TenantCreated",
    "TenantRead",
    "authenticate",
    "create_api_key",
    "create_tenant",
    "get_tenant",
    "list_api_keys",
    "list_tenants",
    "revoke_api_key",
]

#: last_used_at is refreshed at most this often, so authenticating is not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=10)


class TenantRead(ApiModel):
    id: str
    name: str
    created_at: datetime


class ApiKeyCreate(ApiModel):
    name: str = "default"


class ApiKeyRead(ApiModel):
    id: str
    name: str
    display_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    #: The whole key. It is shown this once and stored only as a hash.
    key: str


class TenantCreated(ApiModel):
    tenant: TenantRead
    api_key: ApiKeyCreated


def _new_key_row(tenant_id: str, name: str) -> tuple[models.ApiKey, str]:
    key = generate_api_key()
    row = models.ApiKey(
        id=new_id("key"),
        tenant_id=tenant_id,
        name=name,
        display_prefix=display_prefix(key),
        secret_hash=hash_api_key(key),
        created_at=datetime.now(timezone.utc),
    )
    return row, key


def _created(row: models.ApiKey, key: str) -> ApiKeyCreated:
    return ApiKeyCreated(**ApiKeyRead.model_validate(row).model_dump(), key=key)


async def create_tenant(runtime: Runtime, name: str) -> TenantCreated:
    """A new tenant with its first API key."""
    name = name.strip()
    if not name:
        raise InvalidInput("a tenant needs a name", field="name")
    async with UnitOfWork(runtime) as uow:
        tenant = models.Tenant(id=new_id("tnt"), name=name)
        uow.session.add(tenant)
        try:
            await uow.session.flush()  # the tenant row first: the key's foreign key needs it
        except IntegrityError:
            raise AlreadyExists(f"a tenant named {name!r} already exists") from None
        key_row, key = _new_key_row(tenant.id, "default")
        uow.session.add(key_row)
        await uow.commit()
        return TenantCreated(tenant=TenantRead.model_validate(tenant), api_key=_created(key_row, key))


async def list_tenants(runtime: Runtime) -> list[TenantRead]:
    async with UnitOfWork(runtime) as uow:
        rows = await uow.session.scalars(select(models.Tenant).order_by(models.Tenant.id))
        return [TenantRead.model_validate(row) for row in rows]


async def get_tenant(runtime: Runtime, tenant_id: str) -> TenantRead:
    async with UnitOfWork(runtime) as uow:
        tenant = await uow.session.get(models.Tenant, tenant_id)
        if tenant is None:
            raise NotFound("no such tenant")
        return TenantRead.model_validate(tenant)


async def resolve_tenant(runtime: Runtime, name_or_id: str | None) -> str:
    """The tenant an operator command acts for: the one named, else the only one, else a new
    "default" tenant on an empty installation."""
    async with UnitOfWork(runtime) as uow:
        if name_or_id:
            tenant = await uow.session.scalar(
                select(models.Tenant).where(or_(models.Tenant.id == name_or_id, models.Tenant.name == name_or_id))
            )
            if tenant is None:
                raise NotFound(f"no tenant named {name_or_id!r}")
            return tenant.id
        ids = (await uow.session.scalars(select(models.Tenant.id).limit(2))).all()
    if len(ids) == 1:
        return ids[0]
    if ids:
        raise InvalidInput("there are several tenants: say which with --tenant", field="tenant")
    return (await create_tenant(runtime, "default")).tenant.id


async def authenticate(runtime: Runtime, presented_key: str) -> str:
    """The tenant id an API key belongs to; :class:`AuthenticationFailed` for anything else."""
    async with UnitOfWork(runtime) as uow:
        row = await uow.session.scalar(
            select(models.ApiKey).where(models.ApiKey.secret_hash == hash_api_key(presented_key))
        )
        if row is None or row.revoked_at is not None:
            raise AuthenticationFailed()
        now = datetime.now(timezone.utc)
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
            row.last_used_at = now
            await uow.commit()
        return row.tenant_id


async def create_api_key(runtime: Runtime, tenant_id: str, data: ApiKeyCreate) -> ApiKeyCreated:
    async with UnitOfWork(runtime) as uow:
        row, key = _new_key_row(tenant_id, data.name)
        uow.session.add(row)
        await uow.commit()
        return _created(row, key)


async def list_api_keys(
    runtime: Runtime, tenant_id: str, *, limit: int, cursor: str | None
) -> Page[ApiKeyRead]:
    async with UnitOfWork(runtime) as uow:
        statement = select(models.ApiKey).where(models.ApiKey.tenant_id == tenant_id)
        return await paginate(
            uow.session, statement, models.ApiKey.id, ApiKeyRead.model_validate, limit=limit, cursor=cursor
        )


async def revoke_api_key(runtime: Runtime, tenant_id: str, key_id: str) -> ApiKeyRead:
    async with UnitOfWork(runtime) as uow:
        row = await uow.session.get(models.ApiKey, key_id)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound("no such API key")
        if row.revoked_at is None:
            row.revoked_at = datetime.now(timezone.utc)
            await uow.commit()
        return ApiKeyRead.model_validate(row)
