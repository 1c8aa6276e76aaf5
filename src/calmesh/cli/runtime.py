"""Running a CLI command's async body with a :class:`~calmesh.services.runtime.Runtime`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from calmesh.config import load_settings

if TYPE_CHECKING:
    from calmesh.services.runtime import Runtime

__all__ = ["run_with_runtime"]

T = TypeVar("T")


def run_with_runtime(body: Callable[["Runtime"], Awaitable[T]]) -> T:
    """Build the runtime from the settings, run ``body`` with it, and close it.

    On SQLite the migrations are applied first, exactly as ``calmesh serve`` does, so every
    command works on the embedded default without a separate ``db upgrade``.
    """

    # Imported here so that commands which never touch the database start fast.
    from calmesh.services.runtime import build_runtime
    from calmesh.storage.migrate import upgrade

    async def run() -> T:
        runtime = build_runtime(load_settings())
        try:
            if runtime.is_sqlite:
                await upgrade(runtime.engine)
            return await body(runtime)
        finally:
            await runtime.close()

    return asyncio.run(run())
