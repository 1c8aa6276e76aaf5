"""The two-way sync scenarios, independent of the provider: one suite, run on every remote kind.

:class:`TwoWaySyncScenarios` holds them. It is not collected here (neither the module nor the
class is named for pytest); each provider's test module subclasses it and narrows the ``remote``
fixture (``tests/services/conftest.py``) to its kinds, so pytest collects every scenario once
per remote kind:

* ``test_sync_caldav.py::TestTwoWaySyncOnCalDAV`` — radicale, xandikos;
* ``test_sync_google.py::TestTwoWaySyncOnGoogle`` — google.

Everything goes over HTTP on loopback: changes "made by another client" go straight to the
provider through the ``remote`` side (:mod:`tests.services.remote_sides`), and calmesh's side
goes through its services (the mirror, the sync executor) exactly as the API and the scheduler
use them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from calmesh.domain.events import (
    Event,
    EventStatus,
    EventTime,
    Recurrence,
    RecurrenceId,
)
from calmesh.errors import ProviderUnreachable, SyncHalted
from calmesh.services import integrations, mirror
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.sync import sync_connection
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.event_rows import event_from_row
from calmesh.storage.migrate import upgrade
from tests.conftest import make_settings
from tests.services.remote_sides import RemoteSide, selected_calendar_id

__all__ = [
    "BERLIN",
    "NEXT_YEAR",
    "Interrupted",
    "TwoWaySyncScenarios",
    "add_local",
    "at",
    "local_event",
    "mirror_series",
    "row_count",
]

BERLIN = ZoneInfo("Europe/Berlin")
NEXT_YEAR = date.today().year + 1


def at(day: int, hour: int, minute: int = 0, *, month: int = 3) -> datetime:
    """A time next year, in Berlin (March unless told)."""
    return datetime(NEXT_YEAR, month, day, hour, minute, tzinfo=BERLIN)


async def mirror_series(runtime: Runtime, calendar_id: str) -> dict[str, list[Event]]:
    """The mirror as {uid: [master, overrides…]}."""
    async with UnitOfWork(runtime) as uow:
        rows = (
            await uow.session.scalars(
                select(models.Event)
                .where(models.Event.calendar_id == calendar_id)
                .order_by(models.Event.ical_uid, models.Event.recurrence_id.is_not(None), models.Event.recurrence_id)
            )
        ).all()
        found: dict[str, list[Event]] = {}
        for row in rows:
            found.setdefault(row.ical_uid, []).append(event_from_row(row))
        return found


async def row_count(runtime: Runtime, model: type[models.Base], **where: object) -> int:
    async with UnitOfWork(runtime) as uow:
        statement = select(func.count()).select_from(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return int(await uow.session.scalar(statement) or 0)


async def add_local(runtime: Runtime, tenant_id: str, calendar_id: str, *events: Event) -> None:
    """Events made in calmesh (the mirror, as the events API writes it)."""
    async with UnitOfWork(runtime) as uow:
        await mirror.replace_series(uow, tenant_id, calendar_id, events, origin="calmesh")
        await uow.commit()


def local_event(uid: str, summary: str, day: int, hour: int = 10) -> Event:
    start = at(day, hour)
    return Event(uid=uid, start=EventTime(start, "Europe/Berlin"), end=EventTime(start + timedelta(hours=1), "Europe/Berlin"), summary=summary)


class Interrupted(Exception):
    pass


class TwoWaySyncScenarios:
    """The scenarios; subclasses choose the remote kinds (see the module docstring)."""

    @pytest.fixture
    async def runtime(self, remote: RemoteSide, sqlite_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
        rt = build_runtime(make_settings(sqlite_url, tmp_path, **remote.settings()))
        await upgrade(rt.engine)
        yield rt
        await rt.close()

    # --- provider -> mirror ---------------------------------------------------------------

    async def test_provider_changes_reach_the_mirror(self, runtime: Runtime, remote: RemoteSide) -> None:
        cal = await remote.new_calendar("inbound")
        await remote.add(cal, "a", "Standup", at(2, 9))
        await remote.add(cal, "b", "Lunch", at(2, 12))
        _, connection_id = await remote.connect(runtime, cal)

        report = await sync_connection(runtime, connection_id)
        calendar_id = await selected_calendar_id(runtime, connection_id)
        series = await mirror_series(runtime, calendar_id)
        assert {uid: s[0].summary for uid, s in series.items()} == {"a": "Standup", "b": "Lunch"}
        assert report.total("pulled") == 2
        assert await row_count(runtime, models.BusyBlock, calendar_id=calendar_id) == 2
        async with UnitOfWork(runtime) as uow:
            first_id = await uow.session.scalar(select(models.Event.id).where(models.Event.ical_uid == "a"))

        await remote.change(cal, "a", summary="Standup (moved)", start=at(2, 10))
        await remote.remove(cal, "b")
        await remote.add(cal, "c", "Review", at(3, 15))
        report = await sync_connection(runtime, connection_id)

        series = await mirror_series(runtime, calendar_id)
        assert {uid: s[0].summary for uid, s in series.items()} == {"a": "Standup (moved)", "c": "Review"}
        assert series["a"][0].start.value == at(2, 10)
        assert series["a"][0].end.value == at(2, 11)
        async with UnitOfWork(runtime) as uow:
            assert await uow.session.scalar(select(models.Event.id).where(models.Event.ical_uid == "a")) == first_id
        assert (report.total("pulled"), report.total("deleted_locally")) == (2, 1)
        async with UnitOfWork(runtime) as uow:
            connection = await uow.session.get(models.Connection, connection_id)
            assert connection is not None and connection.status == "ACTIVE" and connection.last_sync_at is not None

        again = await sync_connection(runtime, connection_id)
        assert again.total("pulled") + again.total("pushed") + again.total("deleted_locally") == 0

    async def test_recurring_series_with_moved_and_cancelled_instances_survives_both_ways(
        self, runtime: Runtime, remote: RemoteSide
    ) -> None:
        cal = await remote.new_calendar("series")
        await remote.add(cal, "weekly", "Weekly sync", at(2, 9), rrule="FREQ=WEEKLY;COUNT=6")
        await remote.move_instance(cal, "weekly", at(9, 9), at(10, 14), at(10, 15), "Weekly sync (moved)")
        await remote.cancel_instance(cal, "weekly", at(16, 9))
        tenant_id, connection_id = await remote.connect(runtime, cal)
        await sync_connection(runtime, connection_id)
        calendar_id = await selected_calendar_id(runtime, connection_id)

        series = (await mirror_series(runtime, calendar_id))["weekly"]
        live = [e for e in series if e.status is not EventStatus.CANCELLED]
        assert [e.summary for e in live] == ["Weekly sync", "Weekly sync (moved)"]
        assert live[0].recurrence is not None and live[0].recurrence.rrules == ("FREQ=WEEKLY;COUNT=6",)
        assert live[1].recurrence_id is not None and live[1].recurrence_id.value.to_utc() == at(9, 9)
        assert (live[1].start.value, live[1].end.value) == (at(10, 14), at(10, 15))
        remote.assert_cancelled(series, [at(16, 9)])
        # Six weekly instances, one cancelled, one moved: five busy blocks, one of them on a Tuesday.
        async with UnitOfWork(runtime) as uow:
            starts = (await uow.session.scalars(select(models.BusyBlock.start_ts).where(models.BusyBlock.calendar_id == calendar_id))).all()
        assert len(starts) == 5
        assert int(at(10, 14).timestamp()) in starts

        # A calmesh-side series of the same shape goes out and comes back the same.
        start = at(6, 9, month=4)
        ours = Event(
            uid="ours-weekly", start=EventTime(start, "Europe/Berlin"), end=EventTime(start + timedelta(hours=1), "Europe/Berlin"),
            summary="Planning", recurrence=Recurrence(rrules=("FREQ=WEEKLY;COUNT=4",), exdates=(EventTime(start + timedelta(weeks=2), "Europe/Berlin"),)),
        )
        override = replace(
            ours, recurrence=None, recurrence_id=RecurrenceId(EventTime(start + timedelta(weeks=1), "Europe/Berlin")),
            start=EventTime(start + timedelta(weeks=1, hours=3), "Europe/Berlin"), end=EventTime(start + timedelta(weeks=1, hours=4), "Europe/Berlin"),
            summary="Planning (later)",
        )
        await add_local(runtime, tenant_id, calendar_id, ours, override)
        report = await sync_connection(runtime, connection_id)
        assert report.total("pushed") == 1
        there = (await remote.series(cal))["ours-weekly"]
        assert [e.summary for e in there] == ["Planning", "Planning (later)"]
        master_there = there[0]
        assert master_there.recurrence_id is None and master_there.recurrence is not None
        assert [m.to_utc() for m in master_there.recurrence.exdates] == [start + timedelta(weeks=2)]
        assert there[1].recurrence_id is not None and there[1].recurrence_id.value.to_utc() == start + timedelta(weeks=1)
        assert there[1].start.to_utc() == start + timedelta(weeks=1, hours=3)
        assert "X-CALMESH-ID" in master_there.x_properties

        echo = await sync_connection(runtime, connection_id)
        assert echo.total("pulled") + echo.total("pushed") == 0, "our own write came back as a change"
        assert await row_count(runtime, models.Event, calendar_id=calendar_id, ical_uid="ours-weekly") == 2

    # --- mirror -> provider ---------------------------------------------------------------

    async def test_calmesh_changes_reach_the_provider_in_place(self, runtime: Runtime, remote: RemoteSide) -> None:
        cal = await remote.new_calendar("outbound")
        tenant_id, connection_id = await remote.connect(runtime, cal)
        await sync_connection(runtime, connection_id)
        calendar_id = await selected_calendar_id(runtime, connection_id)

        await add_local(runtime, tenant_id, calendar_id, local_event("mine", "Booked call", 4))
        await sync_connection(runtime, connection_id)
        assert {uid: e[0].summary for uid, e in (await remote.series(cal)).items()} == {"mine": "Booked call"}

        moved = local_event("mine", "Booked call", 5, hour=15)
        await add_local(runtime, tenant_id, calendar_id, moved)
        await sync_connection(runtime, connection_id)
        there = await remote.series(cal)
        assert list(there) == ["mine"], "moving a meeting must not create a second one"
        assert await remote.object_count(cal) == 1, "moving a meeting must not create a second one"
        assert there["mine"][0].start.value == at(5, 15)

        async with UnitOfWork(runtime) as uow:
            await mirror.delete_series(uow, tenant_id, calendar_id, "mine")
            await uow.commit()
        report = await sync_connection(runtime, connection_id)
        assert report.total("deleted_remotely") == 1
        assert await remote.series(cal) == {}
        assert await row_count(runtime, models.SyncItem, calendar_id=calendar_id) == 0

    async def test_privacy_settings_shape_what_the_provider_sees(self, runtime: Runtime, remote: RemoteSide) -> None:
        cal = await remote.new_calendar("private")
        tenant_id, connection_id = await remote.connect(
            runtime, cal,
            showEventDetails=False, eventDefaults={"visibility": "private", "reminders": [{"method": "popup", "minutes": 15}]},
        )
        await sync_connection(runtime, connection_id)
        calendar_id = await selected_calendar_id(runtime, connection_id)
        secret = replace(local_event("secret", "Board: layoffs", 6), description="confidential", location="Room 1")
        await add_local(runtime, tenant_id, calendar_id, secret)
        await sync_connection(runtime, connection_id)

        there = (await remote.series(cal))["secret"][0]
        assert (there.summary, there.description, there.location) == ("Busy", None, None)
        assert there.visibility.value == "private" and [r.minutes_before for r in there.reminders] == [15]
        assert (await mirror_series(runtime, calendar_id))["secret"][0].summary == "Board: layoffs"
        echo = await sync_connection(runtime, connection_id)
        assert echo.total("pulled") + echo.total("pushed") == 0

    # --- conflicts, expired cursors, failures ---------------------------------------------

    @pytest.mark.parametrize(("policy", "winner"), [("REMOTE_WINS", "theirs"), ("LOCAL_WINS", "ours")])
    async def test_a_change_on_both_sides_is_settled_by_policy_and_recorded(
        self, runtime: Runtime, remote: RemoteSide, policy: str, winner: str
    ) -> None:
        cal = await remote.new_calendar(f"conflict-{policy.lower()}")
        await remote.add(cal, "x", "original", at(2, 9))
        tenant_id, connection_id = await remote.connect(runtime, cal, conflictPolicy=policy)
        await sync_connection(runtime, connection_id)
        calendar_id = await selected_calendar_id(runtime, connection_id)

        await remote.change(cal, "x", summary="theirs")
        ours = replace((await mirror_series(runtime, calendar_id))["x"][0], summary="ours")
        async with UnitOfWork(runtime) as uow:
            await mirror.replace_series(uow, tenant_id, calendar_id, [ours])
            await uow.commit()
        await sync_connection(runtime, connection_id)

        assert (await mirror_series(runtime, calendar_id))["x"][0].summary == winner
        assert (await remote.series(cal))["x"][0].summary == winner
        assert await remote.object_count(cal) == 1
        conflicts = await integrations.list_conflicts(runtime, tenant_id, connection_id, limit=10, cursor=None)
        assert [(c.ical_uid, c.winner, c.local_summary, c.remote_summary) for c in conflicts.data] == [
            ("x", "remote" if winner == "theirs" else "local", "ours", "theirs")
        ]

    async def test_an_invalidated_sync_cursor_means_a_full_resync_without_duplicates(
        self, runtime: Runtime, remote: RemoteSide
    ) -> None:
        cal = await remote.new_calendar("token")
        for name in "abc":
            await remote.add(cal, name, name.upper(), at(2, 9))
        _, connection_id = await remote.connect(runtime, cal)
        await sync_connection(runtime, connection_id)
        calendar_id = await selected_calendar_id(runtime, connection_id)
        await remote.invalidate_cursor(runtime, calendar_id)
        await remote.add(cal, "d", "D", at(2, 9))

        report = await sync_connection(runtime, connection_id)
        assert report.calendars[0].full, "a forgotten cursor means listing everything"
        assert sorted(await mirror_series(runtime, calendar_id)) == ["a", "b", "c", "d"]
        assert await row_count(runtime, models.Event, calendar_id=calendar_id) == 4
        assert await row_count(runtime, models.SyncItem, calendar_id=calendar_id) == 4

    async def test_a_provider_gone_mid_sync_is_an_error_and_the_next_sync_recovers(
        self, runtime: Runtime, remote: RemoteSide
    ) -> None:
        cal = await remote.new_calendar("outage")
        await remote.add(cal, "a", "A", at(2, 9))
        tenant_id, connection_id = await remote.connect(runtime, cal)
        await sync_connection(runtime, connection_id)
        calendar_id = await selected_calendar_id(runtime, connection_id)
        await add_local(runtime, tenant_id, calendar_id, local_event("pending", "Pending", 7))

        async def stop_the_provider(step: str) -> None:
            if step == "fetched":
                await remote.outage()

        with pytest.raises(ProviderUnreachable):
            await sync_connection(runtime, connection_id, checkpoint=stop_the_provider)
        status = await integrations.sync_status(runtime, tenant_id, connection_id)
        assert status.state == "ERROR" and status.last_error
        assert status.next_sync_at is not None
        await remote.recover()

        await sync_connection(runtime, connection_id)
        assert sorted(await remote.series(cal)) == ["a", "pending"]
        assert (await integrations.sync_status(runtime, tenant_id, connection_id)).state == "ACTIVE"

    async def test_a_calendar_that_suddenly_lists_nothing_halts_instead_of_emptying_the_mirror(
        self, runtime: Runtime, remote: RemoteSide
    ) -> None:
        cal = await remote.new_calendar("vanishing")
        for n in range(12):
            await remote.add(cal, f"e{n}", f"E{n}", at(2, 9))
        tenant_id, connection_id = await remote.connect(runtime, cal)
        await sync_connection(runtime, connection_id)
        calendar_id = await selected_calendar_id(runtime, connection_id)
        for n in range(12):
            await remote.remove(cal, f"e{n}")

        with pytest.raises(SyncHalted, match="full resync"):
            await sync_connection(runtime, connection_id)
        assert await row_count(runtime, models.Event, calendar_id=calendar_id) == 12
        assert (await integrations.sync_status(runtime, tenant_id, connection_id)).state == "ERROR"

        await sync_connection(runtime, connection_id, full=True)
        assert await row_count(runtime, models.Event, calendar_id=calendar_id) == 0

    # --- interrupted anywhere -------------------------------------------------------------

    async def test_a_sync_killed_between_any_two_steps_loses_and_duplicates_nothing(
        self, runtime: Runtime, remote: RemoteSide
    ) -> None:
        cal = await remote.new_calendar("interrupted")
        await remote.add(cal, "kept", "Kept", at(2, 9))
        await remote.add(cal, "gone", "Gone", at(2, 11))
        tenant_id, connection_id = await remote.connect(runtime, cal)
        await sync_connection(runtime, connection_id)
        calendar_id = await selected_calendar_id(runtime, connection_id)

        step = 0
        while True:
            step += 1
            # Fresh pending work on both sides each round.
            await remote.change(cal, "kept", summary=f"Kept v{step}")
            await remote.add(cal, f"new{step}", "New", at(3, 9))
            await add_local(runtime, tenant_id, calendar_id, local_event(f"local{step}", "Local", 8))
            seen: list[str] = []

            async def kill_at(name: str, *, at: int = step, seen: list[str] = seen) -> None:
                seen.append(name)
                if len(seen) == at:
                    raise Interrupted(name)

            try:
                await sync_connection(runtime, connection_id, checkpoint=kill_at)
            except Interrupted:
                pass
            else:
                break  # every step has been interrupted once
            async with UnitOfWork(runtime) as uow:  # the killed process never released its lease
                connection = await uow.session.get(models.Connection, connection_id)
                assert connection is not None
                connection.sync_lease_until = None
                await uow.commit()
            await sync_connection(runtime, connection_id)

            local, there = await mirror_series(runtime, calendar_id), await remote.series(cal)
            assert sorted(local) == sorted(there), f"diverged after an interruption at step {step} ({seen[-1]})"
            assert local["kept"][0].summary == f"Kept v{step}"
            assert await row_count(runtime, models.Event, calendar_id=calendar_id) == len(local)
            assert await remote.object_count(cal) == len(there), "a duplicate at the provider"
        assert step > 5, "the sync has more steps than that"
