"""A parsed feed as provider items, and the cursor that remembers which version of it we read.

**Items.** A feed is one stream of VEVENTs; an item is one UID: its master first, then its
overrides in RECURRENCE-ID order (an override whose master the feed lacks is still an item, made
of overrides only). The item id is the UID and its etag the content fingerprint, so a feed that
rewrites DTSTAMP on every download does not look changed. When the same master or the same
override appears twice (Outlook exports do this), the newest version is kept: the higher
SEQUENCE, then the later LAST-MODIFIED, then the first in the stream — the order RFC 5546 uses
to tell versions of one event apart.

**Problems.** A VEVENT the parser had to skip (a fatal :class:`~calmesh.ical.CalendarProblem`)
becomes an :class:`ItemProblem` with the UID as id (``line N`` when it had none). Its whole item
is withheld — an id is either in the items or in the problems, never both — because a series
read without one of its parts would be applied as if that part had been removed; withheld, the
engine keeps what it had. Repairs (non-fatal problems) are not reported: the item is usable.

**Cursor.** A small JSON object::

    {"v": 1, "etag": "\\"abc\\"", "lastModified": "Tue, 01 Apr 2025 10:00:00 GMT",
     "sha256": "<hex digest of the decoded body>"}

``etag``/``lastModified`` are the response's validators (null when the server sent none), sent
back as ``If-None-Match``/``If-Modified-Since``; ``sha256`` lets a server without validators
that serves the same bytes cost no work. A cursor that cannot be read is treated as no cursor: a
feed's answer is always a full listing, so nothing is lost.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone

from calmesh.domain.events import Event
from calmesh.ical import ParsedCalendar
from calmesh.providers.base import ItemProblem, RemoteItem
from calmesh.sync.fingerprint import item_fingerprint

__all__ = ["FeedCursor", "body_digest", "group_items"]

_CURSOR_VERSION = 1


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class FeedCursor:
    etag: str | None
    last_modified: str | None
    sha256: str | None

    def encode(self) -> str:
        return json.dumps(
            {
                "v": _CURSOR_VERSION,
                "etag": self.etag,
                "lastModified": self.last_modified,
                "sha256": self.sha256,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str | None) -> FeedCursor | None:
        """The cursor ``text`` holds, or None when there is none or it cannot be read."""
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("v") != _CURSOR_VERSION:
            return None
        values = [data.get("etag"), data.get("lastModified"), data.get("sha256")]
        if not all(value is None or isinstance(value, str) for value in values):
            return None
        etag, last_modified, sha256 = values
        return cls(etag=etag, last_modified=last_modified, sha256=sha256)


def _instant_key(event: Event) -> tuple[float, str]:
    """An order over RECURRENCE-IDs that mixes dates, floating and zoned times without failing."""
    assert event.recurrence_id is not None
    value = event.recurrence_id.value.value
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    else:
        assert isinstance(value, date)
        moment = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return (moment.timestamp(), value.isoformat())


_NEVER = datetime.min.replace(tzinfo=timezone.utc)


def _newer(candidate: Event, kept: Event) -> bool:
    def version(event: Event) -> tuple[int, datetime]:
        modified = event.last_modified_at
        if modified is not None and modified.tzinfo is None:
            modified = modified.replace(tzinfo=timezone.utc)
        return (event.sequence, modified or _NEVER)

    return version(candidate) > version(kept)


def _order(events: list[Event]) -> tuple[Event, ...]:
    """Master first, then overrides by RECURRENCE-ID; of duplicates, the newest version."""
    master: Event | None = None
    overrides: dict[tuple[float, str], Event] = {}
    for event in events:
        if event.recurrence_id is None:
            if master is None or _newer(event, master):
                master = event
        else:
            key = _instant_key(event)
            kept = overrides.get(key)
            if kept is None or _newer(event, kept):
                overrides[key] = event
    ordered = [overrides[key] for key in sorted(overrides)]
    return tuple([master, *ordered] if master is not None else ordered)


def group_items(parsed: ParsedCalendar) -> tuple[tuple[RemoteItem, ...], tuple[ItemProblem, ...]]:
    """The feed's items in the order their UIDs first appear, and the VEVENTs that were skipped."""
    skipped: dict[str, list[str]] = {}
    for problem in parsed.problems:
        if not problem.fatal:
            continue
        key = problem.uid or (f"line {problem.line}" if problem.line is not None else "unknown")
        skipped.setdefault(key, []).append(problem.message)
    by_uid: dict[str, list[Event]] = {}
    for event in parsed.events:
        by_uid.setdefault(event.uid, []).append(event)
    items = []
    for uid, events in by_uid.items():
        if uid in skipped:
            continue
        ordered = _order(events)
        items.append(RemoteItem(id=uid, etag=item_fingerprint(ordered), events=ordered))
    problems = tuple(ItemProblem(id=key, message="; ".join(messages)) for key, messages in skipped.items())
    return tuple(items), problems
