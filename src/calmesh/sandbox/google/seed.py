"""Demo data: two people, three calendars and about fifteen realistic events around now.

:func:`seed_demo` adds ``ada@example.com`` (Ada Lovelace, Europe/London) with a secondary "Team"
calendar shared with Grace as writer, and ``grace@example.com`` (Grace Hopper,
America/New_York). Ada's primary calendar holds a weekly standup with one moved and one
cancelled instance, an all-day offsite, a design review with a Google Meet link, a call set in
Tokyo's zone, a transparent focus block, a meeting she declined, a private appointment, a
monthly series and a past retro. Everything goes through the sandbox's own write path, so
etags, the change log and sync tokens are as real as any other change.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from calmesh.sandbox.google.app import GoogleSandbox

__all__ = ["seed_demo"]

ADA = "ada@example.com"
GRACE = "grace@example.com"
LONDON = "Europe/London"
NEW_YORK = "America/New_York"


def _timed(day: date, at: time, minutes: int, zone_name: str) -> dict[str, Any]:
    start = datetime.combine(day, at, ZoneInfo(zone_name))
    end = start + timedelta(minutes=minutes)
    return {
        "start": {"dateTime": start.isoformat(), "timeZone": zone_name},
        "end": {"dateTime": end.isoformat(), "timeZone": zone_name},
    }


def _all_day(day: date, days: int = 1) -> dict[str, Any]:
    return {"start": {"date": day.isoformat()}, "end": {"date": (day + timedelta(days=days)).isoformat()}}


def _instance_id(master_id: str, day: date, at: time, zone_name: str) -> str:
    start = datetime.combine(day, at, ZoneInfo(zone_name)).astimezone(timezone.utc)
    return f"{master_id}_{start.strftime('%Y%m%dT%H%M%SZ')}"


def seed_demo(sb: GoogleSandbox, *, now: datetime | None = None) -> None:
    """Add the demo users, calendars and events to ``sb`` (dates relative to ``now``)."""
    now = now or datetime.now(timezone.utc)
    sb.add_user(ADA, "Ada Lovelace", time_zone=LONDON)
    sb.add_user(GRACE, "Grace Hopper", time_zone=NEW_YORK)
    team = sb.add_calendar(ADA, "Team", time_zone=LONDON)
    sb.share_calendar(team, GRACE, "writer")
    today = now.astimezone(ZoneInfo(LONDON)).date()
    this_monday = today - timedelta(days=today.weekday())
    ada_person = {"email": ADA, "displayName": "Ada Lovelace"}
    grace_person = {"email": GRACE, "displayName": "Grace Hopper"}

    # A weekly standup that began two weeks ago; next week's is moved, the one after cancelled.
    standup_time = time(9, 30)
    standup = sb.insert_event(
        ADA,
        {
            "summary": "Standup",
            "description": "What did you do, what will you do, what is in the way.",
            **_timed(this_monday - timedelta(days=14), standup_time, 15, LONDON),
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO"],
            "attendees": [{**ada_person, "responseStatus": "accepted"}, {**grace_person, "responseStatus": "accepted"}],
        },
    )
    next_monday = this_monday + timedelta(days=7)
    sb.patch_event(
        ADA,
        _instance_id(standup["id"], next_monday, standup_time, LONDON),
        {"summary": "Standup (moved: all-hands at 9:30)", **_timed(next_monday, time(10, 15), 15, LONDON)},
    )
    sb.delete_event(ADA, _instance_id(standup["id"], next_monday + timedelta(days=7), standup_time, LONDON))

    sb.insert_event(
        ADA,
        {
            "summary": "Design review: Analytical Engine",
            "location": "Meeting room 2",
            **_timed(today + timedelta(days=1), time(14, 0), 60, LONDON),
            "attendees": [{**ada_person, "responseStatus": "accepted"}, {**grace_person, "responseStatus": "tentative"}],
            "conferenceData": {
                "createRequest": {"requestId": "seed-design-review", "conferenceSolutionKey": {"type": "hangoutsMeet"}}
            },
        },
        conference_data_version=1,
    )
    sb.insert_event(ADA, {"summary": "Company offsite", "location": "Bletchley Park", **_all_day(today + timedelta(days=3), 2)})
    sb.insert_event(
        ADA,
        {"summary": "Call with the Tokyo office", **_timed(today + timedelta(days=2), time(17, 0), 45, "Asia/Tokyo")},
    )
    sb.insert_event(
        ADA,
        {"summary": "Focus: notes on Menabrea", "transparency": "transparent", **_timed(today, time(13, 0), 120, LONDON)},
    )
    sb.insert_event(
        ADA,
        {
            "summary": "Vendor pitch: difference engines",
            **_timed(today + timedelta(days=2), time(16, 0), 30, LONDON),
            "organizer": {"email": "sales@vendor.example", "displayName": "Vendor Sales"},
            "attendees": [
                {"email": "sales@vendor.example", "displayName": "Vendor Sales", "responseStatus": "accepted"},
                {**ada_person, "responseStatus": "declined", "comment": "Not this quarter."},
            ],
        },
    )
    lunch = _timed(today + timedelta(days=1), time(12, 30), 60, LONDON)
    sb.insert_event(
        ADA,
        {
            "summary": "Lunch with Grace",
            "location": "The Ivy, London",
            **lunch,
            "attendees": [{**ada_person, "responseStatus": "accepted"}, {**grace_person, "responseStatus": "accepted"}],
        },
    )
    sb.insert_event(
        ADA,
        {"summary": "Sprint retro", **_timed(today - timedelta(days=1), time(16, 0), 60, LONDON)},
    )
    sb.insert_event(
        ADA,
        {"summary": "Dentist", "visibility": "private", **_timed(today + timedelta(days=4), time(8, 30), 45, LONDON)},
    )
    sb.insert_event(
        ADA,
        {
            "summary": "Monthly planning",
            **_timed(_first_tuesday(today), time(11, 0), 60, LONDON),
            "recurrence": ["RRULE:FREQ=MONTHLY;BYDAY=1TU"],
            "extendedProperties": {"shared": {"project": "engine"}},
            "reminders": {"useDefault": False, "overrides": [{"method": "email", "minutes": 60}]},
        },
    )

    sb.insert_event(
        team,
        {
            "summary": "Sprint planning",
            **_timed(this_monday + timedelta(days=2), time(10, 0), 60, LONDON),
            "recurrence": ["RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=WE"],
        },
    )
    sb.insert_event(team, {"summary": "Release day", **_all_day(today + timedelta(days=7))})

    sb.insert_event(GRACE, {"summary": "Navy briefing", **_timed(today + timedelta(days=1), time(10, 0), 60, NEW_YORK)})
    sb.insert_event(
        GRACE,
        {
            "summary": "COBOL office hours",
            **_timed(this_monday + timedelta(days=3), time(15, 0), 60, NEW_YORK),
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TH"],
        },
    )
    sb.insert_event(
        GRACE,
        {
            "summary": "Lunch with Ada",
            "location": "The Ivy, London",
            **lunch,
            "organizer": ada_person,
            "attendees": [{**ada_person, "responseStatus": "accepted"}, {**grace_person, "responseStatus": "accepted"}],
        },
    )


def _first_tuesday(today: date) -> date:
    first = today.replace(day=1)
    return first + timedelta(days=(1 - first.weekday()) % 7)
