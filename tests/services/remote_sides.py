"""The provider side of the two-way sync scenarios: "another client" at CalDAV or at Google.

A :class:`RemoteSide` does at the provider what another calendar client would do — add an event,
change it, move or cancel one instance of a series, delete it — in domain terms, and reads back
what the provider holds as domain events. The scenarios (:mod:`tests.services.sync_scenarios`)
are written against it only, so the same scenario runs on every provider:

* :class:`CalDAVSide` — a real Radicale or Xandikos (``tests.caldav_servers``); changes are raw
  PUTs and DELETEs of hand-written iCalendar text, one object per series; reading back is one
  REPORT.
* :class:`GoogleSide` — calmesh's Google emulator; changes go straight into the emulator's store
  as hand-written Google event JSON (``sb.insert_event``, ``sb.patch_event`` on an instance id,
  ``sb.delete_event``); reading back converts each stored event with the Google provider's JSON
  mapping (``event_from_google``) and groups them here, in Google's model: a changed instance is
  an override, a cancelled one an EXDATE of its series.

Changes address series this client added (CalDAV: the object ``{uid}.ics``; Google: the master
with that iCalUID). Cancelled instances are the one thing the two kinds store differently, so
scenarios check them with :meth:`RemoteSide.assert_cancelled`.

Handles are what ``new_calendar`` returns: the calendar's URL at a CalDAV server, the calendar id
at Google. Times are aware datetimes (the scenarios use Europe/Berlin).

The ``remote`` fixture (``tests/services/conftest.py``) is parametrized over :data:`REMOTE_KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree

import httpx
import pytest
from sqlalchemy import select

from calmesh.domain.events import Event, EventStatus, Recurrence
from calmesh.ical import parse_calendar
from calmesh.providers.google._mapping import event_from_google, time_from_google
from calmesh.sandbox.google import GoogleSandbox
from calmesh.sandbox.serving import RunningApp, serve_in_thread
from calmesh.services import integrations, oauth
from calmesh.services.integrations import IntegrationCreate
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from tests.caldav_servers import CalDAVServer, free_port
from tests.google_sandbox import ADA, ServedGoogleSandbox
from tests.mirror_helpers import make_tenant
from tests.oauth_flows import connect_through_consent

__all__ = [
    "CALDAV_KINDS",
    "REMOTE_KINDS",
    "CalDAVSide",
    "GoogleSide",
    "RemoteSide",
    "connect_google",
    "google_side",
    "list_caldav_objects",
]

CALDAV_KINDS = ("radicale", "xandikos")
REMOTE_KINDS = (*CALDAV_KINDS, "google")
ZONE = "Europe/Berlin"
UTC = timezone.utc


class RemoteSide(Protocol):
    """What another client does at the provider, and what the provider holds."""

    @property
    def kind(self) -> str:
        """Which provider: radicale, xandikos or google (the test ids)."""
        ...

    def settings(self) -> dict[str, object]:
        """Settings the runtime needs to reach this provider (passed to ``make_settings``)."""
        ...

    async def new_calendar(self, name: str) -> str:
        """A fresh, empty calendar; its handle."""
        ...

    async def connect(self, runtime: Runtime, calendar: str, **settings: object) -> tuple[str, str]:
        """A new tenant whose new connection syncs just ``calendar`` (``settings``: seed 001's
        ``configure`` fields, camelCase); (tenant id, connection id). Nothing is synced yet."""
        ...

    async def add(
        self, calendar: str, uid: str, summary: str, start: datetime, end: datetime | None = None, *, rrule: str | None = None
    ) -> None:
        """A new event (a series with ``rrule``); ``end`` defaults to an hour after ``start``."""
        ...

    async def change(
        self, calendar: str, uid: str, *, summary: str | None = None, start: datetime | None = None, end: datetime | None = None
    ) -> None:
        """Change a series' master (what is not given stays; a new start keeps the duration)."""
        ...

    async def move_instance(
        self, calendar: str, uid: str, original_start: datetime, start: datetime, end: datetime, summary: str | None = None
    ) -> None:
        """Move one instance of a series (and rename it, with ``summary``)."""
        ...

    async def cancel_instance(self, calendar: str, uid: str, original_start: datetime) -> None:
        """Cancel one instance of a series."""
        ...

    async def remove(self, calendar: str, uid: str) -> None:
        """Delete the series."""
        ...

    async def series(self, calendar: str) -> dict[str, list[Event]]:
        """What the provider holds, as domain events: {uid: [master, overrides…]}, masters first."""
        ...

    async def object_count(self, calendar: str) -> int:
        """How many items the provider stores (a duplicate of a series counts twice)."""
        ...

    def assert_cancelled(self, series: list[Event], instances: list[datetime]) -> None:
        """``series`` (the mirror's or the provider's) says exactly the instances at ``instances``
        (original starts) are cancelled, in the form this provider uses for it."""
        ...

    async def invalidate_cursor(self, runtime: Runtime, calendar_id: str) -> None:
        """Make the provider forget the sync cursor calmesh stored for ``calendar_id``."""
        ...

    async def outage(self) -> None:
        """The provider stops answering."""
        ...

    async def recover(self) -> None:
        """The provider answers again, with everything it held."""
        ...

    async def close(self) -> None:
        """Leave the provider running and answering for the next test."""
        ...


# --- shared ---------------------------------------------------------------------------------


async def connect_tenant(runtime: Runtime, data: IntegrationCreate, choose: Any, **settings: object) -> tuple[str, str]:
    """Connect a new tenant through calmesh's services and sync just the calendar ``choose`` picks."""
    tenant_id = await make_tenant(runtime)
    created = await integrations.connect(runtime, tenant_id, data)
    calendars = await integrations.list_calendars(runtime, tenant_id, created.id, limit=100, cursor=None)
    chosen = [c.provider_calendar_id for c in calendars.data if choose(c.provider_calendar_id)]
    assert len(chosen) == 1, f"the calendar is not among {[c.provider_calendar_id for c in calendars.data]}"
    await integrations.configure(runtime, tenant_id, created.id, {"calendarsToSync": chosen, **settings})
    return tenant_id, created.id


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


# --- CalDAV ---------------------------------------------------------------------------------


CALENDAR_QUERY = (
    '<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
    '<d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>'
)


async def list_caldav_objects(server: CalDAVServer, calendar_url: str) -> list[str]:
    """Every object's iCalendar text, by one REPORT straight to the server."""
    async with httpx.AsyncClient(auth=server.auth, timeout=10) as client:
        response = await client.request(
            "REPORT", calendar_url, content=CALENDAR_QUERY,
            headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        )
    assert response.status_code == 207, response.text
    tree = ElementTree.fromstring(response.content)
    return [node.text or "" for node in tree.iter("{urn:ietf:params:xml:ns:caldav}calendar-data")]


def vevent_at(uid: str, summary: str, start: datetime, end: datetime, *extra: str) -> str:
    """One VEVENT as another client writes it, times in Europe/Berlin."""
    return "\r\n".join(
        [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART;TZID={ZONE}:{_stamp(start)}",
            f"DTEND;TZID={ZONE}:{_stamp(end)}",
            f"SUMMARY:{summary}",
            *extra,
            "END:VEVENT",
        ]
    )


def vcalendar(*vevents: str) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//other client//EN", *vevents, "END:VCALENDAR", ""])


@dataclass
class _Written:
    """A series as this client last wrote it: its master's fields and its exceptions' VEVENTs."""

    summary: str
    start: datetime
    end: datetime
    rrule: str | None
    exceptions: dict[datetime, str] = field(default_factory=dict)

    def text(self, uid: str) -> str:
        master = vevent_at(uid, self.summary, self.start, self.end, *([f"RRULE:{self.rrule}"] if self.rrule else []))
        return vcalendar(master, *self.exceptions.values())


@dataclass
class CalDAVSide:
    """Another CalDAV client: one object ``{uid}.ics`` per series, rewritten whole on each change."""

    server: CalDAVServer
    _written: dict[tuple[str, str], _Written] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.server.name

    def settings(self) -> dict[str, object]:
        return {"allow_private_network": True}

    async def new_calendar(self, name: str) -> str:
        return await self.server.mkcalendar(name)

    async def connect(self, runtime: Runtime, calendar: str, **settings: object) -> tuple[str, str]:
        path = httpx.URL(calendar).path
        data = IntegrationCreate(
            provider="CALDAV", server_url=self.server.url, username=self.server.username, password=self.server.password
        )
        return await connect_tenant(runtime, data, lambda found: httpx.URL(found).path == path, **settings)

    async def _put(self, calendar: str, uid: str) -> None:
        await self.server.put_object(calendar, f"{uid}.ics", self._written[calendar, uid].text(uid))

    async def add(
        self, calendar: str, uid: str, summary: str, start: datetime, end: datetime | None = None, *, rrule: str | None = None
    ) -> None:
        self._written[calendar, uid] = _Written(summary, start, end or start + timedelta(hours=1), rrule)
        await self._put(calendar, uid)

    async def change(
        self, calendar: str, uid: str, *, summary: str | None = None, start: datetime | None = None, end: datetime | None = None
    ) -> None:
        written = self._written[calendar, uid]
        if start is not None:
            written.end = end or start + (written.end - written.start)
            written.start = start
        elif end is not None:
            written.end = end
        written.summary = summary if summary is not None else written.summary
        await self._put(calendar, uid)

    async def move_instance(
        self, calendar: str, uid: str, original_start: datetime, start: datetime, end: datetime, summary: str | None = None
    ) -> None:
        written = self._written[calendar, uid]
        written.exceptions[original_start] = vevent_at(
            uid, summary or written.summary, start, end, f"RECURRENCE-ID;TZID={ZONE}:{_stamp(original_start)}"
        )
        await self._put(calendar, uid)

    async def cancel_instance(self, calendar: str, uid: str, original_start: datetime) -> None:
        written = self._written[calendar, uid]
        length = written.end - written.start
        written.exceptions[original_start] = vevent_at(
            uid, written.summary, original_start, original_start + length,
            f"RECURRENCE-ID;TZID={ZONE}:{_stamp(original_start)}", "STATUS:CANCELLED",
        )
        await self._put(calendar, uid)

    async def remove(self, calendar: str, uid: str) -> None:
        self._written.pop((calendar, uid), None)
        await self.server.delete_object(calendar, f"{uid}.ics")

    async def series(self, calendar: str) -> dict[str, list[Event]]:
        found: dict[str, list[Event]] = {}
        for text in await list_caldav_objects(self.server, calendar):
            events = parse_calendar(text).events
            assert events[0].uid not in found, f"two objects hold the series {events[0].uid!r}"
            found[events[0].uid] = sorted(
                events, key=lambda e: (e.recurrence_id is not None, e.recurrence_id.value.to_utc() if e.recurrence_id else e.start.to_utc())
            )
        return found

    async def object_count(self, calendar: str) -> int:
        return len(await list_caldav_objects(self.server, calendar))

    def assert_cancelled(self, series: list[Event], instances: list[datetime]) -> None:
        # CalDAV keeps a cancelled instance as it was written: an override with STATUS:CANCELLED
        # (the series' summary, at the instance's own time), not an EXDATE.
        master, overrides = series[0], series[1:]
        assert master.recurrence is not None and master.recurrence.exdates == ()
        cancelled = [e for e in overrides if e.status is EventStatus.CANCELLED]
        assert [e.recurrence_id.value.to_utc() for e in cancelled if e.recurrence_id] == [i.astimezone(UTC) for i in instances]
        for event in cancelled:
            assert event.summary == master.summary and event.start.to_utc() == event.recurrence_id.value.to_utc()  # type: ignore[union-attr]

    async def invalidate_cursor(self, runtime: Runtime, calendar_id: str) -> None:
        # A sync token the server never issued (Radicale's tokens are URLs under its namespace).
        async with UnitOfWork(runtime) as uow:
            state = await uow.session.get(models.SyncState, calendar_id)
            assert state is not None and state.cursor and state.cursor.startswith("sync:")
            prefix = "http://radicale.org/ns/sync/" if self.server.name == "radicale" else ""
            state.cursor = "sync:" + prefix + "0" * 40
            await uow.commit()

    async def outage(self) -> None:
        self.server.stop()

    async def recover(self) -> None:
        self.server.start()

    async def close(self) -> None:
        self.server.ensure_running()


async def selected_calendar_id(runtime: Runtime, connection_id: str) -> str:
    """The id of the one calendar the connection syncs."""
    async with UnitOfWork(runtime) as uow:
        ids = (
            await uow.session.scalars(
                select(models.Calendar.id).where(models.Calendar.connection_id == connection_id, models.Calendar.selected.is_(True))
            )
        ).all()
    assert len(ids) == 1
    return ids[0]


# --- Google ---------------------------------------------------------------------------------

#: Where calmesh's sign-in sends the browser back (the application's page; never fetched).
APP_REDIRECT = "https://app.example.com/oauth/google"


async def google_consent(auth_url: str, user: str) -> httpx.URL:
    """The user's browser at the emulator: the consent page, "allow", and where it is sent."""
    async with httpx.AsyncClient(timeout=10, trust_env=False) as browser:
        page = await browser.get(auth_url)
        assert page.status_code == 200, page.text
        parts = urlsplit(auth_url)
        form = dict(parse_qsl(parts.query)) | {"user": user, "decision": "allow"}
        answer = await browser.post(f"{parts.scheme}://{parts.netloc}{parts.path}/consent", data=form)
    assert answer.status_code == 302, answer.text
    return httpx.URL(answer.headers["location"])


def google_settings(sandbox: GoogleSandbox, url: str) -> dict[str, object]:
    """Settings pointing calmesh's Google at the emulator served at ``url``."""
    return {
        "google_client_id": sandbox.client_id,
        "google_client_secret": sandbox.client_secret,
        "google_accounts_url": url,
        "google_oauth_url": url,
        "google_api_url": url,
        # Retries as Google wants them, on a test's clock: outages and rate limits take
        # fractions of a second instead of the 15 s of real backoff.
        "provider_retry_base_seconds": 0.02,
    }


async def connect_google(runtime: Runtime, tenant_id: str, email: str, user_id: str | None = None) -> str:
    """Connect ``email``'s Google account (for the calmesh user ``user_id``) as production does,
    the browser played by httpx: calmesh's sign-in URL, the emulator's consent page, then the
    code back to calmesh."""
    request = oauth.AuthUrlRequest(provider="GOOGLE", redirect_uri=APP_REDIRECT, login_hint=email, user_id=user_id)
    return await connect_through_consent(runtime, tenant_id, request, lambda auth_url: google_consent(auth_url, email))


def google_time(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.isoformat(), "timeZone": ZONE}


def google_instance_id(master_id: str, original_start: datetime) -> str:
    """Google's id of one instance of a timed series: ``{masterId}_{original start in UTC}``."""
    return f"{master_id}_{original_start.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


@dataclass
class GoogleSide:
    """Another Google Calendar client, writing to the emulator's store in Google's JSON."""

    served: ServedGoogleSandbox
    #: The account whose calendars the tests use (the emulator's user Ada).
    email: str = ADA
    #: Set while :meth:`outage` has the emulator stopped; :meth:`recover` serves it again here.
    _stopped_port: int | None = None
    _restarted: RunningApp | None = None

    kind: str = "google"

    @property
    def sandbox(self) -> GoogleSandbox:
        return self.served.sandbox

    def settings(self) -> dict[str, object]:
        # Push channels point at a port nobody listens on: these tests sync by hand.
        return {**google_settings(self.sandbox, self.served.url), "public_base_url": f"http://127.0.0.1:{free_port()}"}

    async def new_calendar(self, name: str) -> str:
        return self.sandbox.add_calendar(self.email, name, time_zone=ZONE)

    async def connect(self, runtime: Runtime, calendar: str, **settings: object) -> tuple[str, str]:
        tenant_id = await make_tenant(runtime)
        connection_id = await connect_google(runtime, tenant_id, self.email)
        calendars = await integrations.list_calendars(runtime, tenant_id, connection_id, limit=100, cursor=None)
        assert calendar in [c.provider_calendar_id for c in calendars.data]
        await integrations.configure(runtime, tenant_id, connection_id, {"calendarsToSync": [calendar], **settings})
        return tenant_id, connection_id

    def _master(self, calendar: str, uid: str) -> dict[str, Any]:
        found = [e for e in self.sandbox.events(calendar) if e.get("iCalUID") == uid and not e.get("recurringEventId")]
        assert len(found) == 1, f"{len(found)} events with the iCalUID {uid!r}"
        return found[0]

    async def add(
        self, calendar: str, uid: str, summary: str, start: datetime, end: datetime | None = None, *, rrule: str | None = None
    ) -> None:
        body: dict[str, Any] = {
            "iCalUID": uid, "summary": summary, "start": google_time(start), "end": google_time(end or start + timedelta(hours=1)),
        }
        if rrule:
            body["recurrence"] = [f"RRULE:{rrule}"]
        self.sandbox.insert_event(calendar, body)

    async def change(
        self, calendar: str, uid: str, *, summary: str | None = None, start: datetime | None = None, end: datetime | None = None
    ) -> None:
        master = self._master(calendar, uid)
        patch: dict[str, Any] = {}
        if summary is not None:
            patch["summary"] = summary
        if start is not None:
            if end is None:
                was = datetime.fromisoformat(master["start"]["dateTime"]), datetime.fromisoformat(master["end"]["dateTime"])
                end = start + (was[1] - was[0])
            patch["start"] = google_time(start)
        if end is not None:
            patch["end"] = google_time(end)
        self.sandbox.patch_event(calendar, master["id"], patch)

    async def move_instance(
        self, calendar: str, uid: str, original_start: datetime, start: datetime, end: datetime, summary: str | None = None
    ) -> None:
        instance = google_instance_id(self._master(calendar, uid)["id"], original_start)
        patch: dict[str, Any] = {"start": google_time(start), "end": google_time(end)}
        if summary is not None:
            patch["summary"] = summary
        self.sandbox.patch_event(calendar, instance, patch)

    async def cancel_instance(self, calendar: str, uid: str, original_start: datetime) -> None:
        self.sandbox.delete_event(calendar, google_instance_id(self._master(calendar, uid)["id"], original_start))

    async def remove(self, calendar: str, uid: str) -> None:
        self.sandbox.delete_event(calendar, self._master(calendar, uid)["id"])

    async def series(self, calendar: str) -> dict[str, list[Event]]:
        # Each event through the provider's own JSON mapping; the grouping is Google's model:
        # a changed instance is an exception (an override), a cancelled one an EXDATE.
        stored = self.sandbox.events(calendar, include_cancelled=True)
        masters = [e for e in stored if not e.get("recurringEventId") and e.get("status") != "cancelled"]
        found: dict[str, list[Event]] = {}
        for data in masters:
            master = event_from_google(data)
            assert master.uid not in found, f"two events hold the series {master.uid!r}"
            exceptions = [e for e in stored if e.get("recurringEventId") == data["id"]]
            cancelled = tuple(time_from_google(e["originalStartTime"], "originalStartTime") for e in exceptions if e.get("status") == "cancelled")
            if cancelled:
                recurrence = master.recurrence or Recurrence()
                master = replace(master, recurrence=replace(recurrence, exdates=(*recurrence.exdates, *cancelled)))
            overrides = [event_from_google(e) for e in exceptions if e.get("status") != "cancelled"]
            overrides.sort(key=lambda e: e.recurrence_id.value.to_utc() if e.recurrence_id else e.start.to_utc())
            found[master.uid] = [master, *overrides]
        return found

    async def object_count(self, calendar: str) -> int:
        return sum(1 for e in self.sandbox.events(calendar) if not e.get("recurringEventId"))

    def assert_cancelled(self, series: list[Event], instances: list[datetime]) -> None:
        # Google keeps a cancelled instance as a cancelled exception, which reads as an EXDATE
        # of the series (in the mirror, and in :meth:`series`), never as an override.
        master, overrides = series[0], series[1:]
        assert master.recurrence is not None
        assert sorted(m.to_utc() for m in master.recurrence.exdates) == sorted(i.astimezone(UTC) for i in instances)
        assert not [e for e in overrides if e.status is EventStatus.CANCELLED]

    async def invalidate_cursor(self, runtime: Runtime, calendar_id: str) -> None:
        async with UnitOfWork(runtime) as uow:
            state = await uow.session.get(models.SyncState, calendar_id)
            assert state is not None and state.cursor, "no sync token stored"
        self.sandbox.invalidate_sync_tokens()

    async def outage(self) -> None:
        # The emulator stops listening: connections to its port are refused.
        running = self._restarted or self.served.running
        self._stopped_port = httpx.URL(running.url).port
        running.stop()

    async def recover(self) -> None:
        assert self._stopped_port is not None
        self._restarted = serve_in_thread(self.sandbox.app, port=self._stopped_port)
        self._stopped_port = None

    async def close(self) -> None:
        if self._restarted is not None:
            self._restarted.stop()


async def google_side(request: pytest.FixtureRequest) -> GoogleSide:
    served: ServedGoogleSandbox = request.getfixturevalue("google_sandbox")
    return GoogleSide(served)
