"""What an event created through calmesh looks like on the external calendar.

The mirror keeps the whole event; the provider gets it with the connection's ``eventPrivacy``
and ``showEventDetails`` applied (a hidden title becomes "Busy"; a hidden description,
attendee list or location is left out), ``eventDefaults`` filled in (visibility, reminders as
VALARMs), and the ``X-CALMESH-ID`` tag that lets the engine recognise it when it comes back.

Events that came from the provider are written back as they are: hiding the title of a user's
own meeting in their own calendar would destroy it.
"""

from __future__ import annotations

from dataclasses import replace

from calmesh.domain.events import Event, Reminder, Visibility
from calmesh.sync.settings import SyncSettings

__all__ = ["BUSY_TITLE", "TAG", "completed_conferences", "for_provider", "merge_from_provider", "redacted"]

BUSY_TITLE = "Busy"
#: The X- property on every event calmesh writes: its value is the mirror id of the series.
TAG = "X-CALMESH-ID"


def redacted(event: Event, settings: SyncSettings, *, details: bool, hidden_title: str | None) -> Event:
    """``event`` with what ``eventPrivacy`` hides taken out (everything when not ``details``):
    a hidden title becomes ``hidden_title``; description, location and conference, attendees
    and organizer are dropped."""
    privacy = settings.event_privacy
    hidden_attendees = not (details and privacy.show_attendees)
    return replace(
        event,
        summary=event.summary if details and privacy.show_title else hidden_title,
        description=event.description if details and privacy.show_description else None,
        location=event.location if details and privacy.show_location else None,
        conference=event.conference if details and privacy.show_location else None,
        attendees=() if hidden_attendees else event.attendees,
        organizer=None if hidden_attendees else event.organizer,
    )


def for_provider(events: tuple[Event, ...], settings: SyncSettings, calmesh_id: str) -> tuple[Event, ...]:
    """``events`` (a series and its overrides, created through calmesh) as the provider gets them."""
    defaults = settings.event_defaults
    visibility = Visibility(defaults.visibility) if defaults.visibility else None
    reminders = tuple(Reminder(r.minutes, r.method) for r in defaults.reminders or ())

    def shaped(event: Event) -> Event:
        return replace(
            redacted(event, settings, details=settings.show_event_details, hidden_title=BUSY_TITLE),
            visibility=visibility if visibility and event.visibility is Visibility.DEFAULT else event.visibility,
            reminders=event.reminders or reminders,
            x_properties={**event.x_properties, TAG: calmesh_id},
        )

    return tuple(shaped(event) for event in events)


def merge_from_provider(
    local: tuple[Event, ...], remote: tuple[Event, ...], settings: SyncSettings
) -> tuple[Event, ...]:
    """A calmesh event edited at the provider, back in the mirror without losing what was hidden.

    The provider's copy wins on everything it was shown (times, recurrence, status); what the
    privacy settings kept from it (title, description, attendees, location) stays as the mirror
    had it, matched by RECURRENCE-ID.
    """
    privacy = settings.event_privacy
    details = settings.show_event_details
    by_instance = {e.recurrence_id: e for e in local}

    def merged(event: Event) -> Event:
        before = by_instance.get(event.recurrence_id)
        if before is None:
            return event
        hidden_attendees = not (details and privacy.show_attendees)
        return replace(
            event,
            summary=event.summary if details and privacy.show_title else before.summary,
            description=event.description if details and privacy.show_description else before.description,
            location=event.location if details and privacy.show_location else before.location,
            conference=event.conference if details and privacy.show_location else before.conference,
            attendees=before.attendees if hidden_attendees else event.attendees,
            organizer=before.organizer if hidden_attendees else event.organizer,
        )

    return tuple(merged(event) for event in remote)


def completed_conferences(local: tuple[Event, ...], stored: tuple[Event, ...]) -> tuple[Event, ...] | None:
    """The mirror's events with the meeting links the provider made for them, or None if it made none.

    An event that asked for a conference it has no link for yet (``service`` set, ``join_url``
    None: "give this event a Meet") gets the provider's link, matched by RECURRENCE-ID. Nothing
    else is taken from the provider's copy: a write must not pull the provider's other
    additions (its organizer, default reminders) into the mirror.
    """
    made = {e.recurrence_id: e.conference for e in stored if e.conference is not None and e.conference.join_url}
    completed = tuple(
        replace(event, conference=made[event.recurrence_id])
        if event.conference is not None and event.conference.join_url is None and event.recurrence_id in made
        else event
        for event in local
    )
    return completed if completed != local else None
