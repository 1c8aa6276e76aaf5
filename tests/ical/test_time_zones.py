"""Time zones: names as people and producers write them, VTIMEZONEs, X-WR-TIMEZONE."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from importlib.resources import files
from zoneinfo import ZoneInfo

import pytest
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calmesh.errors import InvalidTimeZone
from calmesh.ical import parse_calendar, resolve_time_zone
from tests.ical.builders import calendar, moment, only_event, parse, vevent

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("US/Eastern", "US/Eastern"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("/mozilla.org/20050126_1/Europe/Berlin", "Europe/Berlin"),
        (
            "/freeassociation.sourceforge.net/Tzfile/America/Argentina/Buenos_Aires",
            "America/Argentina/Buenos_Aires",
        ),
        ("GMT+01.00", "Etc/GMT-1"),
        ("UTC-5", "Etc/GMT+5"),
        ("UTC", "UTC"),
        ("Z", "UTC"),
    ],
)
def test_resolve_time_zone_accepts_iana_windows_prefixed_and_offset_names(
    name: str, key: str
) -> None:
    zone = resolve_time_zone(name)
    assert isinstance(zone, ZoneInfo) and zone.key == key


def test_offset_names_mean_what_outlook_means() -> None:
    # Outlook's GMT+01.00 is one hour *ahead* of UTC (unlike POSIX's sign).
    assert datetime(2024, 7, 1, tzinfo=resolve_time_zone("GMT+01.00")).utcoffset() == timedelta(
        hours=1
    )
    assert datetime(2024, 7, 1, tzinfo=resolve_time_zone("UTC+05:30")).utcoffset() == timedelta(
        hours=5, minutes=30
    )


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "GMT-05.00/-04.00", "Europe_Berlin"])
def test_resolve_time_zone_refuses_unknown_names(name: str) -> None:
    with pytest.raises(InvalidTimeZone) as caught:
        resolve_time_zone(name)
    assert "Unknown time zone" in caught.value.message


def test_shipped_windows_map_is_cldr_and_every_zone_exists() -> None:
    shipped = json.loads(
        files("calmesh.ical").joinpath("data/windows_zones.json").read_text("utf-8")
    )
    assert "windowsZones.xml" in shipped["source"]
    # Derived from icalendar's copy of CLDR: a newer icalendar with a newer CLDR shows up here.
    assert shipped["zones"] == WINDOWS_TO_OLSON
    for zone in shipped["zones"].values():
        ZoneInfo(zone)


def test_utc_times_are_aware_in_datetime_utc() -> None:
    event = only_event("DTEND:20240610T100000Z")
    assert event.start.value == datetime(2024, 6, 10, 9, tzinfo=timezone.utc)
    assert moment(event.start).tzinfo is timezone.utc


def test_iana_tzid_gives_zoneinfo_and_keeps_the_tzid() -> None:
    event = only_event(start="DTSTART;TZID=Europe/Berlin:20240610T090000")
    assert moment(event.start).tzinfo == BERLIN
    assert event.start.tzid == "Europe/Berlin"
    assert event.start.to_utc() == datetime(2024, 6, 10, 7, tzinfo=timezone.utc)


def test_windows_tzid_resolves_to_iana_and_keeps_the_windows_name() -> None:
    event = only_event(start="DTSTART;TZID=W. Europe Standard Time:20240110T090000")
    assert moment(event.start).tzinfo == BERLIN
    assert event.start.tzid == "W. Europe Standard Time"
    assert event.start.to_utc() == datetime(2024, 1, 10, 8, tzinfo=timezone.utc)


def test_mozilla_prefixed_tzid_without_vtimezone_resolves() -> None:
    event = only_event(start="DTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20240110T090000")
    assert moment(event.start).tzinfo == BERLIN


def test_sloppy_tzid_without_vtimezone_is_guessed() -> None:
    event = only_event(start="DTSTART;TZID=Europe_Berlin:20240110T090000")
    assert moment(event.start).tzinfo == BERLIN


def test_unknown_tzid_without_vtimezone_is_floating_with_one_problem() -> None:
    parsed = parse(
        vevent(start="DTSTART;TZID=Middle Earth:20240110T090000", uid="a"),
        vevent(start="DTSTART;TZID=Middle Earth:20240111T090000", uid="b"),
    )
    assert [e.start.value for e in parsed.events] == [
        datetime(2024, 1, 10, 9),
        datetime(2024, 1, 11, 9),
    ]
    assert parsed.events[0].start.tzid == "Middle Earth"
    (problem,) = parsed.problems
    assert "Middle Earth" in problem.message and "floating" in problem.message
    assert problem.uid == "a" and not problem.fatal


CUSTOM_VTIMEZONE = (
    "BEGIN:VTIMEZONE",
    "TZID:Fictitious Central",
    "BEGIN:STANDARD",
    "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "TZOFFSETFROM:+0300",
    "TZOFFSETTO:+0200",
    "END:STANDARD",
    "BEGIN:DAYLIGHT",
    "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0300",
    "END:DAYLIGHT",
    "END:VTIMEZONE",
)


def test_custom_vtimezone_rules_are_used_when_the_name_is_unknown() -> None:
    parsed = parse(
        *CUSTOM_VTIMEZONE,
        vevent(start="DTSTART;TZID=Fictitious Central:20240110T090000", uid="winter"),
        vevent(start="DTSTART;TZID=Fictitious Central:20240710T090000", uid="summer"),
    )
    winter, summer = parsed.events
    assert parsed.problems == []
    assert winter.start.to_utc() == datetime(2024, 1, 10, 7, tzinfo=timezone.utc)
    assert summer.start.to_utc() == datetime(2024, 7, 10, 6, tzinfo=timezone.utc)


def test_custom_vtimezone_does_not_leak_into_the_next_calendar() -> None:
    parse(*CUSTOM_VTIMEZONE, vevent(start="DTSTART;TZID=Fictitious Central:20240110T090000"))
    later = parse(vevent(start="DTSTART;TZID=Fictitious Central:20240110T090000"))
    assert later.events[0].start.floating


def test_known_name_wins_over_its_vtimezone() -> None:
    lying = [line.replace("Fictitious Central", "Europe/Berlin") for line in CUSTOM_VTIMEZONE]
    event = parse(*lying, vevent(start="DTSTART;TZID=Europe/Berlin:20240110T090000")).events[0]
    assert moment(event.start).tzinfo == BERLIN


def test_outlook_1601_vtimezone_with_a_display_name_works() -> None:
    outlook = (
        "BEGIN:VTIMEZONE",
        "TZID:(UTC+01:00) Amsterdam\\, Berlin\\, Bern\\, Rome\\, Stockholm\\, Vienna",
        "BEGIN:STANDARD",
        "DTSTART:16010101T030000",
        "TZOFFSETFROM:+0200",
        "TZOFFSETTO:+0100",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:16010101T020000",
        "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
    )
    tzid = '"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"'
    parsed = parse(
        *outlook,
        vevent(start=f"DTSTART;TZID={tzid}:20240110T090000", uid="w"),
        vevent(start=f"DTSTART;TZID={tzid}:20240710T090000", uid="s"),
    )
    assert [e.start.to_utc().hour for e in parsed.events] == [8, 7]
    assert parsed.problems == []


def test_x_wr_timezone_places_floating_times_in_the_calendar_zone() -> None:
    parsed = parse(
        vevent(start="DTSTART:20240110T090000"),
        header=("X-WR-TIMEZONE:Europe/Berlin", "X-WR-CALNAME:Team"),
    )
    assert parsed.time_zone == BERLIN and parsed.name == "Team"
    assert parsed.events[0].start.value == datetime(2024, 1, 10, 9, tzinfo=BERLIN)


def test_x_wr_timezone_converts_utc_times_into_the_calendar_zone() -> None:
    # Google exports a weekly 10:00 Berlin meeting as 09:00Z; in Berlin's zone the series keeps
    # 10:00 after the switch to summer time, as it does in Google Calendar.
    event = parse(
        vevent("RRULE:FREQ=WEEKLY;COUNT=20", start="DTSTART:20240110T090000Z"),
        header=("X-WR-TIMEZONE:Europe/Berlin",),
    ).events[0]
    assert moment(event.start).tzinfo == BERLIN
    assert moment(event.start).hour == 10
    assert event.start.to_utc() == datetime(2024, 1, 10, 9, tzinfo=timezone.utc)


def test_x_wr_timezone_leaves_tzid_times_and_dates_alone() -> None:
    parsed = parse(
        vevent(start="DTSTART;TZID=America/New_York:20240110T090000", uid="ny"),
        vevent(start="DTSTART;VALUE=DATE:20240110", uid="day"),
        header=("X-WR-TIMEZONE:Europe/Berlin",),
    )
    ny, day = parsed.events
    assert moment(ny.start).tzinfo == ZoneInfo("America/New_York")
    assert day.start.value == date(2024, 1, 10)


def test_unknown_x_wr_timezone_is_a_problem_and_ignored() -> None:
    parsed = parse(vevent(start="DTSTART:20240110T090000"), header=("X-WR-TIMEZONE:Nowhere/Land",))
    assert parsed.time_zone is None
    assert parsed.events[0].start.floating
    assert "X-WR-TIMEZONE 'Nowhere/Land'" in parsed.problems[0].message


def test_floating_and_date_values_stay_as_written() -> None:
    parsed = parse_calendar(
        calendar(
            vevent(start="DTSTART:20240110T090000", uid="f"),
            vevent(start="DTSTART;VALUE=DATE:20240110", uid="d"),
            vevent(start="DTSTART:20240110", uid="d-no-value"),
        )
    )
    floating, day, day2 = parsed.events
    assert floating.start.value == datetime(2024, 1, 10, 9) and floating.start.floating
    assert day.start.value == date(2024, 1, 10) and day.all_day
    assert day2.all_day


def test_slash_prefixed_iana_tzid_without_vtimezone_resolves() -> None:
    event = only_event(start="DTSTART;TZID=/Europe/Stockholm:20240110T090000")
    assert moment(event.start).tzinfo == ZoneInfo("Europe/Stockholm")


def test_unknown_tzid_in_an_x_wr_timezone_calendar_lands_in_the_calendar_zone() -> None:
    parsed = parse(
        vevent(start="DTSTART;TZID=Middle Earth:20240110T090000"),
        header=("X-WR-TIMEZONE:Europe/Berlin",),
    )
    assert parsed.events[0].start.value == datetime(2024, 1, 10, 9, tzinfo=BERLIN)
    assert "X-WR-TIMEZONE" in parsed.problems[0].message
