"""The Meeting resource: reading create/update bodies and writing the JSON Zoom answers (protocols.md §3.2).

Bodies follow ``MeetingDetails`` (create) and ``UpdateMeetingRequest`` (update) of
zoom_openapi.yaml. What is checked, each failure a 400 ``{"code":300,"message":"Validation
Failed.","errors":[{"field","message"}]}``:

* ``topic`` (≤ 200 characters), ``agenda`` (≤ 2000), ``type`` (1, 2, 3, 8), ``duration`` (an
  integer ≥ 0), ``timezone`` (an IANA zone), ``start_time`` (``yyyy-MM-ddTHH:mm:ssZ`` in GMT, or
  local ``yyyy-MM-ddTHH:mm:ss`` read in ``timezone`` — else the user's zone);
* ``password``: the character rule, then the user's ``meeting_password_requirement``
  (:mod:`.passcodes`) — one ``errors`` item per broken rule;
* ``settings``: known fields must have their type or one of their values (``auto_recording``
  local|cloud|none, ``approval_type`` 0|1|2, ``audio`` both|telephony|voip|thirdParty,
  ``jbh_time`` 0|5|10|15, ``encryption_type``, ``registration_type``); unknown fields are
  ignored, as Zoom does, and so is the read-only ``global_dial_in_numbers``.

The stored resource is the ``GET /meetings/{id}`` JSON; create answers the same. Settings are
Zoom's defaults overlaid with what was sent; ``waiting_room: true`` and end-to-end encryption
turn ``join_before_host`` off (the OpenAPI file says the waiting room overrides it).
"""

from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from calmesh.sandbox._common import zone
from calmesh.sandbox.zoom import passcodes
from calmesh.sandbox.zoom.errors import ZoomApiError, validation_failed

__all__ = [
    "SETTINGS_DEFAULTS",
    "Plan",
    "check_body",
    "dial_in_numbers",
    "encrypted_password",
    "format_time",
    "list_item",
    "merged_settings",
    "new_meeting_id",
    "new_uuid",
    "parse_start",
]

UTC = timezone.utc
MEETING_TYPES = (1, 2, 3, 8)
#: The text fields a body may send, and how many characters each may have (checked in this order).
_TEXT_LIMITS = {"topic": 200, "agenda": 2000}

_BOOLEAN_SETTINGS = frozenset(
    {
        "allow_multiple_devices", "alternative_hosts_email_notification", "auto_start_meeting_summary", "close_registration",
        "cn_meeting", "device_testing", "email_in_attendee_report", "email_notification", "enable_dedicated_group_chat",
        "enforce_login", "focus_mode", "host_save_video_order", "host_video", "in_meeting", "internal_meeting",
        "join_before_host", "meeting_authentication", "mute_upon_entry", "participant_focused_meeting", "participant_video",
        "private_meeting", "push_change_to_calendar", "registrants_confirmation_email", "registrants_email_notification",
        "request_permission_to_unmute_participants", "show_share_button", "use_pmi", "waiting_room", "watermark",
    }
)
_ENUM_SETTINGS: dict[str, tuple[Any, ...]] = {
    "approval_type": (0, 1, 2),
    "audio": ("both", "telephony", "voip", "thirdParty"),
    "auto_recording": ("local", "cloud", "none"),
    "encryption_type": ("enhanced_encryption", "e2ee"),
    "jbh_time": (0, 5, 10, 15),
    "registration_type": (1, 2, 3),
}
_STRING_SETTINGS = frozenset(
    {"alternative_hosts", "authentication_domains", "authentication_option", "contact_email", "contact_name", "enforce_login_domains"}
)
_STRING_LIST_SETTINGS = frozenset({"additional_data_center_regions", "global_dial_in_countries"})
_OBJECT_SETTINGS = frozenset(
    {
        "approved_or_denied_countries_or_regions", "breakout_room", "continuous_meeting_chat", "language_interpretation",
        "sign_language_interpretation",
    }
)
_LIST_SETTINGS = frozenset({"authentication_exception", "custom_keys", "meeting_invitees", "resources"})

#: The settings of a meeting created with none (Zoom's defaults; ``MeetingSettings`` in the OpenAPI file).
SETTINGS_DEFAULTS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "cn_meeting": False,
    "in_meeting": False,
    "join_before_host": False,
    "jbh_time": 0,
    "mute_upon_entry": False,
    "watermark": False,
    "use_pmi": False,
    "approval_type": 2,
    "audio": "both",
    "auto_recording": "none",
    "enforce_login": False,
    "enforce_login_domains": "",
    "alternative_hosts": "",
    "alternative_hosts_email_notification": True,
    "close_registration": False,
    "show_share_button": False,
    "allow_multiple_devices": False,
    "registrants_confirmation_email": True,
    "waiting_room": False,
    "request_permission_to_unmute_participants": False,
    "global_dial_in_countries": ["US"],
    "registrants_email_notification": True,
    "meeting_authentication": False,
    "encryption_type": "enhanced_encryption",
    "approved_or_denied_countries_or_regions": {"enable": False},
    "breakout_room": {"enable": False},
    "internal_meeting": False,
    "participant_focused_meeting": False,
    "push_change_to_calendar": False,
    "email_notification": True,
    "host_save_video_order": False,
    "device_testing": False,
    "focus_mode": False,
    "private_meeting": False,
    "auto_start_meeting_summary": False,
}

_DIAL_IN: dict[str, list[dict[str, str]]] = {
    "US": [
        {"country_name": "US", "city": "New York", "number": "+1 6465588656", "type": "toll", "country": "US"},
        {"country_name": "US", "city": "San Jose", "number": "+1 6699006833", "type": "toll", "country": "US"},
    ],
    "CA": [{"country_name": "Canada", "city": "Toronto", "number": "+1 6473744685", "type": "toll", "country": "CA"}],
    "GB": [{"country_name": "United Kingdom", "number": "+44 2034815237", "type": "toll", "country": "GB"}],
    "DE": [{"country_name": "Germany", "number": "+49 6938079883", "type": "toll", "country": "DE"}],
    "FR": [{"country_name": "France", "number": "+33 170372246", "type": "toll", "country": "FR"}],
    "AU": [{"country_name": "Australia", "number": "+61 280156011", "type": "toll", "country": "AU"}],
}


def format_time(moment: datetime) -> str:
    """Zoom's timestamps: GMT, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_start(value: str, zone_name: str) -> datetime | None:
    """``start_time`` as an instant: with ``Z`` or an offset as given, else local time in ``zone_name``."""
    text = value.strip()
    if len(text) < 19 or text[10] != "T":
        return None
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        local = zone(zone_name) or UTC
        parsed = parsed.replace(tzinfo=local)
    return parsed.astimezone(UTC).replace(microsecond=0)


def new_meeting_id() -> int:
    """An 11-digit meeting number, like Zoom's (they can exceed 10 digits: store them as int64)."""
    return secrets.randbelow(2 * 10**10) + 8 * 10**10


def new_uuid() -> str:
    """A meeting instance UUID: base64 of 16 random bytes (may contain ``/`` and ``+``, as Zoom's do)."""
    return base64.b64encode(secrets.token_bytes(16)).decode()


def encrypted_password() -> str:
    """The ``pwd`` of a join link: an opaque token standing for the passcode."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32)) + ".1"


def dial_in_numbers(countries: list[str]) -> list[dict[str, str]]:
    numbers: list[dict[str, str]] = []
    for country in countries:
        numbers.extend(dict(entry) for entry in _DIAL_IN.get(country.upper(), []))
    return numbers


class Plan:
    """A checked create or update body: the fields that were sent, cleaned."""

    def __init__(self, fields: dict[str, Any], settings: dict[str, Any] | None, start: datetime | None) -> None:
        self.fields = fields
        #: The settings sent (None: none were).
        self.settings = settings
        #: ``start_time`` as an instant, when one was sent.
        self.start = start

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self.fields


def check_body(body: Any, *, user_zone: str, current_zone: str | None = None, requirement: Mapping[str, Any], xml: bool) -> Plan:
    """Validate a create/update body (raises :class:`ZoomApiError`); ``current_zone``: an update's meeting's."""
    if not isinstance(body, dict):
        raise ZoomApiError(400, 300, "Request Body should be a valid JSON object.")
    fields: dict[str, Any] = {}
    for name, longest in _TEXT_LIMITS.items():
        if name in body:
            text = body[name]
            if not isinstance(text, str):
                raise validation_failed(name, "Invalid field.")
            if len(text) > longest:
                raise validation_failed(name, f"{name.capitalize()} can not exceed {longest} characters.")
            fields[name] = text
    if "type" in body:
        kind = body["type"]
        if isinstance(kind, bool) or kind not in MEETING_TYPES:
            raise validation_failed("type", "Invalid field.")
        fields["type"] = kind
    if "duration" in body:
        duration = body["duration"]
        if isinstance(duration, str) and duration.isdigit():
            duration = int(duration)
        if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
            raise validation_failed("duration", "Invalid field.")
        fields["duration"] = duration
    if "timezone" in body and body["timezone"] not in (None, ""):
        name = body["timezone"]
        if not isinstance(name, str) or zone(name) is None:
            raise validation_failed("timezone", "Invalid field.")
        fields["timezone"] = name
    start: datetime | None = None
    if "start_time" in body and body["start_time"] not in (None, ""):
        value = body["start_time"]
        reading_zone = fields.get("timezone") or current_zone or user_zone
        start = parse_start(value, reading_zone) if isinstance(value, str) else None
        if start is None:
            raise validation_failed("start_time", "Invalid field.")
        fields["start_time"] = start
    for flag in ("default_password", "pre_schedule"):
        if flag in body:
            if not isinstance(body[flag], bool):
                raise validation_failed(flag, "Invalid field.")
            fields[flag] = body[flag]
    if "password" in body and body["password"] is not None:
        password = body["password"]
        if not isinstance(password, str):
            raise validation_failed("password", "Invalid field.")
        if not fields.get("default_password"):
            broken = passcodes.problems(password, requirement)
            if broken:
                raise ZoomApiError(
                    400,
                    300,
                    "Validation Failed.",
                    errors=[{"field": "password", "message": message} for message in broken],
                    xml=xml,
                )
        fields["password"] = password
    for passthrough in ("recurrence", "schedule_for", "template_id", "tracking_fields"):
        if passthrough in body:
            fields[passthrough] = body[passthrough]
    settings: dict[str, Any] | None = None
    if "settings" in body and body["settings"] is not None:
        settings = _check_settings(body["settings"])
    return Plan(fields, settings, start)


def _check_settings(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise validation_failed("settings", "Invalid field.")
    settings: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"settings.{key}"
        if key in _BOOLEAN_SETTINGS:
            if not isinstance(value, bool):
                raise validation_failed(where, "Invalid field.")
        elif key in _ENUM_SETTINGS:
            if isinstance(value, bool) or value not in _ENUM_SETTINGS[key]:
                raise validation_failed(where, "Invalid field.")
        elif key in _STRING_SETTINGS:
            if not isinstance(value, str):
                raise validation_failed(where, "Invalid field.")
        elif key in _STRING_LIST_SETTINGS:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise validation_failed(where, "Invalid field.")
        elif key in _OBJECT_SETTINGS:
            if not isinstance(value, dict):
                raise validation_failed(where, "Invalid field.")
        elif key in _LIST_SETTINGS:
            if not isinstance(value, list):
                raise validation_failed(where, "Invalid field.")
        else:
            continue  # unknown and read-only fields (global_dial_in_numbers) are ignored
        settings[key] = value
    return settings


def merged_settings(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied, the derived rules enforced, dial-in numbers filled in."""
    settings = {k: v for k, v in base.items() if k != "global_dial_in_numbers"}
    settings.update(changes)
    if settings.get("waiting_room") or settings.get("encryption_type") == "e2ee":
        settings["join_before_host"] = False
    if settings.get("encryption_type") == "e2ee" and settings.get("auto_recording") == "cloud":
        settings["auto_recording"] = "none"
    if settings.get("approval_type") in (0, 1):
        settings.setdefault("registration_type", 1)
    settings["global_dial_in_numbers"] = dial_in_numbers(list(settings.get("global_dial_in_countries") or []))
    return settings


def list_item(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A meeting as ``GET /users/{userId}/meetings`` lists it (``MeetingObject``)."""
    item: dict[str, Any] = {key: resource[key] for key in ("uuid", "id", "host_id", "topic", "type")}
    for key in ("start_time", "duration", "timezone"):
        if key in resource:
            item[key] = resource[key]
    if resource.get("agenda"):
        item["agenda"] = str(resource["agenda"])[:250]
    item["created_at"] = resource["created_at"]
    item["join_url"] = resource["join_url"]
    if "pmi" in resource:
        item["pmi"] = str(resource["pmi"])
    return item
