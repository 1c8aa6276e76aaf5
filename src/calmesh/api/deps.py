"""What routes depend on: the runtime, the authenticated tenant, page parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from calmesh.errors import AuthenticationFailed
from calmesh.services import tenants
from calmesh.services.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from calmesh.services.runtime import Runtime

__all__ = ["PageParams", "PageParamsDep", "RuntimeDep", "TenantIdDep"]


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

# auto_error=False: a missing key is reported by our own problem handler, as every 401 is.
_bearer = HTTPBearer(auto_error=False, description="A tenant API key (calmesh tenants create).")


async def get_tenant_id(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or not credentials.credentials:
        raise AuthenticationFailed()
    return await tenants.authenticate(runtime, credentials.credentials)


#: The id of the tenant whose API key made the request; every query is scoped by it.
TenantIdDep = Annotated[str, Depends(get_tenant_id)]


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    cursor: str | None


def get_page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(description="The nextCursor of the previous page.")] = None,
) -> PageParams:
    return PageParams(limit, cursor)


PageParamsDep = Annotated[PageParams, Depends(get_page_params)]
