"""Fixtures the Google and Zoom emulator tests share."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """A plain HTTP client, as a browser would be: no base URL, no credentials, redirects not followed."""
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield client
