"""Google masters and exceptions grouped into calmesh items (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from calmesh.domain.events import EventTime, RecurrenceId
from calmesh.providers.base import ItemProblem, RemoteItem
from calmesh.providers.google._series import SERIES_ETAG_PREFIX, group, item_etag, read_series

BERLIN = ZoneInfo("Europe/Berlin")


def master(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "series1",
        "etag": '"100"',
        "status": "confirmed",
        "iCalUID": "series-uid@calmesh",
        "summary": "Standup",
        "start": {"dateTime": "2026-03-02T09:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-02T09:15:00+01:00", "timeZone": "Europe/Berlin"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=6"],
        "reminders": {"useDefault": True},
    }
    base.update(fields)
    return base


def exception(day: int, **fields: Any) -> dict[str, Any]:
    original = {"dateTime": f"2026-03-{day:02d}T09:00:00+01:00", "timeZone": "Europe/Berlin"}
    base: dict[str, Any] = {
        "id": f"series1_202603{day:02d}T080000Z",
        "etag": f'"2{day:02d}"',
        "status": "confirmed",
        "iCalUID": "series-uid@calmesh",
        "recurringEventId": "series1",
        "originalStartTime": original,
        "summary": "Standup",
        "start": original,
        "end": {"dateTime": f"2026-03-{day:02d}T09:15:00+01:00", "timeZone": "Europe/Berlin"},
        "reminders": {"useDefault": True},
    }
    base.update(fields)
    return base


def cancelled(day: int) -> dict[str, Any]:
    # A tombstone: only what Google guarantees.
    return {
        "id": f"series1_202603{day:02d}T080000Z",
        "etag": f'"3{day:02d}"',
        "status": "cancelled",
        "recurringEventId": "series1",
        "originalStartTime": {"dateTime": f"2026-03-{day:02d}T09:00:00+01:00", "timeZone": "Europe/Berlin"},
    }


def test_a_single_event_is_its_own_item_with_its_etag() -> None:
    item = read_series(master(recurrence=None), ())
    assert isinstance(item, RemoteItem) and item.id == "series1" and item.etag == '"100"'
    assert len(item.events) == 1 and item.uid == "series-uid@calmesh"


def test_changed_exceptions_are_overrides_and_cancelled_ones_exdates() -> None:
    moved = exception(16, summary="Standup (moved)", start={"dateTime": "2026-03-16T11:00:00+01:00", "timeZone": "Europe/Berlin"},
                      end={"dateTime": "2026-03-16T11:15:00+01:00", "timeZone": "Europe/Berlin"})
    item = read_series(master(), [moved, cancelled(23), exception(9, summary="Standup (renamed)")])
    assert isinstance(item, RemoteItem)
    series, first, second = item.events
    assert series.recurrence is not None
    assert series.recurrence.exdates == (EventTime(datetime(2026, 3, 23, 9, tzinfo=BERLIN), "Europe/Berlin"),)
    # Overrides sorted by recurrence id, carrying the master's uid.
    assert first.recurrence_id == RecurrenceId(EventTime(datetime(2026, 3, 9, 9, tzinfo=BERLIN), "Europe/Berlin"))
    assert first.summary == "Standup (renamed)" and first.uid == series.uid and first.recurrence is None
    assert second.start.value == datetime(2026, 3, 16, 11, tzinfo=BERLIN)
    assert item.etag is not None and item.etag.startswith(SERIES_ETAG_PREFIX)


def test_the_series_etag_is_stable_and_moves_with_any_exception() -> None:
    parts = [exception(9, summary="x"), cancelled(23)]
    first = item_etag(master(), parts)
    assert first == item_etag(master(), list(reversed(parts)))
    assert first != item_etag(master(), [exception(9, summary="x", etag='"999"'), cancelled(23)])
    assert first != item_etag(master(), [exception(9, summary="x")])
    assert first != item_etag(master(etag='"101"'), parts)


def test_an_exception_identical_to_its_instance_is_not_an_override() -> None:
    item = read_series(master(), [exception(9)])
    assert isinstance(item, RemoteItem) and len(item.events) == 1


def test_an_existing_exdate_and_a_cancelled_instance_for_it_give_one_exdate() -> None:
    item = read_series(master(recurrence=["RRULE:FREQ=WEEKLY;COUNT=6", "EXDATE:20260323T080000Z"]), [cancelled(23)])
    assert isinstance(item, RemoteItem) and item.events[0].recurrence is not None
    assert len(item.events[0].recurrence.exdates) == 1


def test_unreadable_series_and_instances_are_problems() -> None:
    assert isinstance(read_series(master(start=None), ()), ItemProblem)
    broken = exception(9)
    del broken["originalStartTime"]
    problem = read_series(master(), [broken])
    assert isinstance(problem, ItemProblem) and problem.id == "series1" and "originalStartTime" in problem.message


def test_grouping_puts_exceptions_under_their_master() -> None:
    grouped = group([exception(9), master(), cancelled(23), exception(9, summary="later")])
    assert list(grouped.masters) == ["series1"]
    assert [e.get("summary") for e in grouped.exceptions["series1"]] == [None, "later"]
