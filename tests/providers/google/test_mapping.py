"""Google event JSON <-> domain events: tables of real-looking Google JSON, and round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    Reminder,
    Transparency,
    Visibility,
)
from calmesh.providers.google._mapping import (
    MEET,
    UnreadableEvent,
    conference_from_google,
    event_from_google,
    event_to_google,
    instance_id,
    meet_conference_data,
    meet_create_request,
    wants_new_meet,
)
from calmesh.sync.outbound import TAG

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def google(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "calendar#event",
        "etag": '"3381234567890000"',
        "id": "abc123def456",
        "status": "confirmed",
        "created": "2026-03-01T08:00:00.000Z",
        "updated": "2026-03-02T09:30:15.123Z",
        "iCalUID": "abc123def456@google.com",
        "sequence": 0,
        "start": {"dateTime": "2026-03-10T09:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-10T10:00:00+01:00", "timeZone": "Europe/Berlin"},
    }
    base.update(fields)
    return base


# --- Google JSON in --------------------------------------------------------------------------


def test_a_zoned_event_reads_in_its_iana_zone() -> None:
    event = event_from_google(google(summary="Standup", description="Daily", location="Room 1"))
    assert event.uid == "abc123def456@google.com"
    assert event.start == EventTime(datetime(2026, 3, 10, 9, tzinfo=BERLIN), "Europe/Berlin")
    assert event.start.value.tzinfo is BERLIN  # type: ignore[union-attr]
    assert event.end.value == datetime(2026, 3, 10, 10, tzinfo=BERLIN)
    assert (event.summary, event.description, event.location) == ("Standup", "Daily", "Room 1")
    assert event.created_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert event.last_modified_at == datetime(2026, 3, 2, 9, 30, 15, 123000, tzinfo=UTC)
    assert event.status is EventStatus.CONFIRMED and event.recurrence is None


def test_a_utc_dateTime_written_with_Z_in_a_zone_still_lands_in_the_zone() -> None:
    # Google writes a zero offset as Z, e.g. London in winter.
    event = event_from_google(google(start={"dateTime": "2026-01-10T09:00:00Z", "timeZone": "Europe/London"}))
    assert event.start.tzid == "Europe/London"
    assert event.start.value == datetime(2026, 1, 10, 9, tzinfo=ZoneInfo("Europe/London"))


def test_offset_only_times_are_aware_without_a_tzid() -> None:
    event = event_from_google(
        google(start={"dateTime": "2026-03-10T09:00:00-05:00"}, end={"dateTime": "2026-03-10T10:00:00Z"})
    )
    assert event.start.tzid is None and event.start.value.utcoffset() == timedelta(hours=-5)  # type: ignore[union-attr]
    assert event.end.value.tzinfo is timezone.utc  # type: ignore[union-attr]


def test_a_utc_time_zone_is_plain_utc() -> None:
    event = event_from_google(google(start={"dateTime": "2026-03-10T09:00:00Z", "timeZone": "UTC"}))
    assert event.start == EventTime(datetime(2026, 3, 10, 9, tzinfo=UTC))


def test_all_day_events_keep_dates_with_an_exclusive_end() -> None:
    event = event_from_google(google(start={"date": "2026-03-10"}, end={"date": "2026-03-12"}))
    assert event.all_day and event.start == EventTime(date(2026, 3, 10)) and event.end == EventTime(date(2026, 3, 12))


def test_a_recurring_master_without_a_zone_recurs_in_the_calendars_zone() -> None:
    event = event_from_google(
        google(start={"dateTime": "2026-03-10T08:00:00Z"}, end={"dateTime": "2026-03-10T09:00:00Z"}, recurrence=["RRULE:FREQ=DAILY"]),
        calendar_zone="Europe/Berlin",
    )
    assert event.start == EventTime(datetime(2026, 3, 10, 9, tzinfo=BERLIN), "Europe/Berlin")


def test_recurrence_lines_with_exdates_in_a_zone_utc_and_dates() -> None:
    event = event_from_google(
        google(
            recurrence=[
                "RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20260430T215959Z",
                "EXDATE;TZID=Europe/Berlin:20260317T090000",
                "EXDATE:20260324T080000Z",
                "RDATE;TZID=Europe/Berlin:20260326T090000,20260327T090000",
                "EXRULE:FREQ=MONTHLY",
            ]
        )
    )
    assert event.recurrence == Recurrence(
        rrules=("FREQ=WEEKLY;BYDAY=TU;UNTIL=20260430T215959Z",),
        rdates=(
            EventTime(datetime(2026, 3, 26, 9, tzinfo=BERLIN), "Europe/Berlin"),
            EventTime(datetime(2026, 3, 27, 9, tzinfo=BERLIN), "Europe/Berlin"),
        ),
        exdates=(
            EventTime(datetime(2026, 3, 17, 9, tzinfo=BERLIN), "Europe/Berlin"),
            EventTime(datetime(2026, 3, 24, 8, tzinfo=UTC)),
        ),
    )
    assert event.is_recurring


def test_an_all_day_series_reads_value_date_exdates() -> None:
    event = event_from_google(
        google(start={"date": "2026-03-10"}, end={"date": "2026-03-11"}, recurrence=["RRULE:FREQ=DAILY;COUNT=5", "EXDATE;VALUE=DATE:20260312"])
    )
    assert event.recurrence is not None and event.recurrence.exdates == (EventTime(date(2026, 3, 12)),)


def test_an_exception_carries_its_original_start_as_recurrence_id() -> None:
    event = event_from_google(
        google(
            id="abc123def456_20260317T080000Z",
            recurringEventId="abc123def456",
            originalStartTime={"dateTime": "2026-03-17T09:00:00+01:00", "timeZone": "Europe/Berlin"},
            start={"dateTime": "2026-03-17T11:00:00+01:00", "timeZone": "Europe/Berlin"},
        )
    )
    assert event.recurrence_id == RecurrenceId(EventTime(datetime(2026, 3, 17, 9, tzinfo=BERLIN), "Europe/Berlin"))


def test_people_status_visibility_and_reminders() -> None:
    event = event_from_google(
        google(
            status="tentative",
            transparency="transparent",
            visibility="confidential",
            sequence=3,
            organizer={"email": "ann@example.com", "displayName": "Ann", "self": True},
            attendees=[
                {"email": "ann@example.com", "organizer": True, "self": True, "responseStatus": "accepted"},
                {"email": "bob@example.com", "displayName": "Bob", "optional": True, "responseStatus": "tentative"},
                {"email": "cy@example.com", "responseStatus": "declined"},
                {"email": "dee@example.com"},
                {"displayName": "no email: skipped"},
            ],
            reminders={"useDefault": False, "overrides": [{"method": "email", "minutes": 1440}, {"method": "popup", "minutes": 10}]},
        )
    )
    assert event.status is EventStatus.TENTATIVE and event.transparency is Transparency.TRANSPARENT
    assert event.visibility is Visibility.CONFIDENTIAL and event.sequence == 3
    assert event.organizer == Organizer("ann@example.com", "Ann")
    assert event.attendees == (
        Attendee("ann@example.com", None, ParticipationStatus.ACCEPTED),
        Attendee("bob@example.com", "Bob", ParticipationStatus.TENTATIVE, role="OPT-PARTICIPANT"),
        Attendee("cy@example.com", None, ParticipationStatus.DECLINED),
        Attendee("dee@example.com", None, ParticipationStatus.NEEDS_ACTION),
    )
    assert event.reminders == (Reminder(1440, "email"), Reminder(10, "popup"))
    assert event_from_google(google(reminders={"useDefault": True})).reminders == ()


def test_private_extended_properties_carry_the_calmesh_tag_and_x_properties() -> None:
    event = event_from_google(
        google(
            extendedProperties={
                "private": {"calmeshId": "m-123", "X-ORIGIN": "crm", "someoneElse": "theirs"},
                "shared": {"X-SHARED": "not ours"},
            }
        )
    )
    assert event.x_properties == {TAG: "m-123", "X-ORIGIN": "crm"}


def test_a_meet_conference_from_realistic_google_json() -> None:
    data = google(
        hangoutLink="https://meet.google.com/abc-defg-hij",
        conferenceData={
            "createRequest": {
                "requestId": "7qxalsvy0e",
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
                "status": {"statusCode": "success"},
            },
            "entryPoints": [
                {"entryPointType": "video", "uri": "https://meet.google.com/abc-defg-hij", "label": "meet.google.com/abc-defg-hij"},
                {"entryPointType": "phone", "uri": "tel:+1-402-555-0199", "label": "+1 402-555-0199", "pin": "123456789", "regionCode": "US"},
                {"entryPointType": "more", "uri": "https://tel.meet/abc-defg-hij?pin=123456789", "pin": "123456789"},
            ],
            "conferenceSolution": {
                "key": {"type": "hangoutsMeet"},
                "name": "Google Meet",
                "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png",
            },
            "conferenceId": "abc-defg-hij",
        },
    )
    assert event_from_google(data).conference == ConferenceData(
        service=MEET,
        join_url="https://meet.google.com/abc-defg-hij",
        meeting_id="abc-defg-hij",
        passcode=None,
        dial_ins=("tel:+1-402-555-0199,,123456789#",),
    )


def test_legacy_hangout_links_pending_and_failed_meets() -> None:
    assert conference_from_google({"hangoutLink": "https://meet.google.com/x"}) == ConferenceData(MEET, "https://meet.google.com/x")
    pending = {"conferenceData": {"createRequest": {"requestId": "r", "conferenceSolutionKey": {"type": "hangoutsMeet"}, "status": {"statusCode": "pending"}}}}
    assert conference_from_google(pending) == ConferenceData(MEET)
    failed = {"conferenceData": {"createRequest": {"requestId": "r", "conferenceSolutionKey": {"type": "hangoutsMeet"}, "status": {"statusCode": "failure"}}}}
    assert conference_from_google(failed) is None


def test_an_add_on_conference_is_named_by_its_link() -> None:
    data = {
        "conferenceData": {
            "conferenceSolution": {"key": {"type": "addOn"}, "name": "Zoom Meeting"},
            "entryPoints": [{"entryPointType": "video", "uri": "https://us02web.zoom.us/j/123", "passcode": "9911"}],
            "conferenceId": "123",
        }
    }
    assert conference_from_google(data) == ConferenceData("ZOOM", "https://us02web.zoom.us/j/123", "123", "9911")


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"start": None}, "no start"),
        ({"start": {"dateTime": "next tuesday"}}, "not RFC 3339"),
        ({"start": {"date": "2026-13-40"}}, "not a date"),
        ({"recurrence": ["RRULE:FREQ=DAILY", "EXDATE:2026031"]}, "broken EXDATE"),
    ],
)
def test_unreadable_events_raise_unreadable_event(fields: dict[str, Any], why: str) -> None:
    with pytest.raises(UnreadableEvent):
        event_from_google(google(**fields))


# --- domain events out ------------------------------------------------------------------------


def event(**fields: Any) -> Event:
    base: dict[str, Any] = {
        "uid": "uid-1@calmesh",
        "start": EventTime(datetime(2026, 3, 10, 9, tzinfo=BERLIN), "Europe/Berlin"),
        "end": EventTime(datetime(2026, 3, 10, 10, tzinfo=BERLIN), "Europe/Berlin"),
    }
    base.update(fields)
    return Event(**base)


def test_zoned_times_go_out_as_local_time_with_offset_and_iana_zone() -> None:
    body = event_to_google(event(summary="Hi"))
    assert body["start"] == {"dateTime": "2026-03-10T09:00:00+01:00", "timeZone": "Europe/Berlin"}
    assert body["end"] == {"dateTime": "2026-03-10T10:00:00+01:00", "timeZone": "Europe/Berlin"}
    assert body["summary"] == "Hi" and "description" not in body and "iCalUID" not in body
    assert body["reminders"] == {"useDefault": True}
    assert (body["status"], body["transparency"], body["visibility"]) == ("confirmed", "opaque", "default")


def test_a_windows_zone_name_goes_out_as_its_iana_zone() -> None:
    windows = "W. Europe Standard Time"
    body = event_to_google(
        event(
            start=EventTime(datetime(2026, 7, 1, 9, tzinfo=BERLIN), windows),
            end=EventTime(datetime(2026, 7, 1, 9, 30, tzinfo=BERLIN), windows),
            recurrence=Recurrence(("FREQ=DAILY;COUNT=3",), exdates=(EventTime(datetime(2026, 7, 2, 9, tzinfo=BERLIN), windows),)),
        )
    )
    assert body["start"] == {"dateTime": "2026-07-01T09:00:00+02:00", "timeZone": "Europe/Berlin"}
    assert body["recurrence"] == ["RRULE:FREQ=DAILY;COUNT=3", "EXDATE;TZID=Europe/Berlin:20260702T090000"]


def test_utc_times_go_out_with_Z_and_recurring_ones_say_utc() -> None:
    start = EventTime(datetime(2026, 3, 10, 9, tzinfo=UTC))
    single = event_to_google(event(start=start, end=start))
    assert single["start"] == {"dateTime": "2026-03-10T09:00:00Z"}
    series = event_to_google(
        event(start=start, end=start, recurrence=Recurrence(("FREQ=DAILY",), exdates=(EventTime(datetime(2026, 3, 11, 9, tzinfo=UTC)),)))
    )
    assert series["start"] == {"dateTime": "2026-03-10T09:00:00Z", "timeZone": "UTC"}
    assert series["recurrence"] == ["RRULE:FREQ=DAILY", "EXDATE:20260311T090000Z"]


def test_a_whole_hour_fixed_offset_series_recurs_in_etc_gmt() -> None:
    plus_two = timezone(timedelta(hours=2))
    start = EventTime(datetime(2026, 3, 10, 9, tzinfo=plus_two))
    body = event_to_google(event(start=start, end=start, recurrence=Recurrence(("FREQ=DAILY",))))
    assert body["start"] == {"dateTime": "2026-03-10T07:00:00Z", "timeZone": "Etc/GMT-2"}
    again = event_from_google({"id": "x1234", **body})
    assert again.start.value == start.value


def test_floating_times_go_out_in_the_calendars_zone() -> None:
    start = EventTime(datetime(2026, 3, 10, 9))
    body = event_to_google(
        event(start=start, end=EventTime(datetime(2026, 3, 10, 10)), recurrence=Recurrence(("FREQ=DAILY",), exdates=(EventTime(datetime(2026, 3, 12, 9)),))),
        calendar_zone="America/New_York",
    )
    assert body["start"] == {"dateTime": "2026-03-10T09:00:00-04:00", "timeZone": "America/New_York"}
    assert body["recurrence"] == ["RRULE:FREQ=DAILY", "EXDATE;TZID=America/New_York:20260312T090000"]
    assert event_to_google(event(start=start, end=start))["start"] == {"dateTime": "2026-03-10T09:00:00+00:00", "timeZone": "UTC"}


def test_all_day_events_and_their_exdates() -> None:
    body = event_to_google(
        event(
            start=EventTime(date(2026, 3, 10)),
            end=EventTime(date(2026, 3, 10)),  # no length: Google needs a day
            recurrence=Recurrence(("FREQ=DAILY;COUNT=4",), exdates=(EventTime(date(2026, 3, 11)), EventTime(datetime(2026, 3, 12, 9, tzinfo=UTC)))),
        )
    )
    assert body["start"] == {"date": "2026-03-10"} and body["end"] == {"date": "2026-03-11"}
    assert body["recurrence"] == ["RRULE:FREQ=DAILY;COUNT=4", "EXDATE;VALUE=DATE:20260311", "EXDATE;VALUE=DATE:20260312"]


def test_dst_is_kept_on_both_sides_of_the_change() -> None:
    # 29 March 2026: Berlin springs forward. 09:00 before is +01:00, after +02:00.
    before = event_to_google(event(start=EventTime(datetime(2026, 3, 28, 9, tzinfo=BERLIN), "Europe/Berlin")))
    after = event_to_google(event(start=EventTime(datetime(2026, 3, 30, 9, tzinfo=BERLIN), "Europe/Berlin")))
    assert before["start"]["dateTime"].endswith("+01:00") and after["start"]["dateTime"].endswith("+02:00")
    # An instance id is the original start in UTC, so it moves by the DST offset.
    series_start = EventTime(datetime(2026, 3, 28, 9, tzinfo=BERLIN), "Europe/Berlin")
    assert instance_id("m1", EventTime(datetime(2026, 3, 28, 9, tzinfo=BERLIN)), series_start, None) == "m1_20260328T080000Z"
    assert instance_id("m1", EventTime(datetime(2026, 3, 30, 9, tzinfo=BERLIN)), series_start, None) == "m1_20260330T070000Z"
    assert instance_id("m1", EventTime(date(2026, 3, 30)), EventTime(date(2026, 3, 1)), None) == "m1_20260330"
    # A date recurrence id on a timed series names that day's instance.
    assert instance_id("m1", EventTime(date(2026, 3, 30)), series_start, None) == "m1_20260330T070000Z"


def test_people_reminders_and_properties_go_out() -> None:
    body = event_to_google(
        event(
            organizer=Organizer("ann@example.com", "Ann"),
            attendees=(
                Attendee("bob@example.com", "Bob", ParticipationStatus.ACCEPTED, role="OPT-PARTICIPANT"),
                Attendee("cy@example.com", None, ParticipationStatus.DELEGATED, role="REQ-PARTICIPANT", rsvp=True),
            ),
            reminders=tuple(Reminder(m, "email" if m % 2 else "sms") for m in range(1, 8)),
            sequence=4,
            x_properties={TAG: "m-1", "X-ORIGIN": "crm", "X-" + "L" * 43: "too long a key", "NOT-X": "ignored"},
        )
    )
    assert body["organizer"] == {"email": "ann@example.com", "displayName": "Ann"}
    assert body["attendees"] == [
        {"email": "bob@example.com", "responseStatus": "accepted", "displayName": "Bob", "optional": True},
        {"email": "cy@example.com", "responseStatus": "needsAction"},
    ]
    assert body["reminders"] == {
        "useDefault": False,
        "overrides": [{"method": m, "minutes": i} for i, m in zip(range(1, 6), ["email", "popup", "email", "popup", "email"])],
    }
    assert body["sequence"] == 4
    assert body["extendedProperties"] == {"private": {"calmeshId": "m-1", "X-ORIGIN": "crm"}}


def test_meet_requests_and_copies() -> None:
    assert wants_new_meet(ConferenceData(MEET)) and wants_new_meet(ConferenceData("google_meet"))
    assert not wants_new_meet(ConferenceData(MEET, "https://meet.google.com/x")) and not wants_new_meet(ConferenceData("ZOOM"))
    first, second = meet_create_request(), meet_create_request()
    assert first["createRequest"]["conferenceSolutionKey"] == {"type": "hangoutsMeet"}
    assert first["createRequest"]["requestId"] != second["createRequest"]["requestId"]
    assert meet_conference_data(ConferenceData("ZOOM", "https://zoom.us/j/1")) is None
    copy = meet_conference_data(ConferenceData(MEET, "https://meet.google.com/abc", "abc", dial_ins=("tel:+1-555,,42#",)))
    assert copy is not None and conference_from_google({"conferenceData": copy}) == ConferenceData(
        MEET, "https://meet.google.com/abc", "abc", dial_ins=("tel:+1-555,,42#",)
    )
    assert "conferenceData" not in event_to_google(event(conference=ConferenceData(MEET)))


# --- round trips -----------------------------------------------------------------------------

ZONES = [None, "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]
_INSTANTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=0)
)
_TEXT = st.one_of(st.none(), st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40))
_EMAILS = st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(com|org)", fullmatch=True)
_RULES = st.sampled_from(["FREQ=DAILY;COUNT=5", "FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=MONTHLY;BYMONTHDAY=15;INTERVAL=2", "FREQ=YEARLY"])


@st.composite
def events(draw: st.DrawFn) -> Event:
    all_day = draw(st.booleans())
    zone_name = draw(st.sampled_from(ZONES))
    instant = draw(_INSTANTS)
    if all_day:
        day = instant.date()

        def at(days: int) -> EventTime:
            return EventTime(day + timedelta(days=days))

        start, end = at(0), at(draw(st.integers(1, 10)))
    else:
        zone = ZoneInfo(zone_name) if zone_name else UTC

        def at(days: int) -> EventTime:
            moment = (instant + timedelta(days=days)).astimezone(zone)
            return EventTime(moment, zone_name)

        start = at(0)
        end = EventTime((instant + timedelta(minutes=draw(st.integers(0, 60 * 24 * 3)))).astimezone(zone), zone_name)
    recurrence = None
    if draw(st.booleans()):
        offsets = draw(st.lists(st.integers(1, 30), unique=True, max_size=3))
        recurrence = Recurrence(
            rrules=(draw(_RULES),),
            rdates=tuple(at(d + 40) for d in draw(st.lists(st.integers(1, 30), unique=True, max_size=2))),
            exdates=tuple(at(d) for d in offsets),
        )
    x_properties = {TAG: draw(st.uuids()).hex}
    if draw(st.booleans()):
        x_properties["X-" + draw(st.from_regex(r"[A-Z]{1,42}", fullmatch=True))] = draw(st.text(min_size=1, max_size=50))
    return Event(
        uid=draw(st.from_regex(r"[A-Za-z0-9-]{1,30}@calmesh", fullmatch=True)),
        start=start,
        end=end,
        summary=draw(_TEXT),
        description=draw(_TEXT),
        location=draw(_TEXT),
        status=draw(st.sampled_from(list(EventStatus))),
        transparency=draw(st.sampled_from(list(Transparency))),
        visibility=draw(st.sampled_from(list(Visibility))),
        recurrence=recurrence,
        organizer=draw(st.one_of(st.none(), st.builds(Organizer, _EMAILS, _TEXT))),
        attendees=tuple(
            draw(
                st.lists(
                    st.builds(
                        Attendee,
                        _EMAILS,
                        _TEXT,
                        st.sampled_from([s for s in ParticipationStatus if s is not ParticipationStatus.DELEGATED]),
                        st.sampled_from([None, "OPT-PARTICIPANT"]),
                    ),
                    max_size=4,
                )
            )
        ),
        reminders=tuple(draw(st.lists(st.builds(Reminder, st.integers(0, 40320), st.sampled_from(["popup", "email"])), max_size=5))),
        sequence=draw(st.integers(0, 1000)),
        x_properties=x_properties,
    )


@given(events(), st.sampled_from(["Europe/Berlin", "UTC", "Asia/Tokyo"]))
@settings(max_examples=300, deadline=None)
def test_events_survive_a_round_trip_through_google_json(original: Event, calendar_zone: str) -> None:
    body = event_to_google(original, calendar_zone=calendar_zone)
    body.update(id="abcdef12345", iCalUID=original.uid)
    assert event_from_google(body, calendar_zone=calendar_zone) == original


@given(events())
@settings(max_examples=100, deadline=None)
def test_an_exception_survives_a_round_trip(original: Event) -> None:
    override = Event(
        uid=original.uid,
        start=original.start,
        end=original.end,
        summary=original.summary,
        recurrence_id=RecurrenceId(original.start),
        x_properties=original.x_properties,
    )
    body = event_to_google(override)
    body.update(id="abcdef12345_x", iCalUID=original.uid, recurringEventId="abcdef12345")
    assert event_from_google(body) == override


def test_floating_and_windows_zoned_events_come_back_in_the_zone_they_were_written_in() -> None:
    floating = event(start=EventTime(datetime(2026, 3, 10, 9)), end=EventTime(datetime(2026, 3, 10, 10)))
    back = event_from_google({"id": "abcde", **event_to_google(floating, calendar_zone="America/New_York")})
    assert back.start == EventTime(datetime(2026, 3, 10, 9, tzinfo=NEW_YORK), "America/New_York")
    windows = event(start=EventTime(datetime(2026, 3, 10, 9, tzinfo=BERLIN), "W. Europe Standard Time"))
    back = event_from_google({"id": "abcde", **event_to_google(windows)})
    assert back.start == EventTime(datetime(2026, 3, 10, 9, tzinfo=BERLIN), "Europe/Berlin")
