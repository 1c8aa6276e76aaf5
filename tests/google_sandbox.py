"""The Google emulator as a pytest fixture: ``google_sandbox``, served over loopback.

Register with ``pytest_plugins = ["tests.google_sandbox"]`` (root ``tests/conftest.py``). Each
test using ``google_sandbox`` gets a fresh :class:`~calmesh.sandbox.google.GoogleSandbox` served
by uvicorn in a thread, with one user ``ada@example.com`` (Ada Lovelace, primary calendar
``ada@example.com``) and an access token for her with the full calendar scope. It yields a
:class:`ServedGoogleSandbox`:

* ``.sandbox`` — the emulator (add users, inject faults, read ``requests`` …);
* ``.url`` — where it is served, no trailing slash (``sandbox.base_url`` is set to it);
* ``.access_token`` — Ada's bearer token;
* ``.client(token=None)`` — an ``httpx.Client`` on ``.url`` sending that bearer token;
* ``.running`` — the server (:class:`~calmesh.sandbox.serving.RunningApp`).

Push notifications are retried quickly here (``push_retry_delays`` of a few milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calmesh.sandbox.google import GoogleSandbox
from tests.sandbox.helpers import ServedEmulator, served

__all__ = ["ADA", "ServedGoogleSandbox", "google_sandbox"]

ADA = "ada@example.com"

ServedGoogleSandbox = ServedEmulator[GoogleSandbox]


@pytest.fixture
def google_sandbox() -> Iterator[ServedGoogleSandbox]:
    """A fresh Google emulator served on loopback, with the user ada@example.com."""
    with served(GoogleSandbox()) as (sandbox, running):
        sandbox.push_retry_delays = (0.01, 0.02, 0.05)
        sandbox.add_user(ADA, "Ada Lovelace")
        yield ServedGoogleSandbox(sandbox, running.url, str(sandbox.issue_tokens(ADA)["access_token"]), running)
