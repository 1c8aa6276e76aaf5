"""``calmesh ics``: check, expand and compute busy time from iCalendar files.

* ``calmesh ics check FILE...`` — parse each file and list what was wrong in it; exits non-zero
  when a file cannot be read or lost an event (a *fatal* problem).
* ``calmesh ics expand FILE --start --end`` — the occurrences in a window, recurrences expanded.
* ``calmesh ics busy FILE --start --end`` — the merged busy time in a window.

Windows are half-open ``[--start, --end)``. ``--start`` and ``--end`` are ISO 8601 dates or
date-times; a date means its midnight and a date-time without offset is read in ``--tz``
(default UTC; IANA or Windows names). All-day events and floating times are read in ``--tz`` too.
With ``--json`` every command prints camelCase JSON on stdout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from calmesh.availability import busy_blocks, busy_intervals
from calmesh.cli.output import print_json, print_table
from calmesh.domain.events import EventTime
from calmesh.domain.intervals import Interval
from calmesh.domain.recurrence import Occurrence, expand_events
from calmesh.errors import InvalidCalendarData, InvalidInput
from calmesh.ical import CalendarProblem, ParsedCalendar, parse_calendar, resolve_time_zone

app = typer.Typer(help="Check iCalendar files, expand their recurrences, compute busy time.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
FileArgument = Annotated[Path, typer.Argument(help="An iCalendar (.ics) file.", show_default=False)]
StartOption = Annotated[
    str, typer.Option("--start", help="Window start: an ISO date or date-time (included).", show_default=False)
]
EndOption = Annotated[
    str, typer.Option("--end", help="Window end: an ISO date or date-time (excluded).", show_default=False)
]
ZoneOption = Annotated[
    str, typer.Option("--tz", help="Time zone to show times in and to read dates and floating times in.")
]


# --- check ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Checked:
    """One file's check: what the parser made of it and what was wrong."""

    path: Path
    #: None when the file cannot be read as iCalendar at all.
    parsed: ParsedCalendar | None
    #: The parser's problems; for an unreadable file, one fatal problem saying why.
    problems: tuple[CalendarProblem, ...]

    @property
    def failed(self) -> bool:
        return any(problem.fatal for problem in self.problems)

    def as_json(self) -> dict[str, Any]:
        parsed = self.parsed
        return {
            "file": str(self.path),
            "name": parsed.name if parsed else None,
            "timeZone": _zone_name(parsed.time_zone) if parsed and parsed.time_zone else None,
            "events": len(parsed.events) if parsed else None,
            "problems": [{"message": p.message, "uid": p.uid, "line": p.line, "fatal": p.fatal} for p in self.problems],
        }


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help="iCalendar (.ics) files.", show_default=False)],
    json: JsonOption = False,
) -> None:
    """Parse each file and list its problems; exit non-zero if one is unreadable or lost events."""
    # Every file is read before anything is printed, so a missing one stops the run cleanly.
    contents = [(path, _read(path)) for path in files]
    checked = [_check(path, data) for path, data in contents]
    if json:
        print_json([entry.as_json() for entry in checked])
    else:
        rows = [
            {
                "file": entry.path,
                "events": "unreadable" if entry.parsed is None else len(entry.parsed.events),
                "problems": len(entry.problems),
                "fatal": sum(1 for problem in entry.problems if problem.fatal),
            }
            for entry in checked
        ]
        print_table(rows, ["file", "events", "problems", "fatal"], title="iCalendar check")
        for entry in checked:
            for problem in entry.problems:
                where = f"{entry.path}:{problem.line}" if problem.line else str(entry.path)
                uid = f" (UID {problem.uid})" if problem.uid else ""
                kind = "fatal" if problem.fatal else "repaired"
                typer.echo(f"{where}: {kind}: {problem.message}{uid}")
    failed = [entry for entry in checked if entry.failed]
    if failed:
        raise InvalidCalendarData(
            f"{len(failed)} of {len(checked)} file(s) cannot be used as they are "
            f"(unreadable, or events were skipped): {', '.join(str(entry.path) for entry in failed)}"
        )


def _check(path: Path, data: bytes) -> _Checked:
    try:
        parsed = parse_calendar(data)
    except InvalidCalendarData as exc:
        # Unreadable is a finding of the check, not a reason to stop checking the other files.
        return _Checked(path, None, (CalendarProblem(exc.message, fatal=True),))
    return _Checked(path, parsed, tuple(parsed.problems))


# --- expand --------------------------------------------------------------------------------


@app.command()
def expand(
    file: FileArgument,
    start: StartOption,
    end: EndOption,
    tz: ZoneOption = "UTC",
    json: JsonOption = False,
) -> None:
    """List the occurrences in [--start, --end), sorted by start, recurrences expanded."""
    zone = resolve_time_zone(tz)
    window = _window(start, end, zone)
    rows = [
        {
            "uid": occurrence.uid,
            "recurrenceId": _shown(occurrence.recurrence_id, zone) if occurrence.recurrence_id else None,
            "start": _shown(occurrence.start, zone),
            "end": _shown(occurrence.end, zone),
            "allDay": occurrence.all_day,
            "summary": occurrence.event.summary,
            "status": occurrence.event.status.value,
        }
        for occurrence in _occurrences(file, window, zone)
    ]
    if json:
        print_json(rows)
    else:
        columns = ["start", "end", "allDay", "summary", "status", "uid", "recurrenceId"]
        print_table(rows, columns, title=f"{len(rows)} occurrence(s) in {tz}")


# --- busy ----------------------------------------------------------------------------------


@app.command()
def busy(
    file: FileArgument,
    start: StartOption,
    end: EndOption,
    tz: ZoneOption = "UTC",
    owner: Annotated[
        str | None,
        typer.Option("--owner", help="The calendar owner's email: events they declined are free.", show_default=False),
    ] = None,
    json: JsonOption = False,
) -> None:
    """List the merged busy time in [--start, --end), with the events that make it up."""
    zone = resolve_time_zone(tz)
    window = _window(start, end, zone)
    entries = busy_intervals(_occurrences(file, window, zone), owner_email=owner, all_day_zone=zone, window=window)
    rows: list[dict[str, Any]] = [
        {
            "start": _shown(block.interval.start, zone),
            "end": _shown(block.interval.end, zone),
            "events": len(block.sources),
            "summaries": [source.summary for source in block.sources],
        }
        for block in busy_blocks(entries)
    ]
    if json:
        print_json(rows)
    else:
        table = [row | {"summaries": "; ".join(s or "(no title)" for s in row["summaries"])} for row in rows]
        print_table(table, ["start", "end", "events", "summaries"], title=f"busy in {tz}")


# --- shared --------------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such file", field="file") from exc
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror or exc})", field="file") from exc


def _window(start: str, end: str, zone: tzinfo) -> Interval:
    start_at, end_at = _moment(start, zone, "--start"), _moment(end, zone, "--end")
    if start_at >= end_at:
        raise InvalidInput(f"--start ({start}) must be before --end ({end}): the window is empty", field="start")
    return Interval(start_at, end_at)


def _moment(text: str, zone: tzinfo, option: str) -> datetime:
    try:
        # Accepts dates too (as their midnight), and a trailing "Z".
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"{option} {text!r} is not an ISO 8601 date or date-time (e.g. 2026-03-01 or 2026-03-01T09:00)",
            field=option.lstrip("-"),
        ) from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _occurrences(path: Path, window: Interval, zone: tzinfo) -> list[Occurrence]:
    parsed = parse_calendar(_read(path))
    skipped = sum(1 for problem in parsed.problems if problem.fatal)
    if skipped:
        _warn(f"{path}: {skipped} event(s) could not be read; see 'calmesh ics check {path}'")
    return expand_events(
        parsed.events,
        window.start,
        window.end,
        local_zone=zone,
        # One series with an unreadable RRULE should not hide every other event of the file.
        on_invalid=lambda uid, exc: _warn(f"{path}: series {uid!r} skipped: {exc.message}"),
    )


def _warn(message: str) -> None:
    typer.echo(f"calmesh: warning: {message}", err=True)


def _shown(value: datetime | date, zone: tzinfo) -> str:
    """A time as shown to the user: a date as it is, a date-time in ``zone``."""
    if not isinstance(value, datetime):
        return value.isoformat()
    return EventTime(value).to_utc(zone).astimezone(zone).isoformat()


def _zone_name(zone: tzinfo) -> str:
    return zone.key if isinstance(zone, ZoneInfo) else str(zone)
