"""Benchmark recurrence expansion: calmesh against recurring-ical-events, in the same run.

Run: ``.venv/bin/python benchmarks/expand.py`` (``--repeat N`` for more runs; medians shown).

Two workloads:

1. every calendar of ../shared/corpus/ics with an RRULE or RDATE line that both sides can read,
   each expanded over the year after its earliest DTSTART;
2. a generated calendar of 10,000 events (seeded, so the same every run): 20% recurring
   (daily/weekly/monthly with COUNT, UNTIL or no end; EXDATEs; moved and cancelled instances
   as RECURRENCE-ID overrides), in Europe/Berlin, America/New_York and UTC, expanded over 2027.

Parsing is timed separately (calmesh.ical for calmesh, icalendar for recurring-ical-events) and
is *not* part of the expansion timings: those cover only ``expand_events`` and
``recurring_ical_events.of(calendar).between(...)``. "Same" compares the sets of
(UID, start instant), with cancelled overrides dropped from recurring-ical-events' output
(it returns them; calmesh removes the instance, RFC 5545 §3.8.1.11).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import icalendar
import recurring_ical_events

from calmesh.domain.events import Event
from calmesh.domain.recurrence import Occurrence, expand_events
from calmesh.errors import InvalidCalendarData
from calmesh.ical import parse_calendar

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "ics"
UTC = timezone.utc
YEAR_2027 = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
ZONES = ("Europe/Berlin", "America/New_York", "UTC")
T = TypeVar("T")


def generate_calendar(events: int = 10_000, recurring_share: float = 0.2, seed: int = 2027) -> str:
    """A deterministic calendar of ``events`` VEVENTs (plus their overrides) as ICS text."""
    rng = random.Random(seed)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calmesh//benchmark//EN"]

    def stamp(value: datetime, zone: str) -> str:
        if zone == "UTC":
            return f":{value:%Y%m%dT%H%M%S}Z"
        return f";TZID={zone}:{value:%Y%m%dT%H%M%S}"

    def vevent(uid: str, start: datetime, minutes: int, zone: str, extra: list[str]) -> None:
        lines.extend(
            [
                "BEGIN:VEVENT",
                f"UID:{uid}",
                "DTSTAMP:20261101T000000Z",
                "DTSTART" + stamp(start, zone),
                "DTEND" + stamp(start + timedelta(minutes=minutes), zone),
                f"SUMMARY:Event {uid}",
                *extra,
                "END:VEVENT",
            ]
        )

    for number in range(events):
        uid = f"bench-{number}@calmesh"
        zone = rng.choice(ZONES)
        start = datetime(2026, 1, 1, rng.randrange(7, 19), rng.choice((0, 15, 30, 45))) + timedelta(
            days=rng.randrange(0, 730)
        )
        minutes = rng.choice((15, 30, 45, 60, 90))
        if rng.random() >= recurring_share:
            vevent(uid, start, minutes, zone, [])
            continue
        freq = rng.choices(("DAILY", "WEEKLY", "MONTHLY"), weights=(2, 5, 3))[0]
        # Series start up to two years before the window, so some are long-running.
        start -= timedelta(days=rng.randrange(0, 730))
        parts = [f"FREQ={freq}"]
        if rng.random() < 0.3:
            parts.append(f"INTERVAL={rng.randrange(2, 4)}")
        if freq == "WEEKLY" and rng.random() < 0.5:
            days = rng.sample(("MO", "TU", "WE", "TH", "FR"), rng.randrange(1, 4))
            parts.append("BYDAY=" + ",".join(days))
        if freq == "MONTHLY" and rng.random() < 0.5:
            parts.append(f"BYDAY={rng.choice((1, 2, 3, -1))}{rng.choice(('MO', 'TU', 'WE', 'TH', 'FR'))}")
        end_kind = rng.random()
        if end_kind < 0.3:
            parts.append(f"COUNT={rng.randrange(5, 120)}")
        elif end_kind < 0.6:
            until = start + timedelta(days=rng.randrange(60, 1100))
            parts.append(f"UNTIL={until:%Y%m%d}T235959Z")
        extra = ["RRULE:" + ";".join(parts)]
        # Exceptions and overrides near the window, on the series' own (DTSTART-aligned) times.
        step = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 28}[freq]
        candidates = [start + timedelta(days=step * k) for k in range(1, 60)]
        candidates = [c for c in candidates if freq != "MONTHLY" or c.day == start.day]
        exdates = rng.sample(candidates, min(len(candidates), rng.choice((0, 0, 1, 2))))
        extra.extend("EXDATE" + stamp(value, zone) for value in exdates)
        vevent(uid, start, minutes, zone, extra)
        remaining = [c for c in candidates if c not in exdates]
        for moved in rng.sample(remaining, min(len(remaining), rng.choice((0, 0, 1, 1, 2)))):
            new_start = moved + timedelta(hours=rng.choice((-3, -1, 1, 2, 24)))
            status = ["STATUS:CANCELLED"] if rng.random() < 0.2 else []
            vevent(uid, new_start, minutes, zone, ["RECURRENCE-ID" + stamp(moved, zone), *status])
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def timed(function: Callable[[], T], repeat: int) -> tuple[T, float]:
    """The result of the last run and the median wall time over ``repeat`` runs.

    Objects alive before the run (both parsed calendars) are frozen out of the cyclic garbage
    collector first, so neither side pays for re-scanning the other's parse tree.
    """
    times = []
    result: T
    gc.collect()
    gc.freeze()
    for _ in range(repeat):
        begin = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - begin)
    return result, statistics.median(times)


def instant(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def uid_key(uid: object) -> str:
    # The calmesh parser invents "calmesh-..." UIDs for events that have none.
    return "?" if uid is None or str(uid).startswith("calmesh-") else str(uid)


def calmesh_expand(events: list[Event], window: tuple[datetime, datetime]) -> list[Occurrence]:
    return expand_events(events, *window, on_invalid=lambda uid, exc: None)


def rie_expand(calendar: Any, window: tuple[datetime, datetime]) -> list[Any]:
    return list(recurring_ical_events.of(calendar).between(*window))


def calmesh_set(occurrences: list[Occurrence]) -> set[tuple[str, datetime]]:
    return {(uid_key(o.uid), o.start_at) for o in occurrences}


def rie_set(components: list[Any]) -> set[tuple[str, datetime]]:
    found = set()
    for component in components:
        if component.get("RECURRENCE-ID") is not None and str(component.get("STATUS", "")).upper() == "CANCELLED":
            continue
        found.add((uid_key(component.get("UID")), instant(component["DTSTART"].dt)))
    return found


def corpus_workload() -> list[tuple[str, list[Event], Any, tuple[datetime, datetime]]]:
    """The recurring corpus calendars both sides can read, each with its one-year window."""
    workload = []
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.suffix in {".md", ".json", ".py"}:
            continue
        data = path.read_bytes()
        if not any(line.startswith((b"RRULE", b"RDATE")) for line in data.splitlines()):
            continue
        try:
            events = parse_calendar(data).events
            calendar = icalendar.Calendar.from_ical(data)
        except (InvalidCalendarData, ValueError):
            continue
        if not events:
            continue
        earliest = min(event.start.to_utc() for event in events)
        window = (earliest, earliest + timedelta(days=365))
        try:
            rie_set(rie_expand(calendar, window))
        except Exception:  # noqa: BLE001 - recurring-ical-events cannot expand it: not comparable
            continue
        workload.append((str(path.relative_to(CORPUS)), events, calendar, window))
    return workload


def row(name: str, events: int, occurrences: int, seconds: float) -> str:
    return f"| {name:<34} | {seconds:8.3f} s | {events / seconds:12,.0f} | {occurrences / seconds:14,.0f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median shown)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    header = "| step                               |       time |     events/s |  occurrences/s |"
    rule = "|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|"

    print(f"Python {sys.version.split()[0]}, icalendar {icalendar.__version__}, "
          f"recurring-ical-events {version('recurring-ical-events')}; medians of {args.repeat} runs.")
    print("Expansion timings exclude parsing.\n")

    # --- corpus ---------------------------------------------------------------------------
    workload = corpus_workload()
    corpus_events = sum(len(events) for _, events, _, _ in workload)
    ours_corpus, ours_time = timed(lambda: [calmesh_expand(e, w) for _, e, _, w in workload], args.repeat)
    theirs_corpus, theirs_time = timed(lambda: [rie_expand(c, w) for _, _, c, w in workload], args.repeat)
    differing = [
        name
        for (name, *_), a, b in zip(workload, ours_corpus, theirs_corpus, strict=True)
        if calmesh_set(a) != rie_set(b)
    ]
    occurrences = sum(len(s) for s in ours_corpus)
    print(f"Corpus: {len(workload)} recurring calendars readable by both, {corpus_events} VEVENTs, "
          f"one year each ({occurrences} occurrences)")
    print(header, rule, sep="\n")
    print(row("calmesh expand_events", corpus_events, occurrences, ours_time))
    print(row("recurring-ical-events between", corpus_events, sum(len(s) for s in theirs_corpus), theirs_time))
    print(f"speed-up {theirs_time / ours_time:.1f}x; same occurrences: "
          f"{'yes' if not differing else 'no, ' + str(len(differing)) + ' calendars differ: ' + ', '.join(differing)}")
    if differing:
        print("  (each difference is explained in KNOWN_DIFFERENCES, "
              "tests/domain/test_recurrence_vs_recurring_ical_events.py)")
    print()

    # --- generated ------------------------------------------------------------------------
    text = generate_calendar()
    parsed, calmesh_parse = timed(lambda: parse_calendar(text), 1)
    calendar, ical_parse = timed(lambda: icalendar.Calendar.from_ical(text), 1)
    events = parsed.events
    masters = sum(1 for e in events if not e.is_override)
    recurring = sum(1 for e in events if e.is_recurring)
    overrides = len(events) - masters
    ours_list, ours_time = timed(lambda: calmesh_expand(events, YEAR_2027), args.repeat)
    theirs_list, theirs_time = timed(lambda: rie_expand(calendar, YEAR_2027), args.repeat)
    ours, theirs = calmesh_set(ours_list), rie_set(theirs_list)
    print(f"Generated: {masters} events ({recurring} recurring, {overrides} overrides; "
          f"{len(events)} VEVENTs) over 2027, {len(ours)} occurrences")
    print(header, rule, sep="\n")
    print(row("calmesh.ical parse (not in expand)", len(events), 0, calmesh_parse).replace("|              0 |", "|              - |"))
    print(row("icalendar parse (not in expand)", len(events), 0, ical_parse).replace("|              0 |", "|              - |"))
    print(row("calmesh expand_events", len(events), len(ours_list), ours_time))
    print(row("recurring-ical-events between", len(events), len(theirs_list), theirs_time))
    same = ours == theirs
    print(f"speed-up {theirs_time / ours_time:.1f}x (goal: 5x); same occurrences: "
          f"{'yes' if same else f'no: calmesh only {len(ours - theirs)}, recurring-ical-events only {len(theirs - ours)}'}")
    if not same:
        for label, extra in (("calmesh only", ours - theirs), ("recurring-ical-events only", theirs - ours)):
            for item in sorted(extra)[:5]:
                print(f"  {label}: {item}")
    # Corpus differences are checked, and must be explained, by the cross-check test.
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
