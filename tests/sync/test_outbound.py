"""Events created through calmesh, as the external calendar gets them and as they come back."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calmesh.domain.events import (
    Attendee,
    ConferenceData,
    Event,
    EventTime,
    Organizer,
    ParticipationStatus,
    Recurrence,
    RecurrenceId,
    Reminder,
    Visibility,
)
from calmesh.ical import parse_calendar, write_event
from calmesh.sync.fingerprint import item_fingerprint
from calmesh.sync.outbound import BUSY_TITLE, TAG, for_provider, merge_from_provider
from calmesh.sync.settings import SyncSettings

BERLIN = ZoneInfo("Europe/Berlin")
CALMESH_ID = "evt_01HZX"


def at(day: int, hour: int, minute: int = 0) -> EventTime:
    return EventTime(datetime(2024, 6, day, hour, minute, tzinfo=BERLIN), "Europe/Berlin")


def booking(**changes: Any) -> Event:
    event = Event(
        uid="booking-1@calmesh",
        start=at(10, 9),
        end=at(10, 10),
        summary="Intro call with Dana",
        description="Dana's notes: wants pricing",
        location="Room 4",
        organizer=Organizer("host@example.com", "Host"),
        attendees=(Attendee("dana@example.org", "Dana", ParticipationStatus.ACCEPTED),),
        conference=ConferenceData("GOOGLE_MEET", "https://meet.google.com/abc-defg-hij"),
        x_properties={"X-CALMESH-SOURCE": "booking"},
    )
    return replace(event, **changes)


def series() -> tuple[Event, ...]:
    master = booking(recurrence=Recurrence(rrules=("FREQ=WEEKLY;COUNT=4",)))
    moved = booking(
        recurrence_id=RecurrenceId(at(17, 9)), start=at(17, 11), end=at(17, 12), summary="Intro call (moved)"
    )
    return master, moved


def configure(**payload: Any) -> SyncSettings:
    return SyncSettings.model_validate(payload)


def shaped(event: Event, **payload: Any) -> Event:
    (out,) = for_provider((event,), configure(**payload), CALMESH_ID)
    return out


def written_and_read_back(events: tuple[Event, ...]) -> list[Event]:
    parsed = parse_calendar(write_event(events[0], events[1:]))
    assert not parsed.problems, parsed.problems
    return parsed.events


# --- showEventDetails ---------------------------------------------------------------------------


def test_hidden_details_leave_only_the_time_and_the_tag() -> None:
    event = booking()
    out = shaped(event, showEventDetails=False)
    assert out.summary == BUSY_TITLE == "Busy"
    assert out.description is None and out.location is None and out.conference is None
    assert out.attendees == () and out.organizer is None
    assert (out.start, out.end, out.uid) == (event.start, event.end, event.uid)
    assert out.x_properties == {"X-CALMESH-SOURCE": "booking", TAG: CALMESH_ID}
    assert event.summary == "Intro call with Dana"  # the mirror's event is left alone


def test_hidden_details_override_every_privacy_field() -> None:
    everything_shown = {"showTitle": True, "showDescription": True, "showAttendees": True, "showLocation": True}
    out = shaped(booking(), showEventDetails=False, eventPrivacy=everything_shown)
    assert (out.summary, out.description, out.location, out.attendees) == (BUSY_TITLE, None, None, ())


def test_shown_details_pass_through_with_the_tag() -> None:
    event = booking()
    out = shaped(event)
    assert replace(out, x_properties={}) == replace(event, x_properties={})
    assert out.x_properties[TAG] == CALMESH_ID


def test_every_instance_of_a_series_is_shaped() -> None:
    out = for_provider(series(), configure(showEventDetails=False), CALMESH_ID)
    assert [e.summary for e in out] == [BUSY_TITLE, BUSY_TITLE]
    assert all(e.x_properties[TAG] == CALMESH_ID and e.attendees == () for e in out)
    assert out[1].recurrence_id == series()[1].recurrence_id and out[1].start == at(17, 11)


# --- eventPrivacy, one field at a time ------------------------------------------------------------

HIDDEN: dict[str, dict[str, Any]] = {
    "showTitle": {"summary": BUSY_TITLE},
    "showDescription": {"description": None},
    "showLocation": {"location": None, "conference": None},
    "showAttendees": {"attendees": (), "organizer": None},
}


@pytest.mark.parametrize("field", list(HIDDEN))
def test_each_privacy_field_hides_exactly_its_part(field: str) -> None:
    event = booking()
    out = shaped(event, eventPrivacy={field: False})
    expected = replace(event, **HIDDEN[field], x_properties={**event.x_properties, TAG: CALMESH_ID})
    assert out == expected


def test_seed_privacy_example() -> None:
    """Seed 001: title and location shown, description and attendees hidden."""
    privacy = {"showTitle": True, "showDescription": False, "showAttendees": False, "showLocation": True}
    out = shaped(booking(), eventPrivacy=privacy)
    assert out.summary == "Intro call with Dana" and out.location == "Room 4" and out.conference is not None
    assert out.description is None and out.attendees == () and out.organizer is None


# --- eventDefaults -------------------------------------------------------------------------------


def test_default_visibility_fills_in_only_an_event_without_one() -> None:
    defaults = {"eventDefaults": {"visibility": "private"}}
    assert shaped(booking(), **defaults).visibility is Visibility.PRIVATE
    assert shaped(booking(visibility=Visibility.PUBLIC), **defaults).visibility is Visibility.PUBLIC
    assert shaped(booking(visibility=Visibility.CONFIDENTIAL), **defaults).visibility is Visibility.CONFIDENTIAL
    assert shaped(booking()).visibility is Visibility.DEFAULT


def test_default_reminders_are_added_only_to_an_event_without_any() -> None:
    defaults = {"eventDefaults": {"reminders": [{"method": "popup", "minutes": 15}, {"method": "email", "minutes": 60}]}}
    assert shaped(booking(), **defaults).reminders == (Reminder(15, "popup"), Reminder(60, "email"))
    own = (Reminder(5, "popup"),)
    assert shaped(booking(reminders=own), **defaults).reminders == own
    assert shaped(booking()).reminders == ()


SEED_OUTBOUND = {
    "syncDirection": "OUTBOUND",
    "createEventsIn": "primary",
    "eventDefaults": {"visibility": "private", "reminders": [{"method": "popup", "minutes": 15}]},
}


def test_the_written_event_carries_the_defaults_and_reads_back_the_same() -> None:
    settings = configure(**SEED_OUTBOUND, showEventDetails=False)
    sent = for_provider(series(), settings, CALMESH_ID)
    text = write_event(sent[0], sent[1:]).decode()
    lines = text.split("\r\n")
    assert lines.count("BEGIN:VALARM") == 2 and lines.count("TRIGGER:-PT15M") == 2
    assert lines.count("CLASS:PRIVATE") == 2
    assert lines.count(f"{TAG}:{CALMESH_ID}") == 2
    assert lines.count("SUMMARY:Busy") == 2
    assert not any(line.startswith(("DESCRIPTION:Dana", "ATTENDEE", "ORGANIZER", "LOCATION", "CONFERENCE")) for line in lines)

    back = written_and_read_back(sent)
    assert [e.reminders for e in back] == [(Reminder(15, "popup"),)] * 2
    assert [e.visibility for e in back] == [Visibility.PRIVATE] * 2
    assert [e.x_properties.get(TAG) for e in back] == [CALMESH_ID] * 2
    # What calmesh recorded as sent is what it will list next time: no change seen, no pull.
    assert item_fingerprint(back) == item_fingerprint(sent)


def test_shown_details_also_read_back_the_same() -> None:
    sent = for_provider(series(), configure(), CALMESH_ID)
    assert item_fingerprint(written_and_read_back(sent)) == item_fingerprint(sent)


def test_a_hidden_field_edited_in_calmesh_does_not_change_what_the_provider_gets() -> None:
    settings = configure(eventPrivacy={"showDescription": False})
    before = item_fingerprint(for_provider((booking(),), settings, CALMESH_ID))
    after = item_fingerprint(for_provider((booking(description="new notes"),), settings, CALMESH_ID))
    assert before == after
    moved = item_fingerprint(for_provider((booking(start=at(10, 8)),), settings, CALMESH_ID))
    assert moved != before


# --- coming back --------------------------------------------------------------------------------


def test_merge_keeps_what_was_hidden_and_takes_the_providers_new_time() -> None:
    settings = configure(showEventDetails=False)
    local = series()
    sent = for_provider(local, settings, CALMESH_ID)
    # The user drags the meeting an hour later in their Google calendar.
    remote = tuple(replace(e, start=EventTime(e.start.value + timedelta(hours=1), e.start.tzid), end=EventTime(e.end.value + timedelta(hours=1), e.end.tzid)) for e in sent)

    merged = merge_from_provider(local, remote, settings)

    for before, after, moved in zip(local, merged, remote, strict=True):
        assert (after.start, after.end) == (moved.start, moved.end)
        assert after.summary == before.summary != BUSY_TITLE
        assert after.description == before.description
        assert after.location == before.location and after.conference == before.conference
        assert after.attendees == before.attendees and after.organizer == before.organizer
        assert after.recurrence_id == before.recurrence_id


def test_merge_takes_what_the_provider_was_shown() -> None:
    settings = configure(eventPrivacy={"showDescription": False})
    local = (booking(),)
    (sent,) = for_provider(local, settings, CALMESH_ID)
    remote = (replace(sent, summary="Intro call (renamed in Google)", location="Room 9"),)
    (merged,) = merge_from_provider(local, remote, settings)
    assert merged.summary == "Intro call (renamed in Google)" and merged.location == "Room 9"
    assert merged.description == local[0].description


def test_merge_takes_a_new_override_from_the_provider_as_it_is() -> None:
    settings = configure(showEventDetails=False)
    local = series()[:1]
    sent = for_provider(series(), settings, CALMESH_ID)
    merged = merge_from_provider(local, sent, settings)
    assert merged[0].summary == local[0].summary
    assert merged[1] == sent[1]  # nothing in the mirror to take hidden fields from


def test_a_pushed_event_pulled_back_unchanged_keeps_its_hidden_fields() -> None:
    settings = configure(showEventDetails=False)
    local = series()
    back = written_and_read_back(for_provider(local, settings, CALMESH_ID))
    merged = merge_from_provider(local, tuple(back), settings)
    for before, after in zip(local, merged, strict=True):
        assert (after.summary, after.description, after.location) == (before.summary, before.description, before.location)
        assert (after.attendees, after.organizer, after.conference) == (before.attendees, before.organizer, before.conference)
        assert (after.start, after.end) == (before.start, before.end)
