"""Fingerprints on real iCalendar text: noise servers add is ignored, what a user sees is not."""

from __future__ import annotations

import pytest

from calmesh.domain.events import Event
from calmesh.ical import parse_calendar, write_event
from calmesh.sync.fingerprint import (
    combine_fingerprints,
    event_fingerprint,
    item_fingerprint,
)

SERIES = """\
BEGIN:VEVENT
UID:standup@example.com
DTSTAMP:20240101T000000Z
CREATED:20240101T000000Z
LAST-MODIFIED:20240102T000000Z
SEQUENCE:0
DTSTART;TZID=Europe/Berlin:20240610T090000
DTEND;TZID=Europe/Berlin:20240610T093000
RRULE:FREQ=DAILY;COUNT=10
EXDATE;TZID=Europe/Berlin:20240612T090000
SUMMARY:Standup
DESCRIPTION:Daily sync
LOCATION:Room 4
ORGANIZER;CN=Ann:mailto:ann@example.com
ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:cat@example.com
X-MOZ-GENERATION:1
X-CALMESH-ID:evt_123
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT10M
DESCRIPTION:Standup
END:VALARM
END:VEVENT"""

MOVED = """\
BEGIN:VEVENT
UID:standup@example.com
DTSTAMP:20240101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20240611T090000
DTSTART;TZID=Europe/Berlin:20240611T110000
DTEND;TZID=Europe/Berlin:20240611T113000
SUMMARY:Standup (moved)
END:VEVENT"""

CANCELLED = """\
BEGIN:VEVENT
UID:standup@example.com
DTSTAMP:20240101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20240613T090000
DTSTART;TZID=Europe/Berlin:20240613T090000
DTEND;TZID=Europe/Berlin:20240613T093000
SUMMARY:Standup
STATUS:CANCELLED
END:VEVENT"""


def calendar(*components: str, prodid: str = "-//Example Corp//Calendar 1.0//EN") -> str:
    """A VCALENDAR around ``components`` (written with plain newlines), with CRLF line ends."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{prodid}", *components, "END:VCALENDAR", ""]
    return "\n".join(lines).replace("\n", "\r\n")


def events(*components: str, prodid: str = "-//Example Corp//Calendar 1.0//EN") -> list[Event]:
    parsed = parse_calendar(calendar(*components, prodid=prodid))
    assert not parsed.problems, parsed.problems
    return parsed.events


def fingerprint(component: str, **kwargs: str) -> str:
    (event,) = events(component, **kwargs)
    return event_fingerprint(event)


def edited(old: str, new: str, component: str = SERIES) -> str:
    assert component.count(old) == 1, old
    return component.replace(old, new)


BASE = fingerprint(SERIES)


def test_a_fingerprint_is_a_short_stable_digest() -> None:
    assert len(BASE) == 32 and int(BASE, 16) >= 0
    assert fingerprint(SERIES) == BASE


# --- noise: servers and clients rewrite these without anything changing -------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("DTSTAMP:20240101T000000Z", "DTSTAMP:20240615T121314Z", id="DTSTAMP"),
        pytest.param("LAST-MODIFIED:20240102T000000Z", "LAST-MODIFIED:20240615T121314Z", id="LAST-MODIFIED"),
        pytest.param("CREATED:20240101T000000Z", "CREATED:20231231T000000Z", id="CREATED"),
        pytest.param("SEQUENCE:0", "SEQUENCE:7", id="SEQUENCE-bump"),
        pytest.param("X-MOZ-GENERATION:1", "X-MOZ-GENERATION:2", id="X-property-changed"),
        pytest.param("X-MOZ-GENERATION:1", "X-MOZ-GENERATION:1\nX-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC", id="X-property-added"),
        pytest.param("X-CALMESH-ID:evt_123\n", "", id="X-CALMESH-ID-dropped-by-the-provider"),
    ],
)
def test_volatile_properties_do_not_change_the_fingerprint(old: str, new: str) -> None:
    assert fingerprint(edited(old, new)) == BASE


def test_the_calendars_prodid_does_not_change_the_fingerprint() -> None:
    assert fingerprint(SERIES, prodid="-//Google Inc//Google Calendar 70.9054//EN") == BASE


def test_the_same_event_written_out_and_read_back_keeps_its_fingerprint() -> None:
    """What calmesh pushes and then lists again must not look changed (no pull after a push)."""
    master, *overrides = events(SERIES, MOVED, CANCELLED)
    again = parse_calendar(write_event(master, overrides, prodid="-//calmesh//EN")).events
    assert item_fingerprint(again) == item_fingerprint([master, *overrides])


# --- changes a user sees --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("SUMMARY:Standup", "SUMMARY:Stand-up", id="SUMMARY"),
        pytest.param("DESCRIPTION:Daily sync", "DESCRIPTION:Daily sync, bring notes", id="DESCRIPTION"),
        pytest.param("LOCATION:Room 4", "LOCATION:Room 5", id="LOCATION"),
        pytest.param(
            "DTSTART;TZID=Europe/Berlin:20240610T090000", "DTSTART;TZID=Europe/Berlin:20240610T091500", id="DTSTART"
        ),
        pytest.param("DTEND;TZID=Europe/Berlin:20240610T093000", "DTEND;TZID=Europe/Berlin:20240610T100000", id="DTEND"),
        pytest.param(
            "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED", "ATTENDEE;CN=Bob;PARTSTAT=DECLINED", id="attendee-PARTSTAT"
        ),
        pytest.param(
            "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:cat@example.com\n", "", id="attendee-removed"
        ),
        pytest.param(
            "EXDATE;TZID=Europe/Berlin:20240612T090000", "EXDATE;TZID=Europe/Berlin:20240613T090000", id="EXDATE"
        ),
        pytest.param("EXDATE;TZID=Europe/Berlin:20240612T090000\n", "", id="EXDATE-removed"),
        pytest.param("RRULE:FREQ=DAILY;COUNT=10", "RRULE:FREQ=DAILY;COUNT=11", id="RRULE"),
        pytest.param("SUMMARY:Standup", "SUMMARY:Standup\nSTATUS:TENTATIVE", id="STATUS"),
        pytest.param("SUMMARY:Standup", "SUMMARY:Standup\nTRANSP:TRANSPARENT", id="TRANSP"),
        pytest.param("SUMMARY:Standup", "SUMMARY:Standup\nCLASS:PRIVATE", id="CLASS"),
        pytest.param("TRIGGER:-PT10M", "TRIGGER:-PT15M", id="reminder"),
        pytest.param("ORGANIZER;CN=Ann:mailto:ann@example.com", "ORGANIZER;CN=Dan:mailto:dan@example.com", id="ORGANIZER"),
        pytest.param(
            "LOCATION:Room 4", "LOCATION:Room 4\nX-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij", id="meeting-link"
        ),
    ],
)
def test_what_a_user_sees_changes_the_fingerprint(old: str, new: str) -> None:
    assert fingerprint(edited(old, new)) != BASE


def test_attendees_listed_in_another_order_are_the_same() -> None:
    bob = "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com"
    cat = "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:cat@example.com"
    assert fingerprint(edited(f"{bob}\n{cat}", f"{cat}\n{bob}")) == BASE


def test_an_email_address_in_another_case_is_the_same_attendee() -> None:
    assert fingerprint(edited("mailto:bob@example.com", "mailto:Bob@Example.COM")) == BASE


# --- instants and series ----------------------------------------------------------------------


def test_exdate_in_utc_or_in_the_events_zone_is_the_same_instant() -> None:
    """09:00 in Berlin on 12 June (CEST, UTC+2) is 07:00 UTC: one instant, one fingerprint."""
    in_utc = edited("EXDATE;TZID=Europe/Berlin:20240612T090000", "EXDATE:20240612T070000Z")
    assert fingerprint(in_utc) == BASE
    an_hour_off = edited("EXDATE;TZID=Europe/Berlin:20240612T090000", "EXDATE:20240612T080000Z")
    assert fingerprint(an_hour_off) != BASE


def test_exdates_listed_in_another_order_are_the_same() -> None:
    two = edited("EXDATE;TZID=Europe/Berlin:20240612T090000", "EXDATE;TZID=Europe/Berlin:20240612T090000,20240614T090000")
    swapped = edited("EXDATE;TZID=Europe/Berlin:20240612T090000", "EXDATE;TZID=Europe/Berlin:20240614T090000,20240612T090000")
    assert fingerprint(two) == fingerprint(swapped) != BASE


def test_a_recurrence_id_in_utc_or_in_the_events_zone_is_the_same_override() -> None:
    in_utc = edited("RECURRENCE-ID;TZID=Europe/Berlin:20240611T090000", "RECURRENCE-ID:20240611T070000Z", MOVED)
    assert fingerprint(in_utc) == fingerprint(MOVED)


def test_overrides_listed_in_another_order_are_the_same_item() -> None:
    forward = item_fingerprint(events(SERIES, MOVED, CANCELLED))
    assert item_fingerprint(events(CANCELLED, SERIES, MOVED)) == forward
    assert item_fingerprint(events(MOVED, CANCELLED, SERIES)) == forward


def test_an_override_changing_or_going_changes_the_item() -> None:
    whole = item_fingerprint(events(SERIES, MOVED, CANCELLED))
    assert item_fingerprint(events(SERIES, MOVED)) != whole
    moved_later = edited("T110000\nDTEND;TZID=Europe/Berlin:20240611T113000", "T120000\nDTEND;TZID=Europe/Berlin:20240611T123000", MOVED)
    assert item_fingerprint(events(SERIES, moved_later, CANCELLED)) != whole
    # A volatile property of an override is noise there too.
    restamped = edited("DTSTAMP:20240101T000000Z", "DTSTAMP:20250101T000000Z", MOVED)
    assert item_fingerprint(events(SERIES, restamped, CANCELLED)) == whole


def test_a_single_event_is_its_own_item_fingerprint() -> None:
    (event,) = events(SERIES)
    assert item_fingerprint([event]) == event_fingerprint(event) == combine_fingerprints([event_fingerprint(event)])
