"""Every file of the shared real-world corpus: read or refused cleanly, and written back faithfully.

The corpus (616 files from icalendar, vobject, ical4j, libical, ical.js, khal, x-wr-timezone and
Apple's CalDAV tester) lives beside the repository in ``shared/corpus/ics``. Without it the test
is skipped, except under CI=true, where a missing corpus is a failure.
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from calmesh.domain.events import Event, EventTime
from calmesh.errors import InvalidCalendarData
from calmesh.ical import parse_calendar, write_calendar

CORPUS = (Path(__file__).parents[2] / ".." / "shared" / "corpus" / "ics").resolve()
#: Seconds one file may take to be read, written and read again.
BUDGET = 5.0


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        reason = f"the shared iCalendar corpus is not at {CORPUS}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        print(f"skipped: {reason}")
        pytest.skip(reason)
    return sorted(path for path in CORPUS.rglob("*") if path.is_file())


def _instant(moment: EventTime) -> datetime | date:
    """Aware times compare as UTC instants; floating times and dates as the values they are."""
    value = moment.value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc)
    return value


def _what_users_see(event: Event) -> tuple[object, ...]:
    recurrence = event.recurrence
    recurrence_id = event.recurrence_id
    return (
        event.uid,
        _instant(event.start),
        _instant(event.end),
        event.all_day,
        None
        if recurrence is None
        else (
            recurrence.rrules,
            [_instant(t) for t in recurrence.rdates],
            [_instant(t) for t in recurrence.exdates],
        ),
        None
        if recurrence_id is None
        else (_instant(recurrence_id.value), recurrence_id.this_and_future),
    )


def test_every_corpus_file_is_read_or_refused_and_round_trips() -> None:
    files = _corpus_files()
    assert len(files) > 600, f"only {len(files)} files in {CORPUS}"
    read = refused = 0
    failures: list[str] = []
    for path in files:
        name = str(path.relative_to(CORPUS))
        began = time.perf_counter()
        try:
            parsed = parse_calendar(path.read_bytes())
        except InvalidCalendarData as exc:
            refused += 1
            if "\n" in exc.message or not exc.message.strip():
                failures.append(f"{name}: refusal is not one clear line: {exc.message!r}")
            continue
        read += 1
        again = parse_calendar(write_calendar(parsed.events, name=parsed.name))
        elapsed = time.perf_counter() - began
        if elapsed > BUDGET:
            failures.append(f"{name}: took {elapsed:.1f}s")
        if again.problems:
            failures.append(f"{name}: written output has problems: {again.problems[0].message}")
        before = [_what_users_see(e) for e in parsed.events]
        after = [_what_users_see(e) for e in again.events]
        if len(before) != len(after):
            failures.append(f"{name}: {len(before)} events became {len(after)}")
        elif before != after:
            changed = next((b, a) for b, a in zip(before, after, strict=True) if b != a)
            failures.append(f"{name}: round trip changed {changed[0]} into {changed[1]}")
    print(f"corpus: {read} read and written back, {refused} refused")
    assert failures == []
    # Most of the corpus is iCalendar: a reader that refused it wholesale must not pass.
    assert read > 500
