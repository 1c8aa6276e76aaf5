"""``calmesh ics`` as a user runs it: the real console entry point in a subprocess, on files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path("/work/shared/corpus/ics")
#: Apple iCal: a monthly all-day series (X-WR-TIMEZONE America/Indianapolis) whose February and
#: March instances are excluded and overridden.
BLALOR = CORPUS / "ical4j/samples/valid/blalor.ics"
#: Zimbra: a monthly timed series in America/Los_Angeles with RDATEs, EXDATEs and two overrides.
ZIMBRA = CORPUS / "icaljs/samples/recur_instances.ics"
#: vCalendar 1.0, which calmesh refuses.
VCALENDAR_1 = CORPUS / "ical4j/samples/invalid/core.ics"

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared ICS corpus is not mounted")

OCCURRENCE_KEYS = ["uid", "recurrenceId", "start", "end", "allDay", "summary", "status"]

WEEKLY = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//calmesh tests//EN
BEGIN:VEVENT
UID:weekly
SUMMARY:Planning
DTSTART;TZID=Europe/Berlin:20260316T100000
DTEND;TZID=Europe/Berlin:20260316T110000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=Europe/Berlin:20260330T100000
ATTENDEE;PARTSTAT=ACCEPTED:mailto:ada@example.com
END:VEVENT
BEGIN:VEVENT
UID:weekly
SUMMARY:Planning (moved)
RECURRENCE-ID;TZID=Europe/Berlin:20260323T100000
DTSTART;TZID=Europe/Berlin:20260323T103000
DTEND;TZID=Europe/Berlin:20260323T120000
ATTENDEE;PARTSTAT=DECLINED:mailto:Ada@Example.com
END:VEVENT
BEGIN:VEVENT
UID:offsite
SUMMARY:Offsite
DTSTART;VALUE=DATE:20260329
DTEND;VALUE=DATE:20260330
STATUS:TENTATIVE
END:VEVENT
BEGIN:VEVENT
UID:lunch
SUMMARY:Lunch
DTSTART:20260316T100000Z
DTEND:20260316T113000Z
END:VEVENT
BEGIN:VEVENT
UID:focus
SUMMARY:Focus time
DTSTART:20260317T080000Z
DTEND:20260317T120000Z
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
UID:gone
SUMMARY:Cancelled
DTSTART:20260318T080000Z
DTEND:20260318T090000Z
STATUS:CANCELLED
END:VEVENT
END:VCALENDAR
"""

BROKEN = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//calmesh tests//EN
BEGIN:VEVENT
UID:no-start
SUMMARY:Has no DTSTART
END:VEVENT
BEGIN:VEVENT
UID:fine
DTSTART:20260301T100000Z
DTEND:20260301T110000Z
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CALMESH_")}
    return clean | {"HOME": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "200"}


@pytest.fixture
def weekly(tmp_path: Path) -> Path:
    path = tmp_path / "weekly.ics"
    path.write_text(WEEKLY.replace("\n", "\r\n"), encoding="utf-8")
    return path


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.ics"
    path.write_text(BROKEN, encoding="utf-8")
    return path


def ics(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calmesh", "ics", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def window(start: str, end: str, tz: str | None = None) -> list[str]:
    return ["--start", start, "--end", end, *(["--tz", tz] if tz else [])]


def block(start: str, end: str, *summaries: str) -> dict[str, Any]:
    """One row of ``calmesh ics busy --json``."""
    return {"start": start, "end": end, "events": len(summaries), "summaries": list(summaries)}


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("calmesh: error: ")
    return line


# --- check ---------------------------------------------------------------------------------


def test_check_passes_a_clean_file(env: dict[str, str], weekly: Path) -> None:
    result = ics(env, "check", weekly, "--json")
    assert result.returncode == 0, result.stderr
    assert json_of(result) == [{"file": str(weekly), "name": None, "timeZone": None, "events": 6, "problems": []}]


def test_check_fails_on_a_skipped_event_and_lists_it(env: dict[str, str], weekly: Path, broken: Path) -> None:
    result = ics(env, "check", weekly, broken, "--json")
    line = one_error_line(result)
    assert str(broken) in line and str(weekly) not in line
    clean, report = json_of(result)
    assert clean["problems"] == []
    assert report["events"] == 1
    [problem] = [p for p in report["problems"] if p["fatal"]]
    assert problem["uid"] == "no-start" and "DTSTART" in problem["message"]
    assert set(problem) == {"message", "uid", "line", "fatal"}


def test_check_shows_a_table_then_the_problems(env: dict[str, str], broken: Path) -> None:
    result = ics(env, "check", broken)
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if str(broken) in line and "│" in line)
    problem = next(i for i, line in enumerate(lines) if line.startswith(f"{broken}:4: fatal: VEVENT skipped"))
    assert row < problem


@needs_corpus
def test_check_reports_an_unreadable_file_and_goes_on(env: dict[str, str]) -> None:
    result = ics(env, "check", BLALOR, VCALENDAR_1, ZIMBRA, "--json")
    one_error_line(result)
    blalor, refused, zimbra = json_of(result)
    assert (blalor["events"], blalor["name"], blalor["timeZone"]) == (3, "ical4j", "America/Indianapolis")
    assert zimbra["events"] == 3
    assert refused["events"] is None
    [problem] = refused["problems"]
    assert problem["fatal"] and "vCalendar 1.0" in problem["message"]


# --- expand --------------------------------------------------------------------------------


def test_expand_lists_occurrences_in_the_zone_asked_for(env: dict[str, str], weekly: Path) -> None:
    result = ics(env, "expand", weekly, *window("2026-03-16", "2026-04-13", "Europe/Berlin"), "--json")
    assert result.returncode == 0, result.stderr
    rows = json_of(result)
    assert all(list(row) == OCCURRENCE_KEYS for row in rows)
    assert [(r["uid"], r["start"], r["end"], r["allDay"], r["status"]) for r in rows] == [
        ("weekly", "2026-03-16T10:00:00+01:00", "2026-03-16T11:00:00+01:00", False, "confirmed"),
        ("lunch", "2026-03-16T11:00:00+01:00", "2026-03-16T12:30:00+01:00", False, "confirmed"),
        ("focus", "2026-03-17T09:00:00+01:00", "2026-03-17T13:00:00+01:00", False, "confirmed"),
        ("gone", "2026-03-18T09:00:00+01:00", "2026-03-18T10:00:00+01:00", False, "cancelled"),
        ("weekly", "2026-03-23T10:30:00+01:00", "2026-03-23T12:00:00+01:00", False, "confirmed"),
        ("offsite", "2026-03-29", "2026-03-30", True, "tentative"),
        # After the DST change the series stays at 10:00 local; the 30th is excluded.
        ("weekly", "2026-04-06T10:00:00+02:00", "2026-04-06T11:00:00+02:00", False, "confirmed"),
    ]
    assert [r["recurrenceId"] for r in rows if r["uid"] == "weekly"] == [
        "2026-03-16T10:00:00+01:00",
        "2026-03-23T10:00:00+01:00",
        "2026-04-06T10:00:00+02:00",
    ]
    assert rows[4]["summary"] == "Planning (moved)"
    assert rows[1]["recurrenceId"] is None


def test_expand_reads_naive_bounds_and_windows_names_in_the_zone(env: dict[str, str], weekly: Path) -> None:
    # 10:00-11:00 Berlin is 09:00-10:00 UTC; a window ending at 10:30 Berlin still holds it.
    result = ics(
        env, "expand", weekly, *window("2026-03-16T10:00", "2026-03-16T10:30", "W. Europe Standard Time"), "--json"
    )
    assert [row["uid"] for row in json_of(result)] == ["weekly"]
    in_utc = json_of(ics(env, "expand", weekly, *window("2026-03-16T09:00Z", "2026-03-16T09:30Z"), "--json"))
    assert [(row["uid"], row["start"]) for row in in_utc] == [("weekly", "2026-03-16T09:00:00+00:00")]


def test_expand_shows_a_table(env: dict[str, str], weekly: Path) -> None:
    result = ics(env, "expand", weekly, *window("2026-03-29", "2026-03-30"))
    assert result.returncode == 0, result.stderr
    assert "Offsite" in result.stdout and "2026-03-29" in result.stdout


@needs_corpus
def test_expand_a_corpus_all_day_series(env: dict[str, str]) -> None:
    result = ics(env, "expand", BLALOR, *window("2004-01-01", "2004-07-01", "America/Indianapolis"), "--json")
    rows = json_of(result)
    assert [(r["start"], r["end"], r["allDay"]) for r in rows] == [
        ("2004-04-24", "2004-04-25", True),
        ("2004-05-24", "2004-05-25", True),
        ("2004-06-24", "2004-06-25", True),
    ]
    assert {r["summary"] for r in rows} == {"Pay AmEx bill"}


# --- busy ----------------------------------------------------------------------------------


def test_busy_merges_and_names_its_sources(env: dict[str, str], weekly: Path) -> None:
    result = ics(env, "busy", weekly, *window("2026-03-16", "2026-04-13", "Europe/Berlin"), "--json")
    assert result.returncode == 0, result.stderr
    assert json_of(result) == [
        # Planning and Lunch touch, so they make one block; Focus time is free, Cancelled is gone.
        block("2026-03-16T10:00:00+01:00", "2026-03-16T12:30:00+01:00", "Planning", "Lunch"),
        block("2026-03-23T10:30:00+01:00", "2026-03-23T12:00:00+01:00", "Planning (moved)"),
        # The all-day offsite is the 23-hour day DST starts on, in Berlin.
        block("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "Offsite"),
        block("2026-04-06T10:00:00+02:00", "2026-04-06T11:00:00+02:00", "Planning"),
    ]


def test_busy_leaves_out_what_the_owner_declined(env: dict[str, str], weekly: Path) -> None:
    result = ics(
        env,
        "busy",
        weekly,
        *window("2026-03-23", "2026-03-24", "Europe/Berlin"),
        "--owner",
        "ADA@example.com",
        "--json",
    )
    assert json_of(result) == []
    table = ics(env, "busy", weekly, *window("2026-03-16", "2026-03-17", "Europe/Berlin"))
    assert table.returncode == 0 and "Planning; Lunch" in table.stdout


@needs_corpus
def test_busy_on_a_corpus_series_clipped_to_the_window(env: dict[str, str]) -> None:
    result = ics(env, "busy", ZIMBRA, *window("2012-11-06T10:15", "2012-11-07", "America/Los_Angeles"), "--json")
    assert json_of(result) == [
        # The first Tuesday's instance, clipped, and the instance of the 5th moved to 20:00 on the 6th.
        block("2012-11-06T10:15:00-08:00", "2012-11-06T10:30:00-08:00", "Crazy Event Thingy!"),
        block("2012-11-06T20:00:00-08:00", "2012-11-06T20:30:00-08:00", "Crazy Event Thingy!"),
    ]


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "busy"])
def test_a_missing_file_is_one_line(env: dict[str, str], tmp_path: Path, command: str) -> None:
    bounds = [] if command == "check" else window("2026-01-01", "2026-02-01")
    line = one_error_line(ics(env, command, tmp_path / "nope.ics", *bounds))
    assert line == f"calmesh: error: {tmp_path / 'nope.ics'}: no such file"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (window("2026-03-02", "2026-03-02"), "--start (2026-03-02) must be before --end (2026-03-02)"),
        (window("next week", "2026-03-02"), "--start 'next week' is not an ISO 8601 date"),
        (window("2026-03-01", "2026-03-02", "Mars/Olympus"), "Unknown time zone 'Mars/Olympus'"),
    ],
    ids=["empty-window", "not-iso", "unknown-zone"],
)
def test_bad_windows_and_zones_are_one_line(env: dict[str, str], weekly: Path, args: list[str], message: str) -> None:
    assert message in one_error_line(ics(env, "expand", weekly, *args))


def test_busy_checks_its_window_too(env: dict[str, str], weekly: Path) -> None:
    # 10:00 in Berlin is after 08:30 UTC: bounds are compared as instants.
    line = one_error_line(ics(env, "busy", weekly, *window("2026-03-02T10:00+01:00", "2026-03-02T08:30Z")))
    assert "--start (2026-03-02T10:00+01:00) must be before --end (2026-03-02T08:30Z)" in line


@needs_corpus
def test_an_unreadable_file_is_one_line_for_expand(env: dict[str, str]) -> None:
    line = one_error_line(ics(env, "expand", VCALENDAR_1, *window("2026-01-01", "2026-02-01")))
    assert "vCalendar 1.0 is not supported" in line
