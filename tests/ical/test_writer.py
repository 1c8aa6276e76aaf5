"""Writing RFC 5545: structure, folding, time zones, all-day consistency, and round trips."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest

from calmesh.domain.events import (
    Attendee,
    ConferenceData,
    Event,
    EventStatus,
    EventTime,
    Organizer,
    ParticipationStatus,
    Recurrence,
    RecurrenceId,
    Transparency,
    Visibility,
)
from calmesh.ical import parse_calendar, write_calendar, write_event
from tests.ical.builders import only_event

BERLIN = ZoneInfo("Europe/Berlin")


def zoned(
    year: int, month: int, day: int, hour: int, minute: int = 0, zone: ZoneInfo = BERLIN
) -> EventTime:
    return EventTime(datetime(year, month, day, hour, minute, tzinfo=zone), zone.key)


def lines_of(data: bytes) -> list[str]:
    """Unfolded lines of the output."""
    return data.decode("utf-8").replace("\r\n ", "").split("\r\n")


def test_output_is_crlf_folded_at_75_octets_without_splitting_utf8() -> None:
    summary = "Réunion 日本語 " * 20
    data = write_calendar(
        [Event(uid="u", start=zoned(2024, 6, 10, 9), end=zoned(2024, 6, 10, 10), summary=summary)]
    )
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    for physical in data.split(b"\r\n"):
        assert len(physical) <= 75
        physical.decode("utf-8")  # each physical line is whole UTF-8 on its own
    assert parse_calendar(data).events[0].summary == summary


def test_every_vevent_has_uid_and_dtstamp_from_last_modified() -> None:
    modified = datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc)
    data = write_calendar(
        [
            Event(
                uid="u1",
                start=zoned(2024, 6, 10, 9),
                end=zoned(2024, 6, 10, 10),
                last_modified_at=modified,
            )
        ]
    )
    lines = lines_of(data)
    assert "UID:u1" in lines and "DTSTAMP:20240501T083000Z" in lines
    assert lines[:3] == ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calmesh//calmesh//EN"]


def test_windows_zone_is_written_under_its_iana_name_with_a_vtimezone() -> None:
    event = only_event(
        "DTEND;TZID=W. Europe Standard Time:20240610T100000",
        start="DTSTART;TZID=W. Europe Standard Time:20240610T090000",
    )
    lines = lines_of(write_calendar([event]))
    assert "DTSTART;TZID=Europe/Berlin:20240610T090000" in lines
    assert "TZID:Europe/Berlin" in lines
    assert not any("W. Europe" in line for line in lines)
    assert lines.count("BEGIN:VTIMEZONE") == 1


def test_vtimezone_covers_the_events_so_other_readers_agree() -> None:
    events = [
        Event(uid="w", start=zoned(2024, 1, 10, 9), end=zoned(2024, 1, 10, 10)),
        Event(uid="s", start=zoned(2024, 7, 10, 9), end=zoned(2024, 7, 10, 10)),
        Event(
            uid="ny",
            start=zoned(2024, 7, 10, 9, zone=ZoneInfo("America/New_York")),
            end=zoned(2024, 7, 10, 10, zone=ZoneInfo("America/New_York")),
        ),
    ]
    data = write_calendar(events)
    # icalendar, reading only the VTIMEZONEs written (the TZIDs are renamed so it cannot use
    # its own zone database), must find the same instants.
    renamed = data.replace(b"Europe/Berlin", b"Custom-A").replace(b"America/New_York", b"Custom-B")
    parsed = icalendar.Calendar.from_ical(renamed)
    starts = {
        str(e["UID"]): e.decoded("DTSTART").astimezone(timezone.utc) for e in parsed.walk("VEVENT")
    }
    assert starts == {e.uid: e.start.to_utc() for e in events}


def test_all_day_series_uses_value_date_everywhere() -> None:
    master = Event(
        uid="d",
        start=EventTime(date(2024, 6, 10)),
        end=EventTime(date(2024, 6, 11)),
        recurrence=Recurrence(
            rrules=("FREQ=DAILY;COUNT=5",),
            rdates=(EventTime(date(2024, 6, 20)),),
            exdates=(zoned(2024, 6, 12, 0),),  # a datetime on an all-day series means its day
        ),
    )
    override = Event(
        uid="d",
        start=EventTime(date(2024, 6, 14)),
        end=EventTime(date(2024, 6, 15)),
        recurrence_id=RecurrenceId(EventTime(date(2024, 6, 13))),
    )
    lines = lines_of(write_event(master, [override]))
    for prop in ("DTSTART", "DTEND", "RDATE", "EXDATE", "RECURRENCE-ID"):
        written = [
            line for line in lines if line.startswith(prop + ";") or line.startswith(prop + ":")
        ]
        assert written and all(line.startswith(f"{prop};VALUE=DATE:") for line in written), prop
    assert "EXDATE;VALUE=DATE:20240612" in lines


def test_dtend_is_always_after_dtstart() -> None:
    start = zoned(2024, 6, 10, 9)
    backwards = Event(uid="b", start=start, end=zoned(2024, 6, 10, 8))
    day = Event(uid="d", start=EventTime(date(2024, 6, 10)), end=EventTime(date(2024, 6, 10)))
    lines = lines_of(write_calendar([backwards, day]))
    assert not any(line.startswith("DTEND;TZID") for line in lines)  # zero length: no DTEND
    assert "DTEND;VALUE=DATE:20240611" in lines
    again = parse_calendar(write_calendar([backwards, day]))
    assert again.problems == []
    assert again.events[0].end == again.events[0].start


def test_write_event_refuses_overrides_of_another_series() -> None:
    master = Event(uid="a", start=zoned(2024, 6, 10, 9), end=zoned(2024, 6, 10, 10))
    stranger = Event(
        uid="b",
        start=zoned(2024, 6, 11, 9),
        end=zoned(2024, 6, 11, 10),
        recurrence_id=RecurrenceId(zoned(2024, 6, 11, 9)),
    )
    with pytest.raises(ValueError, match="other UIDs"):
        write_event(master, [stranger])


def test_round_trip_keeps_what_users_see() -> None:
    event = Event(
        uid="rt@calmesh",
        start=zoned(2024, 6, 10, 9),
        end=zoned(2024, 6, 10, 10, 30),
        summary="Planning; Q3, \\ budget",
        description="Line one\nLine two",
        location="Room 1",
        status=EventStatus.TENTATIVE,
        transparency=Transparency.TRANSPARENT,
        visibility=Visibility.PRIVATE,
        recurrence=Recurrence(
            rrules=("FREQ=WEEKLY;BYDAY=MO;UNTIL=20240930T070000Z",),
            rdates=(zoned(2024, 6, 12, 9),),
            exdates=(zoned(2024, 6, 17, 9),),
        ),
        organizer=Organizer("ann@example.com", "Lee, Ann"),
        attendees=(
            Attendee(
                "bob@example.com", "Bob", ParticipationStatus.ACCEPTED, "REQ-PARTICIPANT", True
            ),
            Attendee("urn:uuid:room-1", None, ParticipationStatus.TENTATIVE),
        ),
        conference=ConferenceData(
            "GOOGLE_MEET", "https://meet.google.com/abc-defg-hij", dial_ins=("tel:+1-555-0100",)
        ),
        sequence=4,
        created_at=datetime(2024, 1, 1, tzinfo=timezone.utc),
        last_modified_at=datetime(2024, 2, 1, tzinfo=timezone.utc),
        x_properties={"X-CALMESH-ID": "evt_123"},
    )
    again = parse_calendar(write_calendar([event], name="Team")).events
    assert again == [event]


def test_utc_and_fixed_offset_times_are_written_in_utc() -> None:
    fixed = timezone(timedelta(hours=5, minutes=30))
    event = Event(
        uid="x",
        start=EventTime(datetime(2024, 6, 10, 9, tzinfo=fixed)),
        end=EventTime(datetime(2024, 6, 10, 9, 30, tzinfo=timezone.utc)),
    )
    lines = lines_of(write_calendar([event]))
    assert "DTSTART:20240610T033000Z" in lines and "DTEND:20240610T093000Z" in lines
    assert "BEGIN:VTIMEZONE" not in lines


def test_custom_zone_keeps_its_tzid_and_instants() -> None:
    source = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "BEGIN:VTIMEZONE",
            "TZID:Fictitious",
            "BEGIN:STANDARD",
            "DTSTART:19700101T000000",
            "TZOFFSETFROM:+0330",
            "TZOFFSETTO:+0330",
            "END:STANDARD",
            "END:VTIMEZONE",
            "BEGIN:VEVENT",
            "UID:c",
            "DTSTART;TZID=Fictitious:20240610T090000",
            "END:VEVENT",
            "END:VCALENDAR",
        ]
    )
    (event,) = parse_calendar(source).events
    data = write_calendar([event])
    assert "DTSTART;TZID=Fictitious:20240610T090000" in lines_of(data)
    assert parse_calendar(data).events[0].start.to_utc() == datetime(
        2024, 6, 10, 5, 30, tzinfo=timezone.utc
    )


def test_output_is_accepted_by_icalendar_strictly() -> None:
    event = only_event(
        "RRULE:FREQ=DAILY;COUNT=3", "SUMMARY:x", start="DTSTART;TZID=Europe/Berlin:20240610T090000"
    )
    data = write_calendar([event], name="A, B")
    parsed = icalendar.Calendar.from_ical(data)
    assert [c.errors for c in parsed.walk()] == [[] for _ in parsed.walk()]
    assert re.search(rb"X-WR-CALNAME:A\\, B\r\n", data)
