"""Users: the people of a tenant whose calendars calmesh connects."""

from __future__ import annotations

from datetime import datetime

from pydantic import EmailStr
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from calmesh.errors import AlreadyExists, InvalidInput, NotFound
from calmesh.ids import new_id
from calmesh.schemas import ApiModel, Page, TimeZoneName
from calmesh.services.pagination import paginate
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models

__all__ = ["UserCreate", "UserRead", "UserUpdate", "create_user", "delete_user", "get_user", "list_users", "update_user"]


class UserCreate(ApiModel):
    email: EmailStr
    name: str | None = None
    time_zone: TimeZoneName = "UTC"
    external_id: str | None = None


class UserUpdate(ApiModel):
    """Only the fields sent are changed; a field sent as null is cleared."""

    email: EmailStr | None = None
    name: str | None = None
    time_zone: TimeZoneName | None = None
    external_id: str | None = None


class UserRead(ApiModel):
    id: str
    email: str
    name: str | None
    time_zone: str
    external_id: str | None
    created_at: datetime
    updated_at: datetime


async def _owned(uow: UnitOfWork, tenant_id: str, user_id: str) -> models.User:
    user = await uow.session.get(models.User, user_id)
    # Another tenant's user is reported exactly like a missing one: ids must not leak existence.
    if user is None or user.tenant_id != tenant_id:
        raise NotFound("no such user")
    return user


async def _commit_unique(uow: UnitOfWork, email: str) -> None:
    try:
        await uow.commit()
    except IntegrityError:
        raise AlreadyExists(f"a user with email {email!r} already exists") from None


async def create_user(runtime: Runtime, tenant_id: str, data: UserCreate) -> UserRead:
    async with UnitOfWork(runtime) as uow:
        user = models.User(id=new_id("usr"), tenant_id=tenant_id, **data.model_dump())
        uow.session.add(user)
        await _commit_unique(uow, data.email)
        return UserRead.model_validate(user)


async def list_users(runtime: Runtime, tenant_id: str, *, limit: int, cursor: str | None) -> Page[UserRead]:
    async with UnitOfWork(runtime) as uow:
        statement = select(models.User).where(models.User.tenant_id == tenant_id)
        return await paginate(
            uow.session, statement, models.User.id, UserRead.model_validate, limit=limit, cursor=cursor
        )


async def get_user(runtime: Runtime, tenant_id: str, user_id: str) -> UserRead:
    async with UnitOfWork(runtime) as uow:
        return UserRead.model_validate(await _owned(uow, tenant_id, user_id))


async def update_user(runtime: Runtime, tenant_id: str, user_id: str, data: UserUpdate) -> UserRead:
    async with UnitOfWork(runtime) as uow:
        user = await _owned(uow, tenant_id, user_id)
        changes = data.model_dump(exclude_unset=True)
        for required, wire_name in (("email", "email"), ("time_zone", "timeZone")):
            if required in changes and changes[required] is None:
                raise InvalidInput(f"{wire_name} cannot be cleared", field=wire_name)
        for field, value in changes.items():
            setattr(user, field, value)
        await _commit_unique(uow, user.email)
        return UserRead.model_validate(user)


async def delete_user(runtime: Runtime, tenant_id: str, user_id: str) -> None:
    async with UnitOfWork(runtime) as uow:
        await uow.session.delete(await _owned(uow, tenant_id, user_id))
        await uow.commit()
