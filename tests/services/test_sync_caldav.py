"""The sync engine against real CalDAV servers (Radicale and Xandikos), the same scenarios on both.

The two-way scenarios are provider-independent (:mod:`tests.services.sync_scenarios`); this
module runs them on both CalDAV servers, plus what only CalDAV can express. Everything goes over
HTTP on loopback: the servers are the real ones, changes "made by another client" are raw PUTs
and DELETEs, and calmesh's side goes through its services exactly as the API and the scheduler
use them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from calmesh.services import integrations
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.sync import sync_connection
from calmesh.storage.migrate import upgrade
from tests.caldav_servers import CalDAVServer
from tests.conftest import make_settings
from tests.services.remote_sides import (
    CALDAV_KINDS,
    CalDAVSide,
    list_caldav_objects,
    selected_calendar_id,
    vcalendar,
)
from tests.services.sync_scenarios import NEXT_YEAR, TwoWaySyncScenarios, mirror_series

__all__ = ["NEXT_YEAR", "calendar_id_of", "connect", "vcalendar", "vevent"]


@pytest.mark.parametrize("remote", CALDAV_KINDS, indirect=True)
class TestTwoWaySyncOnCalDAV(TwoWaySyncScenarios):
    """Every two-way scenario, on Radicale and on Xandikos."""


# --- helpers other CalDAV tests use (tests/services/test_connection_lifecycle.py) -----------


def vevent(uid: str, summary: str, start: str, *extra: str, end: str | None = None) -> str:
    """A VEVENT in Europe/Berlin from ``YYYYMMDDTHHMMSS`` text; an hour long unless ``end``."""
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=Europe/Berlin:{start}",
        f"DTEND;TZID=Europe/Berlin:{end or start[:9] + str(int(start[9:11]) + 1).zfill(2) + start[11:]}",
        f"SUMMARY:{summary}",
        *extra,
        "END:VEVENT",
    ]
    return "\r\n".join(lines)


async def connect(runtime: Runtime, server: CalDAVServer, calendar_url: str, **settings: object) -> tuple[str, str]:
    """A tenant and a connection syncing just ``calendar_url``; returns (tenant id, connection id)."""
    return await CalDAVSide(server).connect(runtime, calendar_url, **settings)


calendar_id_of = selected_calendar_id


# --- CalDAV only ----------------------------------------------------------------------------


@pytest.fixture
async def runtime(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = build_runtime(make_settings(sqlite_url, tmp_path, allow_private_network=True))
    await upgrade(rt.engine)
    yield rt
    await rt.close()


async def test_an_unreadable_object_is_reported_and_the_rest_syncs(runtime: Runtime, caldav_server: CalDAVServer) -> None:
    url = await caldav_server.mkcalendar("broken")
    await caldav_server.put_object(url, "good.ics", vcalendar(vevent("good", "Good", f"{NEXT_YEAR}0302T090000")))
    # A VEVENT without DTSTART has no time: calmesh cannot use it. Radicale refuses such a PUT
    # and hides such a file, so it is written behind its back and may never be listed at all.
    bad = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:bad\r\n"
        "DTSTAMP:20260101T000000Z\r\nSUMMARY:no start\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    caldav_server.write_raw_object(url, "bad.ics", bad.encode())
    listed = any("UID:bad" in text for text in await list_caldav_objects(caldav_server, url))
    tenant_id, connection_id = await connect(runtime, caldav_server, url)
    await sync_connection(runtime, connection_id)
    calendar_id = await calendar_id_of(runtime, connection_id)
    assert sorted(await mirror_series(runtime, calendar_id)) == ["good"]
    status = await integrations.sync_status(runtime, tenant_id, connection_id)
    assert status.state == "ACTIVE"
    reported = [p["itemId"].rsplit("/", 1)[-1] for p in status.calendars[0].problems]
    assert reported == (["bad.ics"] if listed else [])
