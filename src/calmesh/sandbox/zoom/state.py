"""The Zoom emulator's data: its clock, users (PMI, settings), meetings and daily counters, behind one lock.

* :class:`Clock` — the sandbox's "now". It runs with real time, from wherever it was last set
  (:meth:`Clock.set`); codes, tokens, meeting timestamps and the daily limits all read it.
* :class:`ZoomUser` — a user of the sandbox's one account: PMI and its passcode, timezone, the
  settings ``use_pmi_for_scheduled_meetings`` and ``meeting_password_requirement``. The first
  user added is the account owner.
* :class:`ZoomState` — meetings: create, update, delete (the API and the direct methods both
  call these), lookups, and the per-user daily counters of protocols.md §3.4.

Meetings and the PMI: a meeting uses the host's PMI when ``settings.use_pmi`` is true — or, when
the body leaves ``use_pmi`` out, when the host's ``use_pmi_for_scheduled_meetings`` is on (types
2 and 3; never type 8). Such a meeting's id is the PMI and its passcode the PMI's; several
scheduled meetings may share it (a lookup by id finds the newest), and none of them can be
deleted (400, code 3018). A passcode that was not sent is generated to meet the host's
requirement ("Require a passcode when scheduling new meetings" is on, as Zoom's default).

Stored resources are never mutated: every change stores a new dict.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal

from calmesh.sandbox._common import zone
from calmesh.sandbox.zoom import passcodes
from calmesh.sandbox.zoom.errors import ZoomApiError
from calmesh.sandbox.zoom.meetings import (
    SETTINGS_DEFAULTS,
    Plan,
    check_body,
    encrypted_password,
    format_time,
    merged_settings,
    new_meeting_id,
    new_uuid,
)

__all__ = ["DAILY_LIMIT", "Clock", "Limit", "StoredMeeting", "ZoomState", "ZoomUser", "new_zoom_id"]

UTC = timezone.utc
#: Creates (and, separately, updates) per user per UTC day (protocols.md §3.4).
DAILY_LIMIT = 100
Limit = Literal["create", "update"]
#: The rate-limit label of each counted request (protocols.md §3.4).
_CATEGORY = {"create": "Medium", "update": "Light"}

# The order Zoom writes a meeting's fields in.
_KEY_ORDER = (
    "uuid", "id", "host_id", "host_email", "assistant_id", "topic", "type", "status", "start_time", "duration", "timezone",
    "agenda", "created_at", "start_url", "join_url", "password", "h323_password", "pstn_password", "encrypted_password",
    "pmi", "recurrence", "occurrences", "tracking_fields", "settings", "pre_schedule",
)
#: Fields whose changes ``meeting.updated`` reports.
WATCHED = ("topic", "type", "start_time", "duration", "timezone", "agenda", "password", "recurrence", "tracking_fields", "settings")


def new_zoom_id() -> str:
    """A user or account id: 22 characters of URL-safe base64, like Zoom's."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


class Clock:
    """The sandbox's "now": real time, shifted to wherever :meth:`set` put it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def timestamp(self) -> float:
        return self.now().timestamp()

    def now_ms(self) -> int:
        return int(self.timestamp() * 1000)

    def set(self, when: datetime | None) -> None:
        """From now on the clock reads ``when`` and runs on from there (None: real time again).

        A naive ``when`` is read as UTC.
        """
        with self._lock:
            if when is None:
                self._offset = timedelta(0)
                return
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            self._offset = when - datetime.now(UTC)


@dataclass
class ZoomUser:
    """A sandbox user (one Zoom account holds them all)."""

    id: str
    email: str
    first_name: str
    last_name: str
    pmi: int
    pmi_password: str
    #: The ``pwd`` of the PMI's join link.
    pmi_encrypted: str
    use_pmi_for_scheduled_meetings: bool
    #: The full ``meeting_password_requirement`` object (every field present).
    password_requirement: dict[str, Any]
    timezone: str
    created_at: datetime
    #: ``Owner`` for the first user added, else ``Member``.
    role: str
    #: ``schedule_meeting.default_password_for_scheduled_meetings``.
    default_password: str

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def personal_meeting_url(self) -> str:
        return f"https://zoom.us/j/{self.pmi}?pwd={self.pmi_encrypted}"


@dataclass
class StoredMeeting:
    uuid: str
    id: int
    host_id: str
    #: The meeting as ``GET /meetings/{id}`` shows it (never mutated).
    resource: dict[str, Any]
    seq: int
    uses_pmi: bool = False


@dataclass
class _Count:
    day: date
    used: int = 0


@dataclass
class ZoomState:
    """Users, meetings and counters of one sandbox; every public method is thread-safe."""

    lock: threading.RLock
    clock: Clock
    account_id: str
    daily_limit: int = DAILY_LIMIT
    #: True: passcode validation failures are answered as XML (Zoom does so at times; calcom PR #26148).
    passcode_errors_as_xml: bool = False
    account_number: int = field(default_factory=lambda: secrets.randbelow(9 * 10**7) + 10**7)

    def __post_init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.users: dict[str, ZoomUser] = {}
            self._emails: dict[str, str] = {}
            self.meetings: dict[str, StoredMeeting] = {}
            self._by_id: dict[int, list[str]] = {}
            self._counts: dict[tuple[str, Limit], _Count] = {}
            self._seq = 0

    # --- users ---------------------------------------------------------------------------

    def add_user(
        self,
        email: str,
        *,
        first_name: str | None,
        last_name: str | None,
        pmi: int | None,
        use_pmi_for_scheduled_meetings: bool,
        password_requirement: Mapping[str, Any] | None,
        timezone: str,
    ) -> str:
        """Add a user; returns their id. (The defaults are the facade's: ``ZoomSandbox.add_user``.)"""
        with self.lock:
            if not email or "@" not in email:
                raise ValueError(f"not an email address: {email!r}")
            if email.lower() in self._emails:
                raise ValueError(f"the sandbox already has a user {email}")
            if zone(timezone) is None:
                raise ValueError(f"unknown time zone {timezone!r}")
            requirement = passcodes.normalize_requirement(password_requirement)
            taken = {user.pmi for user in self.users.values()}
            if pmi is None:
                pmi = secrets.randbelow(8 * 10**9) + 2 * 10**9
                while pmi in taken:
                    pmi = secrets.randbelow(8 * 10**9) + 2 * 10**9
            elif isinstance(pmi, bool) or not isinstance(pmi, int) or not 2 * 10**9 <= pmi < 10**10:
                raise ValueError("a PMI has 10 digits and does not start with 0 or 1")
            elif pmi in taken:
                raise ValueError(f"the PMI {pmi} is taken")
            user = ZoomUser(
                id=new_zoom_id(),
                email=email,
                first_name=first_name if first_name is not None else email.split("@")[0].capitalize(),
                last_name=last_name or "",
                pmi=pmi,
                pmi_password=passcodes.generate(requirement),
                pmi_encrypted=encrypted_password(),
                use_pmi_for_scheduled_meetings=use_pmi_for_scheduled_meetings,
                password_requirement=requirement,
                timezone=timezone,
                created_at=self.clock.now().replace(microsecond=0),
                role="Owner" if not self.users else "Member",
                default_password=passcodes.generate(requirement),
            )
            self.users[user.id] = user
            self._emails[email.lower()] = user.id
            return user.id

    def user(self, ref: str) -> ZoomUser | None:
        """The user with this id or email (case-insensitive), or None."""
        with self.lock:
            found = self.users.get(ref)
            if found is None and ref.lower() in self._emails:
                found = self.users[self._emails[ref.lower()]]
            return found

    def user_by_email(self, email: str) -> ZoomUser:
        found = self.user(email)
        if found is None:
            raise KeyError(f"the sandbox has no user {email}")
        return found

    def owner(self) -> ZoomUser | None:
        with self.lock:
            return next(iter(self.users.values()), None)

    # --- meetings ------------------------------------------------------------------------

    def find(self, meeting_id: int) -> StoredMeeting | None:
        """The meeting with this number (the newest one, for a PMI several meetings share)."""
        with self.lock:
            uuids = self._by_id.get(meeting_id)
            return self.meetings[uuids[-1]] if uuids else None

    def meetings_of(self, user_id: str) -> list[StoredMeeting]:
        with self.lock:
            return sorted((m for m in self.meetings.values() if m.host_id == user_id), key=lambda m: m.seq)

    def create(self, user: ZoomUser, body: Any) -> StoredMeeting:
        """``POST /users/{userId}/meetings``: a checked body becomes a stored meeting."""
        with self.lock:
            plan = self._plan(user, body, None)
            kind = int(plan.get("type", 2))
            sent = plan.settings or {}
            if kind == 8:
                uses_pmi = False
            elif "use_pmi" in sent:
                uses_pmi = bool(sent["use_pmi"])
            else:
                uses_pmi = user.use_pmi_for_scheduled_meetings and kind in (2, 3)
            now = self.clock.now().replace(microsecond=0)
            if uses_pmi:
                meeting_id, password, encrypted = user.pmi, user.pmi_password, user.pmi_encrypted
            else:
                meeting_id = new_meeting_id()
                while meeting_id in self._by_id:
                    meeting_id = new_meeting_id()
                password = self._passcode(user, plan)
                encrypted = encrypted_password()
            resource: dict[str, Any] = {
                "uuid": new_uuid(),
                "id": meeting_id,
                "host_id": user.id,
                "host_email": user.email,
                "topic": plan.get("topic", "Zoom Meeting"),
                "type": kind,
                "status": "waiting",
                "timezone": plan.get("timezone") or user.timezone,
                "created_at": format_time(now),
                "start_url": _start_url(meeting_id),
                "settings": merged_settings(SETTINGS_DEFAULTS, {**sent, "use_pmi": uses_pmi}),
                "pre_schedule": plan.get("pre_schedule", False),
            }
            if kind != 3:
                resource["start_time"] = format_time(plan.start or now)
                resource["duration"] = plan.get("duration", 60)
            if plan.get("agenda"):
                resource["agenda"] = plan.get("agenda")
            if uses_pmi:
                resource["pmi"] = user.pmi
            for key in ("recurrence", "tracking_fields"):
                if key in plan:
                    resource[key] = plan.get(key)
            resource.update(_passcode_fields(meeting_id, password, encrypted))
            self._seq += 1
            stored = StoredMeeting(resource["uuid"], meeting_id, user.id, _ordered(resource), self._seq, uses_pmi)
            self.meetings[stored.uuid] = stored
            self._by_id.setdefault(meeting_id, []).append(stored.uuid)
            return stored

    def update(self, stored: StoredMeeting, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """``PATCH /meetings/{id}``: the meeting before and after (``use_pmi`` cannot change)."""
        with self.lock:
            user = self.users[stored.host_id]
            current = stored.resource
            plan = self._plan(user, body, str(current.get("timezone") or user.timezone))
            new = dict(current)
            for key in ("topic", "agenda", "type", "duration", "timezone", "recurrence", "tracking_fields", "pre_schedule"):
                if key in plan:
                    new[key] = plan.get(key)
            if plan.start is not None:
                new["start_time"] = format_time(plan.start)
            if new["type"] == 3:
                new.pop("start_time", None)
                new.pop("duration", None)
            else:
                new.setdefault("start_time", format_time(self.clock.now()))
                new.setdefault("duration", 60)
            if "password" in plan or plan.get("default_password"):
                password = self._passcode(user, plan)
                encrypted = encrypted_password()
                new.update(_passcode_fields(stored.id, password, encrypted))
            if plan.settings:
                changes = {k: v for k, v in plan.settings.items() if k != "use_pmi"}
                new["settings"] = merged_settings(current["settings"], changes)
            new = _ordered(new)
            if new != current:
                stored.resource = new
            return current, new

    def delete(self, stored: StoredMeeting) -> dict[str, Any]:
        """``DELETE /meetings/{id}``: gone (400 code 3018 for a PMI meeting)."""
        with self.lock:
            if stored.uses_pmi:
                raise ZoomApiError(400, 3018, "Not allowed to delete PMI.")
            self.meetings.pop(stored.uuid, None)
            uuids = self._by_id.get(stored.id, [])
            if stored.uuid in uuids:
                uuids.remove(stored.uuid)
            if not uuids:
                self._by_id.pop(stored.id, None)
            return stored.resource

    def _plan(self, user: ZoomUser, body: Any, current_zone: str | None) -> Plan:
        return check_body(
            body,
            user_zone=user.timezone,
            current_zone=current_zone,
            requirement=user.password_requirement,
            xml=self.passcode_errors_as_xml,
        )

    @staticmethod
    def _passcode(user: ZoomUser, plan: Plan) -> str:
        given = plan.get("password")
        if plan.get("default_password") or not given:
            return passcodes.generate(user.password_requirement)
        return str(given)

    # --- daily limits --------------------------------------------------------------------

    def take_daily(self, user: ZoomUser, limit: Limit) -> None:
        """Count one create or update request of ``user`` today (UTC); 429 once the day's are used."""
        with self.lock:
            today = self.clock.now().date()
            count = self._counts.get((user.id, limit))
            if count is None or count.day != today:
                count = self._counts[(user.id, limit)] = _Count(today)
            if count.used >= self.daily_limit:
                resume = datetime.combine(today + timedelta(days=1), time(0), UTC)
                raise ZoomApiError(
                    429,
                    429,
                    "You have reached the maximum daily rate limit for this API. "
                    "Refer to the response header for details on when you can make another request.",
                    headers={
                        "X-RateLimit-Category": _CATEGORY[limit],
                        "X-RateLimit-Type": "Daily",
                        "X-RateLimit-Limit": str(self.daily_limit),
                        "X-RateLimit-Remaining": "0",
                        "Retry-After": format_time(resume),
                    },
                )
            count.used += 1


def _start_url(meeting_id: int) -> str:
    return f"https://zoom.us/s/{meeting_id}?zak=eyJ{secrets.token_urlsafe(96)}"


def _passcode_fields(meeting_id: int, password: str, encrypted: str) -> dict[str, Any]:
    numeric = passcodes.numeric_twin(password)
    return {
        "join_url": f"https://zoom.us/j/{meeting_id}?pwd={encrypted}",
        "password": password,
        "h323_password": numeric,
        "pstn_password": numeric,
        "encrypted_password": encrypted,
    }


def _ordered(resource: dict[str, Any]) -> dict[str, Any]:
    ordered = {key: resource[key] for key in _KEY_ORDER if key in resource}
    ordered.update((key, value) for key, value in resource.items() if key not in ordered)
    return ordered


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What ``meeting.updated`` reports: the watched fields that changed, new and old (settings: the keys that did)."""
    new: dict[str, Any] = {}
    old: dict[str, Any] = {}
    for key in WATCHED:
        if before.get(key) == after.get(key):
            continue
        if key == "settings":
            was, now = before["settings"], after["settings"]
            keys = [k for k in now if k != "global_dial_in_numbers" and was.get(k) != now.get(k)]
            if keys:
                new["settings"] = {k: now[k] for k in keys}
                old["settings"] = {k: was.get(k) for k in keys}
            continue
        if key in after:
            new[key] = after[key]
        if key in before:
            old[key] = before[key]
    return new, old
