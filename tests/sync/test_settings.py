"""Sync settings: seed 001's ``integrations.configure`` payloads in, the same camelCase out."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from calmesh.sync.settings import (
    ConflictPolicy,
    EventDefaults,
    EventPrivacy,
    ReminderSetting,
    SyncDirection,
    SyncSettings,
    calendar_selected,
)

# Every configure payload of seed 001 that is about calendar sync, as the docs write them.
SEED_PAYLOADS: dict[str, dict[str, Any]] = {
    "configure-google-sync": {
        "syncDirection": "BOTH",
        "syncFrequency": 5,
        "calendarsToSync": ["primary", "calendar_id_2"],
        "blockBusyTime": True,
        "busyCalendars": ["primary"],
        "createEventsIn": "primary",
        "showEventDetails": False,
    },
    "inbound": {"syncDirection": "INBOUND", "blockBusyTime": True, "busyCalendars": ["primary", "work"]},
    "outbound": {
        "syncDirection": "OUTBOUND",
        "createEventsIn": "primary",
        "eventDefaults": {"visibility": "private", "reminders": [{"method": "popup", "minutes": 15}]},
    },
    "two-way": {"syncDirection": "BOTH", "blockBusyTime": True, "createEventsIn": "primary"},
    "select-calendars": {"calendarsToSync": ["primary", "calendar_id_work"]},
    "event-privacy": {
        "eventPrivacy": {"showTitle": True, "showDescription": False, "showAttendees": False, "showLocation": True}
    },
}


def assert_contains(stored: Any, given: Any, path: str = "") -> None:
    """Every key ``given`` names is in ``stored`` with the same value (nested objects alike)."""
    if isinstance(given, dict):
        assert isinstance(stored, dict), path
        for key, value in given.items():
            assert key in stored, f"{path}.{key} is not stored under its camelCase name"
            assert_contains(stored[key], value, f"{path}.{key}")
    elif isinstance(given, list):
        assert isinstance(stored, list) and len(stored) == len(given), path
        for index, (inner, value) in enumerate(zip(stored, given, strict=True)):
            assert_contains(inner, value, f"{path}[{index}]")
    else:
        assert stored == given, path


@pytest.mark.parametrize("payload", list(SEED_PAYLOADS.values()), ids=list(SEED_PAYLOADS))
def test_seed_payloads_validate_and_come_back_as_given(payload: dict[str, Any]) -> None:
    stored = SyncSettings.model_validate(payload).as_stored()
    assert_contains(stored, payload)
    # What is stored validates to the same settings (the configure merge relies on it).
    assert SyncSettings.model_validate(stored).as_stored() == stored


def test_the_google_sync_payload_reads_as_typed_settings() -> None:
    settings = SyncSettings.model_validate(SEED_PAYLOADS["configure-google-sync"])
    assert settings.sync_direction is SyncDirection.BOTH and settings.pulls and settings.pushes
    assert settings.sync_frequency == 5
    assert settings.calendars_to_sync == ["primary", "calendar_id_2"]
    assert settings.busy_calendars == ["primary"] and settings.block_busy_time is True
    assert settings.create_events_in == "primary" and settings.show_event_details is False


def test_the_outbound_payload_reads_as_typed_settings() -> None:
    settings = SyncSettings.model_validate(SEED_PAYLOADS["outbound"])
    assert settings.sync_direction is SyncDirection.OUTBOUND and settings.pushes and not settings.pulls
    assert settings.event_defaults == EventDefaults(visibility="private", reminders=[ReminderSetting(minutes=15)])


def test_inbound_pulls_and_never_pushes() -> None:
    settings = SyncSettings.model_validate(SEED_PAYLOADS["inbound"])
    assert settings.pulls and not settings.pushes


def test_defaults() -> None:
    settings = SyncSettings()
    assert settings.sync_direction is SyncDirection.BOTH
    assert settings.sync_frequency == 15
    assert settings.calendars_to_sync is None and settings.busy_calendars is None
    assert settings.block_busy_time is True
    assert settings.create_events_in == "primary"
    assert settings.show_event_details is True
    assert settings.event_defaults == EventDefaults(visibility=None, reminders=None)
    assert settings.event_privacy == EventPrivacy(show_title=True, show_description=True, show_attendees=True, show_location=True)
    assert settings.conflict_policy is ConflictPolicy.REMOTE_WINS
    assert SyncSettings.model_validate({}) == settings


def test_stored_settings_are_camel_case_all_the_way_down() -> None:
    assert SyncSettings().as_stored() == {
        "syncDirection": "BOTH",
        "syncFrequency": 15,
        "calendarsToSync": None,
        "blockBusyTime": True,
        "busyCalendars": None,
        "createEventsIn": "primary",
        "showEventDetails": True,
        "eventDefaults": {"visibility": None, "reminders": None},
        "eventPrivacy": {"showTitle": True, "showDescription": True, "showAttendees": True, "showLocation": True},
        "conflictPolicy": "REMOTE_WINS",
    }


def test_snake_case_names_are_accepted_too() -> None:
    settings = SyncSettings.model_validate({"sync_direction": "INBOUND", "event_privacy": {"show_title": False}})
    assert settings.sync_direction is SyncDirection.INBOUND and settings.event_privacy.show_title is False


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"syncDirections": "BOTH"}, id="misspelt-key"),
        pytest.param({"eventPrivacy": {"showTitles": False}}, id="misspelt-nested-key"),
        pytest.param({"eventDefaults": {"reminders": [{"minutes": 15, "sound": "bell"}]}}, id="unknown-reminder-key"),
        pytest.param({"eventDefaults": {"color": "red"}}, id="unknown-default"),
    ],
)
def test_unknown_keys_are_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        SyncSettings.model_validate(payload)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"syncDirection": "SIDEWAYS"}, id="direction"),
        pytest.param({"syncDirection": "both"}, id="direction-lower-case"),
        pytest.param({"syncFrequency": 0}, id="frequency-zero"),
        pytest.param({"syncFrequency": 1441}, id="frequency-over-a-day"),
        pytest.param({"conflictPolicy": "MINE_WINS"}, id="policy"),
        pytest.param({"eventDefaults": {"visibility": "secret"}}, id="visibility"),
        pytest.param({"eventDefaults": {"reminders": [{"method": "sms", "minutes": 5}]}}, id="reminder-method"),
        pytest.param({"eventDefaults": {"reminders": [{"method": "popup"}]}}, id="reminder-without-minutes"),
        pytest.param({"eventDefaults": {"reminders": [{"minutes": -1}]}}, id="reminder-negative"),
        pytest.param({"eventDefaults": {"reminders": [{"minutes": 40321}]}}, id="reminder-over-four-weeks"),
        pytest.param({"calendarsToSync": "primary"}, id="calendars-not-a-list"),
    ],
)
def test_invalid_values_are_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SyncSettings.model_validate(payload)


@pytest.mark.parametrize("frequency", [1, 1440])
def test_frequency_bounds_are_inclusive(frequency: int) -> None:
    assert SyncSettings.model_validate({"syncFrequency": frequency}).sync_frequency == frequency


def test_a_reminder_defaults_to_a_popup() -> None:
    assert ReminderSetting.model_validate({"minutes": 10}) == ReminderSetting(method="popup", minutes=10)


def test_a_partial_update_merges_into_what_is_stored() -> None:
    """How ``integrations.configure`` applies a PATCH: stored settings, then the changes."""
    stored = SyncSettings.model_validate(SEED_PAYLOADS["configure-google-sync"]).as_stored()
    merged = SyncSettings.model_validate({**stored, "syncFrequency": 30})
    assert merged.sync_frequency == 30 and merged.show_event_details is False
    assert merged.calendars_to_sync == ["primary", "calendar_id_2"]


def test_the_json_schema_names_fields_in_camel_case() -> None:
    properties = SyncSettings.model_json_schema(by_alias=True)["properties"]
    assert {"syncDirection", "calendarsToSync", "eventPrivacy", "conflictPolicy"} <= set(properties)


# --- calendar_selected ---------------------------------------------------------------------------

CALMESH_ID, PROVIDER_ID = "cal_01HZX", "work@group.calendar.google.com"


@pytest.mark.parametrize(
    ("selectors", "is_primary", "selected"),
    [
        pytest.param(None, False, True, id="none-selects-everything"),
        pytest.param([], True, False, id="empty-selects-nothing"),
        pytest.param(["primary"], True, True, id="primary-names-the-primary"),
        pytest.param(["primary"], False, False, id="primary-names-only-the-primary"),
        pytest.param([CALMESH_ID], False, True, id="calmesh-id"),
        pytest.param([PROVIDER_ID], False, True, id="provider-id"),
        pytest.param(["primary", "calendar_id_work"], False, False, id="seed-list-other-calendar"),
        pytest.param(["primary", PROVIDER_ID], False, True, id="seed-list-named-calendar"),
        pytest.param(["cal_other", "other@example.com"], True, False, id="other-ids"),
        pytest.param([CALMESH_ID.upper()], False, False, id="ids-are-exact"),
    ],
)
def test_calendar_selected(selectors: list[str] | None, is_primary: bool, selected: bool) -> None:
    assert calendar_selected(selectors, calendar_id=CALMESH_ID, provider_id=PROVIDER_ID, is_primary=is_primary) is selected


def test_a_calendar_whose_provider_id_is_literally_primary_is_selected_by_it() -> None:
    """Google's primary calendar may be addressed as "primary"; naming it that way still works."""
    assert calendar_selected(["primary"], calendar_id=CALMESH_ID, provider_id="primary", is_primary=False)
