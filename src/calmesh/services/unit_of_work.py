"""A unit of work: one session, one transaction, rolled back unless committed explicitly."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from calmesh.errors import NotFound, StorageUnavailable
from calmesh.services.runtime import Runtime

__all__ = ["ANNOUNCED", "UnitOfWork"]

#: Session-info key set by :func:`calmesh.services.announcements.announce`: the commit nudges the
#: webhook dispatcher.
ANNOUNCED = "calmesh.announced"


class _TenantRow(Protocol):
    tenant_id: Any


RowT = TypeVar("RowT", bound=_TenantRow)


class UnitOfWork:
    """``async with UnitOfWork(runtime) as uow: …; await uow.commit()``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        assert self._session is not None, "use the unit of work inside 'async with'"
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self.runtime.sessions()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            await session.rollback()
        finally:
            await session.close()
            self._session = None
        if isinstance(exc, OperationalError) and _is_connection_error(exc):
            raise StorageUnavailable() from exc

    async def commit(self) -> None:
        await self.session.commit()
        if self.session.info.pop(ANNOUNCED, False):
            self.runtime.signals.webhooks_pending.set()

    async def owned(self, model: type[RowT], row_id: str, tenant_id: str, missing: str) -> RowT:
        """The row ``row_id`` of ``model`` if it belongs to the tenant; else NotFound(``missing``).

        Another tenant's row is reported exactly like a row that does not exist.
        """
        row = await self.session.get(model, row_id)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound(missing)
        return row


def _is_connection_error(exc: OperationalError) -> bool:
    return bool(exc.connection_invalidated) or "connect" in str(exc.orig).lower()
