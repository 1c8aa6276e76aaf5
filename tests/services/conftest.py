"""The ``remote`` fixture: the provider side of the two-way sync scenarios, one per remote kind.

``remote`` is parametrized over radicale, xandikos and google (ids as the kinds). A test class
narrows it with ``@pytest.mark.parametrize("remote", [...], indirect=True)`` — see
``tests/services/sync_scenarios.py``, whose scenarios run on CalDAV from ``test_sync_caldav.py``
and on Google from ``test_sync_google.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.caldav_servers import CalDAVServer
from tests.services.remote_sides import (
    REMOTE_KINDS,
    CalDAVSide,
    RemoteSide,
    google_side,
)


@pytest.fixture(params=REMOTE_KINDS)
async def remote(request: pytest.FixtureRequest) -> AsyncIterator[RemoteSide]:
    """Another client at a provider: a real CalDAV server, or calmesh's Google emulator."""
    side: RemoteSide
    if request.param == "google":
        side = await google_side(request)
    else:
        server: CalDAVServer = request.getfixturevalue(f"{request.param}_server")
        server.ensure_running()
        side = CalDAVSide(server)
    try:
        yield side
    finally:
        await side.close()
