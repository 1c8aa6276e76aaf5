"""The Zoom emulator as a pytest fixture: ``zoom_sandbox``, served over loopback.

Register with ``pytest_plugins = [..., "tests.zoom_sandbox"]`` (root ``tests/conftest.py``). Each
test using ``zoom_sandbox`` gets a fresh :class:`~calmesh.sandbox.zoom.ZoomSandbox` served by
uvicorn in a thread, with one user ``ada@example.com`` (Ada Lovelace, UTC, no passcode
requirement) and tokens for her with the default scopes (``meeting:write meeting:read
user:read``). It yields a :class:`ServedZoomSandbox`:

* ``.sandbox`` — the emulator (add users, inject faults, move the clock, read ``requests`` …);
* ``.url`` — where it is served, no trailing slash (``sandbox.base_url`` is set to it): both the
  OAuth base (``{url}/oauth/token``) and the API base (``{url}/v2/...``);
* ``.access_token``, ``.refresh_token`` — Ada's tokens; ``.user_id`` — her Zoom user id;
* ``.client(token=None)`` — an ``httpx.Client`` on ``.url`` sending that bearer token;
* ``.running`` — the server (:class:`~calmesh.sandbox.serving.RunningApp`).

Webhook deliveries are retried quickly here (``webhook_retry_delays`` of a few milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from calmesh.sandbox.zoom import ZoomSandbox
from tests.sandbox.helpers import ServedEmulator, served

__all__ = ["ADA", "ServedZoomSandbox", "zoom_sandbox"]

ADA = "ada@example.com"


@dataclass
class ServedZoomSandbox(ServedEmulator[ZoomSandbox]):
    user_id: str
    refresh_token: str


@pytest.fixture
def zoom_sandbox() -> Iterator[ServedZoomSandbox]:
    """A fresh Zoom emulator served on loopback, with the user ada@example.com."""
    with served(ZoomSandbox()) as (sandbox, running):
        sandbox.webhook_retry_delays = (0.01, 0.02, 0.05)
        user_id = sandbox.add_user(ADA, first_name="Ada", last_name="Lovelace")
        tokens = sandbox.issue_tokens(ADA)
        access_token, refresh_token = str(tokens["access_token"]), str(tokens["refresh_token"])
        yield ServedZoomSandbox(sandbox, running.url, access_token, running, user_id, refresh_token)
