"""A connection's sync settings (PRODUCT.md S1, seed 001's ``integrations.configure``).

One pydantic model serves the API (validation, camelCase JSON, OpenAPI) and the engine (typed
reads), so the two can never disagree on a default. Stored as the API shows it, in
``connections.settings``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "ConflictPolicy",
    "EventDefaults",
    "EventPrivacy",
    "MeetingSettings",
    "ReminderSetting",
    "SyncDirection",
    "SyncSettings",
    "calendar_selected",
]


class SyncDirection(StrEnum):
    #: The provider's events come into the mirror; nothing is written out.
    INBOUND = "INBOUND"
    #: Only events created through calmesh are written out; the provider's own events are neither
    #: mirrored nor ever touched.
    OUTBOUND = "OUTBOUND"
    BOTH = "BOTH"


class ConflictPolicy(StrEnum):
    """Who wins when an item changed on both sides since the last sync."""

    REMOTE_WINS = "REMOTE_WINS"
    LOCAL_WINS = "LOCAL_WINS"
    #: The side modified last (LAST-MODIFIED at the provider, the mirror's update time here).
    NEWEST_WINS = "NEWEST_WINS"


class _Settings(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class EventPrivacy(_Settings):
    """What of an event created through calmesh the external calendar shows."""

    show_title: bool = True
    show_description: bool = True
    show_attendees: bool = True
    show_location: bool = True


class ReminderSetting(_Settings):
    method: str = Field(default="popup", pattern="^(popup|email)$")
    minutes: int = Field(ge=0, le=40320)


class EventDefaults(_Settings):
    """Applied to events calmesh writes out, unless the event says otherwise."""

    visibility: str | None = Field(default=None, pattern="^(default|public|private|confidential)$")
    reminders: list[ReminderSetting] | None = None


class MeetingSettings(_Settings):
    """A conferencing connection's ``defaultMeetingSettings`` (PRODUCT.md M3): applied to every
    meeting calmesh schedules through it (Zoom's ``settings.join_before_host`` …)."""

    join_before_host: bool = False
    mute_upon_entry: bool = False
    waiting_room: bool = False
    auto_recording: Literal["none", "local", "cloud"] = "none"


class SyncSettings(_Settings):
    sync_direction: SyncDirection = SyncDirection.BOTH
    #: Minutes between scheduled syncs.
    sync_frequency: int = Field(default=15, ge=1, le=1440)
    #: Calendars to sync, by calmesh id, provider id or "primary"; None means every calendar.
    calendars_to_sync: list[str] | None = None
    block_busy_time: bool = True
    busy_calendars: list[str] | None = None
    #: Where new events go: a calendar id, a provider id or "primary".
    create_events_in: str | None = "primary"
    #: False hides everything but the time (the title becomes "Busy").
    show_event_details: bool = True
    event_defaults: EventDefaults = Field(default_factory=EventDefaults)
    event_privacy: EventPrivacy = Field(default_factory=EventPrivacy)
    conflict_policy: ConflictPolicy = ConflictPolicy.REMOTE_WINS
    #: Conferencing connections (Zoom) only: how their meetings are made. The same model holds
    #: it so that every reader of ``connections.settings`` keeps one shape; the integrations
    #: service refuses it on calendar connections.
    default_meeting_settings: MeetingSettings | None = None

    def as_stored(self) -> dict[str, object]:
        # Calendar connections store no meeting settings at all (not a null).
        unset = {"default_meeting_settings"} if self.default_meeting_settings is None else None
        return self.model_dump(mode="json", by_alias=True, exclude=unset)

    @property
    def pulls(self) -> bool:
        return self.sync_direction is not SyncDirection.OUTBOUND

    @property
    def pushes(self) -> bool:
        return self.sync_direction is not SyncDirection.INBOUND


def calendar_selected(
    selectors: list[str] | None, *, calendar_id: str, provider_id: str, is_primary: bool
) -> bool:
    """Whether a calendar is named by a settings list (None names every calendar)."""
    if selectors is None:
        return True
    return any(s in (calendar_id, provider_id) or (s == "primary" and is_primary) for s in selectors)
