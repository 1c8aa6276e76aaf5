"""Connecting calmesh to the Zoom emulator as production does, for any test that needs a Zoom
integration — and the OAuth steps the Google test helpers take alike.

* :func:`make_runtime` (a ``RuntimeFactory``: ``await make_runtime(**settings)``) and
  :func:`runtime` — fixtures: runtimes with :func:`zoom_settings` on one fresh database, each with
  its own engine, as separate processes would be. A test module uses them by binding them to its
  own names (``make_runtime, runtime = zoom_connect.make_runtime, zoom_connect.runtime``);
* :func:`zoom_settings` ``(served) -> dict`` — settings overrides pointing calmesh's Zoom (OAuth,
  API, webhook secret token) at the emulator of the ``zoom_sandbox`` fixture
  (:class:`tests.zoom_sandbox.ServedZoomSandbox`);
* :func:`zoom_consent` ``(auth_url, email) -> httpx.URL`` — the user's browser at the emulator's
  consent page: "allow", and where Zoom sends it back;
* :func:`connect_zoom` ``(runtime, tenant_id, user_id, email=ADA) -> str`` — the integration id,
  made through calmesh's auth URL, the consent page and ``integrations.connect`` with the code
  (the application's own redirect, :data:`ZOOM_REDIRECT`);
* :func:`book_with_meeting` ``(runtime, tenant_id, user_id, meeting) -> str`` — a booking row
  holding a scheduled meeting's link (to see what happens to it when the meeting goes).

Usage::

    rt = build_runtime(make_settings(database_url, tmp_path, **zoom_settings(zoom_sandbox)))
    connection_id = await connect_zoom(rt, tenant_id, user_id)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from calmesh.ids import new_id
from calmesh.services import oauth
from calmesh.services.meetings import ScheduledMeeting
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.migrate import upgrade
from tests.conftest import make_settings
from tests.oauth_flows import connect_through_consent
from tests.zoom_sandbox import ADA, ServedZoomSandbox

__all__ = [
    "ADA",
    "ZOOM_REDIRECT",
    "RuntimeFactory",
    "book_with_meeting",
    "connect_zoom",
    "make_runtime",
    "runtime",
    "zoom_consent",
    "zoom_settings",
]

#: The application's page Zoom sends the user back to (never loaded: the tests read the redirect).
ZOOM_REDIRECT = "https://app.example.com/oauth/zoom"
#: ``await make_runtime(**settings)``: one more runtime on the test's database.
RuntimeFactory = Callable[..., Awaitable[Runtime]]


def zoom_settings(served: ServedZoomSandbox) -> dict[str, object]:
    """Settings pointing calmesh's Zoom at the emulator served at ``served.url``."""
    sandbox = served.sandbox
    return {
        "zoom_client_id": sandbox.client_id,
        "zoom_client_secret": sandbox.client_secret,
        "zoom_webhook_secret_token": sandbox.webhook_secret_token,
        "zoom_oauth_url": served.url,
        "zoom_api_url": served.url,
        # Retries on a test's clock, not Zoom's seconds.
        "provider_retry_base_seconds": 0.02,
    }


async def zoom_consent(auth_url: str, email: str, decision: str = "allow") -> httpx.URL:
    """The user's browser at the emulator: the consent page, a choice, and where it is sent."""
    async with httpx.AsyncClient(timeout=10, trust_env=False) as browser:
        page = await browser.get(auth_url)
        assert page.status_code == 200, page.text
        parts = urlsplit(auth_url)
        form = dict(parse_qsl(parts.query)) | {"user": email, "decision": decision}
        answer = await browser.post(f"{parts.scheme}://{parts.netloc}{parts.path}/consent", data=form)
    assert answer.status_code == 302, answer.text
    return httpx.URL(answer.headers["location"])


@pytest.fixture
async def make_runtime(zoom_sandbox: ServedZoomSandbox, database_url: str, tmp_path: Path) -> AsyncIterator[RuntimeFactory]:
    """Runtimes on one fresh database, each with its own engine — as separate processes would be."""
    made: list[Runtime] = []

    async def make(**more: object) -> Runtime:
        rt = build_runtime(make_settings(database_url, tmp_path, **{**zoom_settings(zoom_sandbox), **more}))
        if not made:
            await upgrade(rt.engine)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.close()


@pytest.fixture
async def runtime(make_runtime: RuntimeFactory) -> Runtime:
    return await make_runtime()


async def connect_zoom(runtime: Runtime, tenant_id: str, user_id: str, email: str = ADA) -> str:
    """Connect ``email``'s Zoom account for the calmesh user ``user_id``; returns the integration id."""
    request = oauth.AuthUrlRequest(provider="ZOOM", redirect_uri=ZOOM_REDIRECT, user_id=user_id)
    return await connect_through_consent(runtime, tenant_id, request, lambda auth_url: zoom_consent(auth_url, email))


async def book_with_meeting(runtime: Runtime, tenant_id: str, user_id: str, meeting: ScheduledMeeting) -> str:
    """A confirmed booking (rows, no availability checks) holding ``meeting``'s link, as the
    bookings service stores one; returns its id."""
    async with UnitOfWork(runtime) as uow:
        event_type = models.EventType(
            id=new_id("evt"), tenant_id=tenant_id, title="Intro call", slug=new_id("slug"), duration_minutes=30,
            location={"type": "ZOOM"},
        )
        uow.session.add(event_type)
        await uow.session.flush()
        row = await uow.session.get(models.Meeting, meeting.id)
        assert row is not None
        booking = models.Booking(
            id=new_id("bkg"), tenant_id=tenant_id, event_type_id=event_type.id, start_at=row.start_at, end_at=row.end_at,
            attendee_name="Grace", attendee_email="grace@example.com", attendee_time_zone="UTC", host_ids=[user_id],
            conference=meeting.conference(), meeting_id=meeting.id,
        )
        uow.session.add(booking)
        await uow.commit()
        return booking.id
