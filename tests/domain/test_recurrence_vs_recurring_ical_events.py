"""Cross-check recurrence expansion against recurring-ical-events on the real-world corpus.

Every calendar of ../shared/corpus/ics with an RRULE or RDATE line (and a VEVENT) is read twice — by
:func:`calmesh.ical.parse_calendar` for :func:`calmesh.domain.recurrence.expand_events`, and by
icalendar for recurring-ical-events — and expanded over two windows: the two years after the
earliest DTSTART (where COUNT, UNTIL, EXDATE and overrides happen) and 2027–2028 (far from most
DTSTARTs: infinite series bounded by the window). The sets of (UID, start instant) must be equal.

Both sides read floating and all-day times as UTC. Deliberate API differences are normalised
away, not listed: recurring-ical-events returns cancelled overrides (calmesh removes the instance,
RFC 5545 §3.8.1.11), and calmesh's parser gives UID-less events a synthetic ``calmesh-`` UID.

``KNOWN_DIFFERENCES`` lists each calendar where the two disagree, with the reason; the test fails
if another calendar disagrees or a listed one starts agreeing, so the table stays true.
"""

from __future__ import annotations

import warnings
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from calmesh.domain.recurrence import expand_events
from calmesh.errors import InvalidCalendarData
from calmesh.ical import parse_calendar

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "ics"
UTC = timezone.utc
FAR_WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC))
TALLY = "recurring-ical-events cross-check (calendars)"

KNOWN_DIFFERENCES: dict[str, str] = {
    "ical4j/samples/valid/google_aus_holidays.ics": (
        "DTSTART;TZID=America/Los_Angeles:20041225 is a DATE with a TZID. RFC 5545 §3.2.19 gives "
        "TZID meaning only for DATE-TIME, so calmesh reads an all-day date (midnight in the "
        "local zone); recurring-ical-events makes it midnight in Los Angeles."
    ),
    "x-wr-timezone/rdate-hackerpublicradio.out.ics": (
        "Parser: DTSTART;TZID=Europe/London:20130803T200000Z has both a TZID and a 'Z'; "
        "calmesh.ical takes the 'Z' (UTC, RFC 5545 §3.3.5 form #2), icalendar the TZID."
    ),
}


def _recurring_files() -> list[Path]:
    if not CORPUS.exists():
        return []
    files = []
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.suffix in {".md", ".json", ".py"}:
            continue
        if any(line.startswith((b"RRULE", b"RDATE")) for line in path.read_bytes().splitlines()):
            files.append(path)
    return files


FILES = _recurring_files()


def _instant(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _uid(uid: str | None) -> str:
    # The parser invents "calmesh-<hash>" UIDs for events that have none.
    return "?" if uid is None or uid.startswith("calmesh-") else uid


def _theirs(data: bytes, window: tuple[datetime, datetime]) -> set[tuple[str, datetime]] | None:
    import icalendar
    import recurring_ical_events

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calendar = icalendar.Calendar.from_ical(data)
            components: list[Any] = list(recurring_ical_events.of(calendar).between(*window))
            found = set()
            for component in components:
                cancelled = str(component.get("STATUS", "")).upper() == "CANCELLED"
                if component.get("RECURRENCE-ID") is not None and cancelled:
                    continue
                uid = component.get("UID")
                found.add((_uid(None if uid is None else str(uid)), _instant(component["DTSTART"].dt)))
            return found
    except Exception:  # noqa: BLE001 - any failure means "cannot read", which is what we report
        return None


@pytest.mark.slow
@pytest.mark.skipif(not FILES, reason="corpus ../shared/corpus/ics not present")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_agrees_with_recurring_ical_events(path: Path, tallies: dict[str, Counter[str]]) -> None:
    tally = tallies.setdefault(TALLY, Counter())
    name = str(path.relative_to(CORPUS))
    data = path.read_bytes()
    try:
        events = parse_calendar(data).events
    except InvalidCalendarData:
        tally["unreadable by calmesh.ical"] += 1
        pytest.skip("calmesh.ical cannot read this calendar")
    if not events:
        tally["without a VEVENT"] += 1
        pytest.skip("no VEVENT (RRULE/RDATE only in a VTIMEZONE or a VTODO)")
    earliest = min(event.start.to_utc() for event in events)
    differences = []
    for window in ((earliest, earliest + timedelta(days=730)), FAR_WINDOW):
        theirs = _theirs(data, window)
        if theirs is None:
            tally["unreadable by recurring-ical-events"] += 1
            pytest.skip("recurring-ical-events cannot read this calendar")
        ours = {(_uid(o.uid), o.start_at) for o in expand_events(events, *window, on_invalid=lambda uid, exc: None)}
        if ours != theirs:
            differences.append(
                f"{window[0]:%Y-%m-%d}..: calmesh only {sorted(ours - theirs)[:3]}, "
                f"recurring-ical-events only {sorted(theirs - ours)[:3]}"
            )
    if name in KNOWN_DIFFERENCES:
        tally["differ, explained"] += 1
        assert differences, f"{name} now agrees: remove it from KNOWN_DIFFERENCES"
    else:
        tally["agree" if not differences else "DIFFER"] += 1
        assert not differences, "\n".join(differences)


def test_known_differences_name_corpus_files() -> None:
    names = {str(p.relative_to(CORPUS)) for p in FILES}
    assert not FILES or set(KNOWN_DIFFERENCES) <= names
