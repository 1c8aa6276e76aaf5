"""The pure parts of the CalDAV adapter: href spelling, multistatus reading, objects as items."""

from __future__ import annotations

import pytest

from calmesh.errors import ProviderProtocolError
from calmesh.providers.base import ItemProblem, RemoteItem
from calmesh.providers.caldav._items import read_item
from calmesh.providers.caldav._paths import canonical_path, collection_url
from calmesh.providers.caldav._xml import (
    DISPLAYNAME,
    GETETAG,
    error_mentions,
    parse_multistatus,
)


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("/alice/cal/a%40b.ics", "/alice/cal/a@b.ics"),  # Radicale's spelling
        ("/user/calendars/cal/a@b.ics", "/user/calendars/cal/a@b.ics"),  # Xandikos's
        ("/a/b%20c.ics", "/a/b%20c.ics"),
        ("/a/b c.ics", "/a/b%20c.ics"),
        ("/a/x%2fy.ics", "/a/x%2Fy.ics"),  # an encoded slash stays inside its segment
        ("/a/%7Euser.ics", "/a/~user.ics"),
        ("https://p42-caldav.icloud.com:443/123/calendars/home/e.ics", "/123/calendars/home/e.ics"),
        ("/a/caf%C3%A9.ics", "/a/caf%C3%A9.ics"),
        ("/a/café.ics", "/a/caf%C3%A9.ics"),
    ],
)
def test_an_href_has_one_canonical_spelling(href: str, expected: str) -> None:
    assert canonical_path(href) == expected
    assert canonical_path(expected) == expected


def test_a_calendar_id_is_an_absolute_url_ending_in_a_slash() -> None:
    assert collection_url("http://h:1/alice/work") == "http://h:1/alice/work/"
    assert collection_url("http://h/a%40b/c d/") == "http://h/a@b/c%20d/"


def test_missing_properties_in_a_404_propstat_are_absent() -> None:
    body = b"""<?xml version="1.0"?>
    <d:multistatus xmlns:d="DAV:">
      <d:response><d:href>/cal/</d:href>
        <d:propstat><d:prop><d:getetag>"1"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
        <d:propstat><d:prop><d:displayname/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
      </d:response>
      <d:response><d:href>/cal/gone.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>
      <d:sync-token>http://radicale.org/ns/sync/abc</d:sync-token>
    </d:multistatus>"""
    parsed = parse_multistatus(body, "test")
    first, gone = parsed.responses
    assert first.text(GETETAG) == '"1"' and DISPLAYNAME not in first.props and first.status is None
    assert gone.href == "/cal/gone.ics" and gone.status == 404
    assert parsed.sync_token == "http://radicale.org/ns/sync/abc"


@pytest.mark.parametrize("body", [b"<html><body>hi</body></html>", b"not xml at all", b""])
def test_anything_but_a_multistatus_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProviderProtocolError, match="PROPFIND x"):
        parse_multistatus(body, "PROPFIND x")


def test_error_bodies_are_matched_by_precondition_name() -> None:
    assert error_mentions(b'<error xmlns="DAV:"><valid-sync-token/></error>', "valid-sync-token")
    assert error_mentions(b'<e xmlns:c="urn:ietf:params:xml:ns:caldav"><c:no-uid-conflict/></e>', "no-uid-conflict")
    assert not error_mentions(b"<html/>", "valid-sync-token")
    assert not error_mentions(b"garbage", "valid-sync-token")


def _ics(*events: str) -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n"


def _vevent(uid: str, *lines: str) -> str:
    body = "".join(f"{line}\r\n" for line in lines)
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{body}END:VEVENT\r\n"


def test_an_item_lists_its_master_then_overrides_in_order() -> None:
    data = _ics(
        _vevent("s", "RECURRENCE-ID;VALUE=DATE:20270301", "DTSTART;VALUE=DATE:20270302"),
        _vevent("s", "RECURRENCE-ID;VALUE=DATE:20270201", "DTSTART;VALUE=DATE:20270202"),
        _vevent("s", "DTSTART;VALUE=DATE:20270101", "RRULE:FREQ=MONTHLY;COUNT=4"),
    )
    item = read_item("/c/s.ics", '"e"', data)
    assert isinstance(item, RemoteItem)
    assert [e.recurrence_id.value.value.month if e.recurrence_id else None for e in item.events] == [None, 2, 3]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("hello", "not valid iCalendar"),
        (_ics(_vevent("a", "DTSTART:20270101T100000Z"), _vevent("b", "DTSTART:20270101T100000Z")), "different UIDs"),
        (_ics(_vevent("a", "SUMMARY:no start")), "no readable event"),
        (_ics("BEGIN:VEVENT\r\nDTSTART:20270101T100000Z\r\nEND:VEVENT\r\n"), "no UID"),
        (_ics(_vevent("a", "DTSTART:20270101T100000Z"), _vevent("a", "DTSTART:20270102T100000Z")), "two events"),
    ],
)
def test_unreadable_objects_are_problems(data: str, reason: str) -> None:
    problem = read_item("/c/x.ics", None, data)
    assert isinstance(problem, ItemProblem) and problem.id == "/c/x.ics"
    assert reason in problem.message


def test_an_object_without_events_is_not_an_item() -> None:
    assert read_item("/c/t.ics", None, _ics("BEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\n")) is None
