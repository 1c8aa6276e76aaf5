"""Reading streams as they come: line ends, byte order marks, encodings, and what is refused."""

from __future__ import annotations

import pytest

from calmesh.errors import InvalidCalendarData, UnsupportedCalendarFormat
from calmesh.ical import parse_calendar
from tests.ical.builders import calendar, vevent

SUMMARY = "SUMMARY:Caf\u00e9 \u2013 planning"


@pytest.mark.parametrize("eol", ["\r\n", "\n", "\r"], ids=["crlf", "lf", "cr"])
def test_any_line_end_is_read(eol: str) -> None:
    text = calendar(vevent(SUMMARY).replace("\r\n", eol), eol=eol)
    assert [e.summary for e in parse_calendar(text).events] == ["Caf\u00e9 \u2013 planning"]


def test_mixed_line_ends_and_folds_are_read() -> None:
    text = (
        "BEGIN:VCALENDAR\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:mixed\nDTSTART:20240610T090000Z\r\n"
        "SUMMARY:A long sum\r\n mary folded\n\twith a tab\nEND:VEVENT\r\nEND:VCALENDAR\n"
    )
    (event,) = parse_calendar(text).events
    assert event.summary == "A long summary foldedwith a tab"


def test_utf8_byte_order_mark_is_dropped() -> None:
    data = b"\xef\xbb\xbf" + calendar(vevent(SUMMARY)).encode("utf-8")
    parsed = parse_calendar(data)
    assert parsed.events[0].summary == "Caf\u00e9 \u2013 planning"
    assert parsed.problems == []


def test_utf16_with_byte_order_mark_is_read() -> None:
    data = calendar(vevent(SUMMARY)).encode("utf-16")
    assert parse_calendar(data).events[0].summary == "Caf\u00e9 \u2013 planning"


def test_non_utf8_bytes_fall_back_to_windows_1252_with_a_problem() -> None:
    data = calendar(vevent(SUMMARY)).encode("cp1252")
    parsed = parse_calendar(data)
    assert parsed.events[0].summary == "Caf\u00e9 \u2013 planning"
    (problem,) = parsed.problems
    assert "not valid UTF-8" in problem.message and "cp1252" in problem.message
    assert not problem.fatal


def test_bytes_undefined_in_windows_1252_still_decode() -> None:
    data = calendar(vevent("SUMMARY:x\x81y")).encode("latin-1")
    parsed = parse_calendar(data)
    assert parsed.events[0].summary == "x\x81y"
    assert "latin-1" in parsed.problems[0].message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"  \r\n ", "empty"),
        (b'{"vcalendar": []}', "JSON"),
        (b'["vcalendar", [], []]', "JSON"),
        (b"<?xml version='1.0'?><icalendar/>", "XML"),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nEND:VCARD\r\n", "vCard"),
        (b"BEGIN:VCALENDAR\r\n\x00\x01\x02", "binary"),
        (b"Hello, this is a text file.\nNothing to see.\n", "not iCalendar"),
    ],
)
def test_data_that_is_not_icalendar_is_refused_with_one_line(data: bytes, words: str) -> None:
    with pytest.raises(InvalidCalendarData) as caught:
        parse_calendar(data)
    assert words in caught.value.message
    assert "\n" not in caught.value.message


def test_vcalendar_1_is_refused_as_unsupported() -> None:
    data = (
        "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VEVENT\r\nDTSTART:20240610T090000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with pytest.raises(UnsupportedCalendarFormat) as caught:
        parse_calendar(data)
    assert "vCalendar 1.0" in caught.value.message and "iCalendar 2.0" in caught.value.message


def test_broken_nesting_is_repaired_and_reported() -> None:
    text = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "BEGIN:VEVENT",
            "UID:a",
            "DTSTART:20240610T090000Z",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "END:VEVENT",  # closes the VALARM that was never ended
            "END:VTODO",  # closes nothing
            "BEGIN:VEVENT",
            "UID:b",
            "DTSTART:20240611T090000Z",
        ]
    )  # and no END:VEVENT / END:VCALENDAR at all
    parsed = parse_calendar(text)
    assert [e.uid for e in parsed.events] == ["a", "b"]
    messages = " | ".join(p.message for p in parsed.problems)
    assert "END:VALARM missing" in messages
    assert "END:VTODO without a matching BEGIN" in messages
    assert "END:VCALENDAR missing" in messages
    assert not any(p.fatal for p in parsed.problems)


def test_bare_vevents_without_vcalendar_are_read_with_a_problem() -> None:
    parsed = parse_calendar(vevent())
    assert [e.uid for e in parsed.events] == ["e1@test"]
    assert "outside of a VCALENDAR" in parsed.problems[0].message


def test_several_vcalendars_in_one_stream_are_merged() -> None:
    text = calendar(vevent(uid="a"), header=("X-WR-CALNAME:First",)) + calendar(vevent(uid="b"))
    parsed = parse_calendar(text)
    assert [e.uid for e in parsed.events] == ["a", "b"]
    assert parsed.name == "First"


def test_unreadable_content_line_is_skipped_with_its_line_number() -> None:
    text = calendar(vevent("this line has no colon", "SUMMARY:kept"))
    parsed = parse_calendar(text)
    assert parsed.events[0].summary == "kept"
    (problem,) = parsed.problems
    assert problem.line == 8 and not problem.fatal
