"""VEVENTs into domain events: lengths, recurrence, people, conferencing, and broken components."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from calmesh.domain.events import (
    EventStatus,
    EventTime,
    ParticipationStatus,
    Transparency,
    Visibility,
)
from calmesh.ical import parse_calendar
from tests.ical.builders import moment, only_event, parse, vevent

BERLIN = ZoneInfo("Europe/Berlin")


# --- DTEND ---------------------------------------------------------------------------------


def test_missing_dtend_defaults_to_one_day_for_all_day_events() -> None:
    event = only_event(start="DTSTART;VALUE=DATE:20240610")
    assert event.end.value == date(2024, 6, 11)


def test_missing_dtend_defaults_to_zero_length_for_timed_events() -> None:
    event = only_event()
    assert event.end == event.start


def test_duration_hours_are_elapsed_time_across_a_dst_change() -> None:
    # 31 March 2024: Berlin springs forward at 02:00. Three hours from 00:00 end at 04:00 local.
    event = only_event("DURATION:PT3H", start="DTSTART;TZID=Europe/Berlin:20240331T000000")
    assert event.duration() == timedelta(hours=3)
    assert moment(event.end).hour == 4


def test_duration_days_are_calendar_days_across_a_dst_change() -> None:
    event = only_event("DURATION:P1D", start="DTSTART;TZID=Europe/Berlin:20240330T090000")
    assert event.end.value == datetime(2024, 3, 31, 9, tzinfo=BERLIN)
    assert event.duration() == timedelta(hours=23)


def test_dtend_before_dtstart_becomes_the_default_length_with_a_problem() -> None:
    parsed = parse(vevent("DTEND:20240610T080000Z"))
    (event,) = parsed.events
    assert event.end == event.start
    (problem,) = parsed.problems
    assert "DTEND is not after DTSTART" in problem.message and not problem.fatal
    assert problem.uid == "e1@test"


def test_all_day_dtend_equal_to_dtstart_becomes_one_day() -> None:
    parsed = parse(vevent("DTEND;VALUE=DATE:20240610", start="DTSTART;VALUE=DATE:20240610"))
    assert parsed.events[0].end.value == date(2024, 6, 11)
    assert len(parsed.problems) == 1


def test_timed_dtend_on_an_all_day_event_takes_the_date() -> None:
    event = only_event("DTEND:20240612T000000", start="DTSTART;VALUE=DATE:20240610")
    assert event.end.value == date(2024, 6, 12)


# --- recurrence ----------------------------------------------------------------------------


def test_recurrence_set_is_read() -> None:
    event = only_event(
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        "RDATE;TZID=Europe/Berlin:20240620T090000,20240621T090000",
        "RDATE;VALUE=PERIOD:20240701T070000Z/PT2H",
        "EXDATE;TZID=Europe/Berlin:20240617T090000",
        "EXDATE;TZID=Europe/Berlin:20240624T090000",
        start="DTSTART;TZID=Europe/Berlin:20240610T090000",
    )
    assert event.is_recurring
    recurrence = event.recurrence
    assert recurrence is not None
    assert recurrence.rrules == ("FREQ=WEEKLY;BYDAY=MO;COUNT=10",)
    assert [t.value for t in recurrence.rdates] == [
        datetime(2024, 6, 20, 9, tzinfo=BERLIN),
        datetime(2024, 6, 21, 9, tzinfo=BERLIN),
        datetime(2024, 7, 1, 7, tzinfo=timezone.utc),
    ]
    assert [t.value.day for t in recurrence.exdates] == [17, 24]


def test_date_exdate_on_a_timed_series_means_that_days_instance() -> None:
    event = only_event(
        "RRULE:FREQ=DAILY;COUNT=5",
        "EXDATE;VALUE=DATE:20240612",
        start="DTSTART;TZID=Europe/Berlin:20240610T090000",
    )
    assert event.recurrence is not None
    assert event.recurrence.exdates == (
        EventTime(datetime(2024, 6, 12, 9, tzinfo=BERLIN), "Europe/Berlin"),
    )


def test_until_is_aligned_with_a_zoned_dtstart() -> None:
    parsed = parse(
        vevent(
            "RRULE:FREQ=DAILY;UNTIL=20240615", start="DTSTART;TZID=Europe/Berlin:20240610T090000"
        )
    )
    recurrence = parsed.events[0].recurrence
    assert recurrence is not None
    # The whole of 15 June in Berlin, in UTC, as RFC 5545 §3.3.10 wants for a zoned DTSTART.
    assert recurrence.rrules == ("FREQ=DAILY;UNTIL=20240615T215959Z",)
    assert "UNTIL" in parsed.problems[0].message


def test_unusable_rrule_is_dropped_and_the_event_kept() -> None:
    parsed = parse(vevent("RRULE:FREQ=SOMETIMES"))
    (event,) = parsed.events
    assert event.recurrence is None
    assert "RRULE" in parsed.problems[0].message


def test_overrides_are_separate_events_with_their_recurrence_id() -> None:
    parsed = parse(
        vevent(
            "RRULE:FREQ=DAILY;COUNT=5", uid="s", start="DTSTART;TZID=Europe/Berlin:20240610T090000"
        ),
        vevent(
            "RECURRENCE-ID;TZID=Europe/Berlin:20240611T090000",
            "SUMMARY:moved",
            uid="s",
            start="DTSTART;TZID=Europe/Berlin:20240611T110000",
        ),
        vevent(
            "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20240613T090000",
            uid="s",
            start="DTSTART;TZID=Europe/Berlin:20240613T100000",
        ),
    )
    master, moved, future = parsed.events
    assert master.is_recurring and not master.is_override
    assert moved.recurrence_id is not None and moved.summary == "moved"
    assert moved.recurrence_id.value.value == datetime(2024, 6, 11, 9, tzinfo=BERLIN)
    assert not moved.recurrence_id.this_and_future
    assert future.recurrence_id is not None and future.recurrence_id.this_and_future


# --- everything else -----------------------------------------------------------------------


def test_people_status_and_flags_are_read() -> None:
    event = only_event(
        "ORGANIZER;CN=Ann Lee:MAILTO:ann@example.com",
        "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:bob@example.com",
        "ATTENDEE;PARTSTAT=DECLINED:mailto:cy@example.com",
        "ATTENDEE:mailto:di@example.com",
        "STATUS:TENTATIVE",
        "TRANSP:TRANSPARENT",
        "CLASS:CONFIDENTIAL",
        "SEQUENCE:3",
        "CREATED:20240101T120000Z",
        "LAST-MODIFIED:20240102T120000Z",
        "SUMMARY:Plan\\, review\\; ship\\nnow",
    )
    assert event.organizer is not None
    assert (event.organizer.email, event.organizer.name) == ("ann@example.com", "Ann Lee")
    bob, cy, di = event.attendees
    assert (bob.email, bob.name, bob.status, bob.role, bob.rsvp) == (
        "bob@example.com",
        "Bob",
        ParticipationStatus.ACCEPTED,
        "REQ-PARTICIPANT",
        True,
    )
    assert cy.status is ParticipationStatus.DECLINED
    assert di.status is ParticipationStatus.NEEDS_ACTION
    assert event.status is EventStatus.TENTATIVE
    assert event.transparency is Transparency.TRANSPARENT
    assert event.visibility is Visibility.CONFIDENTIAL
    assert event.sequence == 3
    assert event.created_at == datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    assert event.last_modified_at == datetime(2024, 1, 2, 12, tzinfo=timezone.utc)
    assert event.summary == "Plan, review; ship\nnow"


def test_unknown_class_counts_as_private() -> None:
    assert only_event("CLASS:X-SECRET").visibility is Visibility.PRIVATE
    assert only_event().visibility is Visibility.DEFAULT


def test_google_meet_conference() -> None:
    event = only_event("X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij")
    assert event.conference is not None
    assert (event.conference.service, event.conference.join_url) == (
        "GOOGLE_MEET",
        "https://meet.google.com/abc-defg-hij",
    )


def test_teams_conference() -> None:
    url = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0"
    event = only_event(f"X-MICROSOFT-SKYPETEAMSMEETINGURL:{url}")
    assert event.conference is not None
    assert (event.conference.service, event.conference.join_url) == ("TEAMS", url)


def test_skype_for_business_sip_link_is_not_a_join_url() -> None:
    event = only_event("X-MICROSOFT-ONLINEMEETINGCONFLINK:conf:sip:ann@example.com;gruu")
    assert event.conference is None


def test_rfc7986_conference_prefers_video_and_keeps_dial_ins() -> None:
    event = only_event(
        "CONFERENCE;VALUE=URI;FEATURE=PHONE;LABEL=Dial:tel:+1-555-0100,,123#",
        "CONFERENCE;VALUE=URI;FEATURE=CHAT:https://chat.example.com/room",
        "CONFERENCE;VALUE=URI;FEATURE=AUDIO,VIDEO:https://example.zoom.us/j/123",
    )
    assert event.conference is not None
    assert event.conference.join_url == "https://example.zoom.us/j/123"
    assert event.conference.service == "ZOOM"
    assert event.conference.dial_ins == ("tel:+1-555-0100,,123#",)


def test_only_calmesh_x_properties_are_kept() -> None:
    event = only_event(
        "X-CALMESH-ID:abc\\,1", "x-calmesh-origin:api", "X-MICROSOFT-CDO-BUSYSTATUS:BUSY"
    )
    assert event.x_properties == {"X-CALMESH-ID": "abc,1", "X-CALMESH-ORIGIN": "api"}


# --- broken components ---------------------------------------------------------------------


def test_a_broken_vevent_is_skipped_and_the_others_kept() -> None:
    parsed = parse(
        vevent(uid="good-1"),
        vevent(uid="no-start", start=None),
        vevent(uid="bad-start", start="DTSTART:tomorrow"),
        vevent(uid="good-2"),
    )
    assert [e.uid for e in parsed.events] == ["good-1", "good-2"]
    fatal = [(p.uid, p.line) for p in parsed.problems if p.fatal]
    assert fatal == [("no-start", 9), ("bad-start", 13)]
    assert all(p.message.startswith("VEVENT skipped") for p in parsed.problems)


def test_missing_uid_is_made_up_the_same_way_on_every_read() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTAMP:{stamp}\r\nDTSTART:20240610T090000Z\r\n"
        "SUMMARY:No UID\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    first = parse_calendar(text.format(stamp="20240101T000000Z"))
    second = parse_calendar(text.format(stamp="20240505T000000Z"))
    assert first.events[0].uid == second.events[0].uid
    assert first.events[0].uid.startswith("calmesh-")
    assert "no UID" in first.problems[0].message and not first.problems[0].fatal


def test_bad_sequence_is_zero_with_a_problem() -> None:
    parsed = parse(vevent("SEQUENCE:two"))
    assert parsed.events[0].sequence == 0
    assert "SEQUENCE" in parsed.problems[0].message


def test_rrule_escaped_like_text_is_still_read() -> None:
    event = only_event("RRULE:FREQ=DAILY\\;COUNT=10")
    assert event.recurrence is not None
    assert event.recurrence.rrules == ("FREQ=DAILY;COUNT=10",)


def test_rrule_with_count_and_until_keeps_count() -> None:
    parsed = parse(vevent("RRULE:FREQ=DAILY;COUNT=3;UNTIL=20250101T000000Z"))
    recurrence = parsed.events[0].recurrence
    assert recurrence is not None and recurrence.rrules == ("FREQ=DAILY;COUNT=3",)
    assert "COUNT and UNTIL" in parsed.problems[0].message
