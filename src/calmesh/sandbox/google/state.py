"""The sandbox's data: users, calendars, events and their change log, behind one lock.

Owns every rule about *stored* events (protocols.md §1.3-§1.4): ids and duplicates, etags,
the per-calendar change log sync tokens are cut from, exceptions of recurring series
materialised through instance ids, cascading deletes, and Meet conferences that finish after
some reads. The HTTP layer (:mod:`.calendar_api`) and the direct ``sb.*`` methods both call
:class:`SandboxState`, so a change "made by another client" takes the API's path.

Stored resources are never mutated: every change stores a new dict. Lists and page snapshots
can therefore hold references to them without copying.

Threading: the server's event loop and test threads both call in; every public method takes
:attr:`SandboxState.lock` (re-entrant). :attr:`SandboxState.on_change` is called (under the
lock) once per change to a calendar's events; it must not block.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Literal

from calmesh.sandbox._common import zone
from calmesh.sandbox.google import meet
from calmesh.sandbox.google.errors import GoogleApiError
from calmesh.sandbox.google.events import (
    EVENT_INPUT,
    CalendarFacts,
    WriteContext,
    clean_body,
    compose,
    html_link,
    instance_of,
    merge_patch,
    ordered,
    valid_event_id,
)
from calmesh.sandbox.google.recurrence import Series, compile_series, split_instance_id
from calmesh.sandbox.google.times import UTC, EventTime, parse_event_time, stamp

__all__ = ["ROLES", "Calendar", "Cursor", "Page", "SandboxState", "StoredEvent", "User", "new_event_id"]

#: Access roles from weakest to strongest.
ROLES = ("freeBusyReader", "reader", "writer", "owner")
_WRITERS = ("writer", "owner")
#: Page snapshots kept at once (the oldest is forgotten first).
MAX_CURSORS = 256
_PALETTE = [("14", "#9fe1e7", "#000000"), ("9", "#7bd148", "#000000"), ("16", "#4986e7", "#000000"), ("11", "#fbe983", "#000000")]


def new_event_id() -> str:
    """A server-made event id: 26 characters of base32hex, like Google's."""
    return base64.b32hexencode(secrets.token_bytes(16)).decode().lower().rstrip("=")


@dataclass(frozen=True)
class User:
    """A sandbox user; their primary calendar's id is their email."""

    email: str
    name: str | None
    calendar_id: str


class StoredEvent:
    """One stored event (a single event, a series' master, or an exception) and its change-log position."""

    __slots__ = ("resource", "seq", "start", "end", "_series")

    def __init__(self, resource: dict[str, Any], seq: int, calendar_zone: tzinfo) -> None:
        #: The Event JSON exactly as the API shows it (never mutated).
        self.resource = resource
        #: Position in the calendar's change log of the last change.
        self.seq = seq
        self.start: EventTime = parse_event_time(resource["start"], calendar_zone, "start")
        self.end: EventTime = parse_event_time(resource["end"], calendar_zone, "end")
        self._series: Series | None = None

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def cancelled(self) -> bool:
        return self.resource.get("status") == "cancelled"

    @property
    def is_master(self) -> bool:
        return bool(self.resource.get("recurrence"))

    @property
    def master_id(self) -> str | None:
        """For an exception, its series' id."""
        value = self.resource.get("recurringEventId")
        return str(value) if value is not None else None

    def series(self, calendar_zone: tzinfo) -> Series:
        if self._series is None:
            self._series = compile_series(self.resource["recurrence"], self.start, self.end, calendar_zone)
        return self._series


@dataclass(eq=False)
class Calendar:
    id: str
    owner: str
    summary: str
    zone_name: str
    #: Everyone with access, by lower-case email, including the owner.
    acl: dict[str, str]
    #: The opaque id push notifications name (``X-Goog-Resource-ID``).
    resource_id: str
    #: Position in the calendar-list change log (creation, sharing).
    list_seq: int
    color: tuple[str, str, str]
    description: str | None = None
    events: dict[str, StoredEvent] = field(default_factory=dict)
    #: Series id -> ids of its stored exceptions.
    exceptions: dict[str, set[str]] = field(default_factory=dict)
    #: iCalUID -> id of the live single event or series using it (ids are unique per calendar).
    uids: dict[str, str] = field(default_factory=dict)
    #: The change log's head: each change to an event takes the next number.
    seq: int = 0
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: Meet conferences still being created, by event id.
    pending: dict[str, meet.PendingMeet] = field(default_factory=dict)
    #: Bumped to invalidate every sync token issued for this calendar so far.
    sync_generation: int = 0

    @property
    def zone(self) -> tzinfo:
        return zone(self.zone_name) or UTC

    def role_of(self, email: str) -> str | None:
        return self.acl.get(email.lower())


#: One page: its items, then the next page token or (on the last page) the sync token.
Page = tuple[list[dict[str, Any]], str | None, str | None]


@dataclass
class Cursor:
    """A listing being paged: the items were fixed by the first page (no re-filtering per page)."""

    key: str
    items: list[dict[str, Any]]
    #: What the last page hands out as ``nextSyncToken`` (None: no sync token for this listing).
    sync_token: str | None


class SandboxState:
    """Users, calendars and events of one sandbox; every public method is thread-safe."""

    def __init__(self, lock: threading.RLock | None = None) -> None:
        self.lock = lock or threading.RLock()
        self.base_url = "http://127.0.0.1"
        self.on_change: Callable[[str], None] = lambda calendar_id: None
        #: >0: a new Meet conference stays pending for that many reads.
        self.meet_pending_reads = 0
        #: True: Meet create requests end in failure.
        self.meet_fails = False
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.users: dict[str, User] = {}
            self.calendars: dict[str, Calendar] = {}
            self._etag = 0
            self._list_seq = 0
            #: Bumped to invalidate every calendar-list sync token.
            self.list_generation = 0
            self._secret = secrets.token_bytes(32)
            self._cursors: OrderedDict[str, Cursor] = OrderedDict()

    # --- users and calendars -------------------------------------------------------------

    def add_user(self, email: str, name: str | None = None, *, time_zone: str = "UTC") -> str:
        with self.lock:
            key = email.lower()
            if key in self.users:
                raise ValueError(f"the sandbox already has a user {email}")
            self.users[key] = User(email, name, email)
            self._new_calendar(email, email, email, time_zone)
            return email

    def add_calendar(self, owner_email: str, summary: str, *, time_zone: str = "UTC", calendar_id: str | None = None) -> str:
        with self.lock:
            owner = self.user(owner_email)
            calendar_id = calendar_id or f"{new_event_id()}@group.calendar.google.com"
            if calendar_id in self.calendars:
                raise ValueError(f"the sandbox already has a calendar {calendar_id}")
            self._new_calendar(calendar_id, owner.email, summary, time_zone)
            return calendar_id

    def _new_calendar(self, calendar_id: str, owner: str, summary: str, time_zone: str) -> None:
        if zone(time_zone) is None:
            raise ValueError(f"unknown time zone {time_zone!r}")
        self._list_seq += 1
        self.calendars[calendar_id] = Calendar(
            id=calendar_id,
            owner=owner,
            summary=summary,
            zone_name=time_zone,
            acl={owner.lower(): "owner"},
            resource_id=base64.urlsafe_b64encode(secrets.token_bytes(15)).decode(),
            list_seq=self._list_seq,
            color=_PALETTE[len(self.calendars) % len(_PALETTE)],
            updated=self.clock(),
        )

    def share_calendar(self, calendar_id: str, email: str, role: str = "reader") -> None:
        with self.lock:
            if role not in ROLES:
                raise ValueError(f"role must be one of {', '.join(ROLES)}")
            calendar = self.calendar(calendar_id)
            calendar.acl[email.lower()] = role
            self._list_seq += 1
            calendar.list_seq = self._list_seq

    def user(self, email: str) -> User:
        with self.lock:
            try:
                return self.users[email.lower()]
            except KeyError:
                raise KeyError(f"the sandbox has no user {email}") from None

    def calendar(self, calendar_id: str) -> Calendar:
        """The calendar ``calendar_id`` (a real id; ``primary`` is the API layer's alias)."""
        with self.lock:
            calendar = self.calendars.get(calendar_id)
            if calendar is None:
                raise GoogleApiError(404, "notFound", "Not Found")
            return calendar

    def calendars_of(self, email: str) -> list[tuple[Calendar, str]]:
        """The user's calendar list with their role on each: the primary first."""
        with self.lock:
            key = email.lower()
            entries = [(c, c.acl[key]) for c in self.calendars.values() if key in c.acl]
            return sorted(entries, key=lambda entry: (entry[0].id.lower() != key, entry[0].list_seq))

    @property
    def list_seq(self) -> int:
        return self._list_seq

    def facts(self, calendar: Calendar) -> CalendarFacts:
        owner = self.users.get(calendar.owner.lower())
        return CalendarFacts(
            id=calendar.id,
            zone=calendar.zone,
            owner_email=calendar.owner,
            owner_name=owner.name if owner else None,
            summary=calendar.summary,
            primary=calendar.id.lower() == calendar.owner.lower(),
        )

    # --- reading events ------------------------------------------------------------------

    def lookup(self, calendar: Calendar, event_id: str) -> tuple[StoredEvent | None, dict[str, Any]]:
        """The stored event, or the instance of a series an instance id names; else 404."""
        with self.lock:
            stored = calendar.events.get(event_id)
            if stored is not None:
                return stored, stored.resource
            split = split_instance_id(event_id)
            if split is not None:
                master = calendar.events.get(split[0])
                if master is not None and master.is_master:
                    occurrence = master.series(calendar.zone).find(split[1])
                    if occurrence is not None:
                        instance = instance_of(master.resource, occurrence, self.base_url, calendar.id)
                        if master.cancelled:
                            instance["status"] = "cancelled"
                        return None, instance
            raise GoogleApiError(404, "notFound", "Not Found")

    def get_event(self, calendar: Calendar, event_id: str) -> dict[str, Any]:
        """events.get: the event, cancelled ones included (a read for pending Meet conferences)."""
        with self.lock:
            self.note_read(calendar)
            return self.lookup(calendar, event_id)[1]

    def note_read(self, calendar: Calendar) -> None:
        """One more read of the calendar: pending Meet conferences move towards done."""
        with self.lock:
            for event_id, pending in list(calendar.pending.items()):
                if pending.reads_left > 0:
                    pending.reads_left -= 1
                    continue
                del calendar.pending[event_id]
                stored = calendar.events.get(event_id)
                conference = (stored.resource.get("conferenceData") if stored else None) or {}
                request = conference.get("createRequest") or {}
                if stored is None or (request.get("status") or {}).get("statusCode") != "pending":
                    continue  # the conference was replaced or dropped meanwhile
                done = meet.completed(str(request.get("requestId")), fails=pending.fails)
                resource = {k: v for k, v in stored.resource.items() if k != "hangoutLink"}
                resource.update(conferenceData=done, etag=self._next_etag(), updated=stamp(self.clock()))
                link = meet.hangout_link(done)
                if link:
                    resource["hangoutLink"] = link
                self._store(calendar, ordered(resource))

    # --- writing events ------------------------------------------------------------------

    def insert_event(
        self, calendar: Calendar, body: Any, *, version: int = 0, trusted: bool = False, notify: bool = True
    ) -> dict[str, Any]:
        """events.insert."""
        with self.lock:
            fields = clean_body(body)
            given_id, given_uid = fields.get("id"), fields.get("iCalUID")
            if given_id is not None and given_uid is not None:
                raise GoogleApiError(400, "invalid", "Only one of id and iCalUID may be given.")
            if given_id is not None:
                if not isinstance(given_id, str) or not valid_event_id(given_id):
                    raise GoogleApiError(400, "invalid", "Invalid resource id value.")
                if given_id in calendar.events:
                    raise GoogleApiError(409, "duplicate", "The requested identifier already exists.")
                event_id = given_id
            else:
                event_id = new_event_id()
                while event_id in calendar.events:
                    event_id = new_event_id()
            if given_uid is not None:
                if not isinstance(given_uid, str) or not given_uid:
                    raise GoogleApiError(400, "invalid", "Invalid iCalUID value.")
                if given_uid in calendar.uids:
                    raise GoogleApiError(409, "duplicate", "The requested identifier already exists.")
            outcome = meet.resolve(
                None, fields, version=version, mode="insert", pending_reads=self.meet_pending_reads, fails=self.meet_fails
            )
            resource = compose(
                fields,
                self._context(calendar, trusted),
                identity={"id": event_id, "iCalUID": given_uid or f"{event_id}@google.com"},
                previous=None,
                conference=outcome.conference,
                hangout=meet.hangout_link(outcome.conference),
            )
            self._store(calendar, resource, notify=notify)
            if outcome.pending is not None:
                calendar.pending[event_id] = outcome.pending
            return resource

    def bulk_insert(self, calendar: Calendar, bodies: Iterable[Any]) -> int:
        """Many inserts, one notification at the end (seeding benchmarks)."""
        with self.lock:
            count = 0
            for body in bodies:
                self.insert_event(calendar, body, trusted=True, notify=False)
                count += 1
            if count:
                self.on_change(calendar.id)
            return count

    def rewrite_event(
        self,
        calendar: Calendar,
        event_id: str,
        body: Any,
        how: Literal["patch", "update"],
        *,
        version: int = 0,
        if_match: str | None = None,
        trusted: bool = False,
    ) -> dict[str, Any]:
        """events.patch (the body's fields change) or events.update (PUT: the body replaces every writable field).

        Also on an instance id: the instance becomes an exception.
        """
        with self.lock:
            _, current = self._writable(calendar, event_id, if_match)
            changes = clean_body(body)
            if how == "patch":
                fields = merge_patch({key: value for key, value in current.items() if key in EVENT_INPUT}, changes)
            else:
                fields = changes
            return self._rewrite(calendar, current, fields, changes, version, how, trusted)

    def delete_event(self, calendar: Calendar, event_id: str, *, if_match: str | None = None) -> None:
        """events.delete: the event is cancelled; a series takes its exceptions with it."""
        with self.lock:
            stored, current = self.lookup(calendar, event_id)
            if current.get("status") == "cancelled":
                raise GoogleApiError(410, "deleted", "Resource has been deleted")
            _check_etag(current, if_match)
            self._store(calendar, self._cancelled(current), notify=False)
            if stored is not None and stored.is_master:
                for exception_id in sorted(calendar.exceptions.get(stored.id, ())):
                    exception = calendar.events[exception_id]
                    if not exception.cancelled:
                        self._store(calendar, self._cancelled(exception.resource), notify=False)
            calendar.pending.pop(event_id, None)
            self.on_change(calendar.id)

    def _writable(self, calendar: Calendar, event_id: str, if_match: str | None) -> tuple[StoredEvent | None, dict[str, Any]]:
        stored, current = self.lookup(calendar, event_id)
        if stored is None and current.get("status") == "cancelled":
            # An instance of a deleted series.
            raise GoogleApiError(410, "deleted", "Resource has been deleted")
        _check_etag(current, if_match)
        return stored, current

    def _rewrite(
        self,
        calendar: Calendar,
        current: dict[str, Any],
        fields: dict[str, Any],
        changes: dict[str, Any],
        version: int,
        mode: meet.Mode,
        trusted: bool,
    ) -> dict[str, Any]:
        event_id = str(current["id"])
        outcome = meet.resolve(
            current.get("conferenceData"),
            changes,
            version=version,
            mode=mode,
            pending_reads=self.meet_pending_reads,
            fails=self.meet_fails,
        )
        identity: dict[str, Any] = {
            key: current[key] for key in ("id", "iCalUID", "recurringEventId", "originalStartTime") if key in current
        }
        resource = compose(
            fields,
            self._context(calendar, trusted),
            identity=identity,
            previous=current,
            conference=outcome.conference,
            hangout=meet.hangout_link(outcome.conference),
        )
        stored = self._store(calendar, resource, notify=False)
        if outcome.pending is not None:
            calendar.pending[event_id] = outcome.pending
        if stored.is_master and stored.cancelled and current.get("status") != "cancelled":
            # Cancelling a series through PATCH/PUT status=cancelled takes its exceptions too.
            for exception_id in sorted(calendar.exceptions.get(event_id, ())):
                exception = calendar.events[exception_id]
                if not exception.cancelled:
                    self._store(calendar, self._cancelled(exception.resource), notify=False)
        self.on_change(calendar.id)
        return resource

    def _cancelled(self, resource: dict[str, Any]) -> dict[str, Any]:
        return {**resource, "status": "cancelled", "etag": self._next_etag(), "updated": stamp(self.clock())}

    def _store(self, calendar: Calendar, resource: dict[str, Any], *, notify: bool = True) -> StoredEvent:
        calendar.seq += 1
        stored = StoredEvent(resource, calendar.seq, calendar.zone)
        calendar.events[stored.id] = stored
        uid = str(resource.get("iCalUID", ""))
        if stored.master_id is not None:
            calendar.exceptions.setdefault(stored.master_id, set()).add(stored.id)
        elif stored.cancelled:
            if calendar.uids.get(uid) == stored.id:
                del calendar.uids[uid]
        else:
            calendar.uids[uid] = stored.id
        calendar.updated = self.clock()
        if notify:
            self.on_change(calendar.id)
        return stored

    def _context(self, calendar: Calendar, trusted: bool) -> WriteContext:
        return WriteContext(
            calendar=self.facts(calendar),
            now=self.clock(),
            etag=self._next_etag(),
            base_url=self.base_url,
            trusted=trusted,
        )

    def _next_etag(self) -> str:
        # Quoted digits that only grow, like Google's microsecond-based etags.
        self._etag = max(self._etag + 1, time.time_ns() // 1000)
        return f'"{self._etag}"'

    def set_base_url(self, url: str) -> None:
        """Serve under ``url``: stored ``htmlLink`` s follow (not a change: etags stay)."""
        with self.lock:
            url = url.rstrip("/")
            if url == self.base_url:
                return
            self.base_url = url
            for calendar in self.calendars.values():
                for stored in calendar.events.values():
                    link = html_link(url, stored.id, calendar.id)
                    if stored.resource.get("htmlLink") != link:
                        stored.resource = {**stored.resource, "htmlLink": link}

    # --- sync tokens and page snapshots --------------------------------------------------

    def sync_token(self, scope: str, generation: int, seq: int) -> str:
        """An opaque token for "changes after ``seq``" of ``scope``, signed so it cannot be forged."""
        payload = base64.urlsafe_b64encode(f"{scope}\n{generation}\n{seq}".encode()).decode().rstrip("=")
        mac = hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()[:12]
        return "C" + payload + "." + base64.urlsafe_b64encode(mac).decode()

    def read_sync_token(self, token: str, scope: str, generation: int) -> int | None:
        """The change-log position a token stands for, or None if it is not valid (any more)."""
        if not token.startswith("C") or "." not in token:
            return None
        payload, _, mac = token[1:].rpartition(".")
        expected = base64.urlsafe_b64encode(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()[:12]).decode()
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
            token_scope, token_generation, seq = text.split("\n")
            if token_scope != scope or int(token_generation) != generation:
                return None
            return int(seq)
        except ValueError:
            return None

    def invalidate_sync_tokens(self, calendar_id: str | None = None) -> None:
        with self.lock:
            for calendar in self.calendars.values():
                if calendar_id is None or calendar.id == calendar_id:
                    calendar.sync_generation += 1
            if calendar_id is None:
                self.list_generation += 1

    def first_page(self, cursor: Cursor, size: int) -> Page:
        """The first page of a new listing; later pages come from the same snapshot."""
        with self.lock:
            if len(cursor.items) <= size:
                return cursor.items, None, cursor.sync_token
            name = secrets.token_urlsafe(18)
            self._cursors[name] = cursor
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
            return self._slice(name, cursor, 0, size)

    def next_page(self, page_token: str, key: str, size: int) -> Page:
        """The page a ``nextPageToken`` points at (400 invalid for a token of another listing)."""
        with self.lock:
            name, _, position = page_token.rpartition("~")
            cursor = self._cursors.get(name)
            if cursor is None or cursor.key != key or not position.isdigit():
                raise GoogleApiError(400, "invalid", "Invalid page token value.", location_type="parameter", location="pageToken")
            self._cursors.move_to_end(name)
            return self._slice(name, cursor, int(position), size)

    @staticmethod
    def _slice(name: str, cursor: Cursor, position: int, size: int) -> Page:
        items = cursor.items[position : position + size]
        if position + size < len(cursor.items):
            return items, f"{name}~{position + size}", None
        return items, None, cursor.sync_token


def _check_etag(current: dict[str, Any], if_match: str | None) -> None:
    """``If-Match``: 412 conditionNotMet unless it names the current etag (or ``*``)."""
    if if_match is None:
        return
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if "*" in wanted or str(current.get("etag", "")).strip('"') in wanted:
        return
    raise GoogleApiError(
        412, "conditionNotMet", "Precondition Failed", location_type="header", location="If-Match"
    )
