"""What the Google and Zoom emulator tests share: serving an emulator, waiting, and a person at a consent page.

* :func:`served` serves an emulator on loopback for a ``with`` block (its ``base_url`` pointed
  there), then stops it and its notification thread; :class:`ServedEmulator` is what a fixture
  yields of it (with Ada's token, and ``client(token=None)``).
* :func:`wait_for` polls until a background delivery (push, webhook) has happened.
* :func:`pkce` makes a verifier and its S256 challenge; :func:`consent` opens a consent page,
  picks an account and allows; :func:`redirect_query` reads a redirect's query;
  :func:`check_deny_and_query_string_choice` checks what both consent pages answer alike.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from calmesh.sandbox._common import Emulator
from calmesh.sandbox.serving import RunningApp

__all__ = ["ServedEmulator", "check_deny_and_query_string_choice", "consent", "pkce", "redirect_query", "served", "wait_for"]

E = TypeVar("E", bound="Emulator[Any]")


@contextmanager
def served(emulator: E) -> Iterator[tuple[E, RunningApp]]:
    """``emulator`` served on a free loopback port for the block; then stopped, its sender thread too."""
    running = emulator.serve()
    try:
        yield emulator, running
    finally:
        running.stop()
        emulator.close()


@dataclass
class ServedEmulator(Generic[E]):
    """An emulator a fixture serves, with an access token of its user Ada."""

    sandbox: E
    #: Where it is served, no trailing slash (its ``base_url`` too).
    url: str
    access_token: str
    running: RunningApp

    def client(self, token: str | None = None) -> httpx.Client:
        """A client of the emulator sending ``token`` (default: Ada's) as the bearer token."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token or self.access_token}"}, timeout=30, trust_env=False
        )


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``condition()`` came true within ``timeout`` seconds (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def pkce() -> tuple[str, str]:
    """A PKCE ``code_verifier`` and its ``S256`` challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def redirect_query(answer: httpx.Response) -> dict[str, str]:
    """The query parameters of a redirect's ``Location``."""
    return dict(parse_qsl(urlsplit(answer.headers["location"]).query))


def consent(
    browser: httpx.Client, page_url: str, params: dict[str, str], user: str, *, page_says: str, redirect: str
) -> dict[str, str]:
    """What a person does: open the page, pick the account, allow; returns the redirect's query.

    The page must contain ``page_says``; the answer must go back to ``redirect``. The page's
    forms post to ``{page_url}/consent``.
    """
    page = browser.get(page_url, params=params)
    assert page.status_code == 200 and page_says in page.text, page.text
    answer = browser.post(f"{page_url}/consent", data=params | {"user": user, "decision": "allow"})
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    return dict(parse_qsl(location.query))


def check_deny_and_query_string_choice(browser: httpx.Client, page_url: str, params: dict[str, str], user: str) -> str:
    """Deny goes back with ``access_denied`` and the state; allowing works with the parameters left in the query string.

    Returns the code ``user`` got that way.
    """
    denied = browser.post(f"{page_url}/consent", data=params | {"decision": "deny"})
    assert denied.status_code == 302
    assert redirect_query(denied) == {"error": "access_denied", "state": params["state"]}
    # The parameters may also stay in the query string, with only the choice in the form.
    chosen = browser.post(f"{page_url}/consent?{urlencode(params)}", data={"user": user, "decision": "allow"})
    assert chosen.status_code == 302 and "code=" in chosen.headers["location"]
    return redirect_query(chosen)["code"]
