"""Demo data for the Zoom emulator: the same two people as the Google demo, one meeting.

* ``ada@example.com`` — Ada Lovelace, Europe/London, the account owner; no passcode requirement;
  one scheduled meeting ("Analytical Engine review", tomorrow 10:00 London time).
* ``grace@example.com`` — Grace Hopper, America/New_York; uses her PMI for scheduled meetings and
  needs passcodes of at least 8 characters with a letter and a number.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from calmesh.sandbox.zoom.app import ZoomSandbox

__all__ = ["seed_demo"]


def seed_demo(sandbox: ZoomSandbox) -> None:
    """Add the demo users and a meeting (on an empty sandbox)."""
    sandbox.add_user("ada@example.com", first_name="Ada", last_name="Lovelace", timezone="Europe/London")
    sandbox.add_user(
        "grace@example.com",
        first_name="Grace",
        last_name="Hopper",
        timezone="America/New_York",
        use_pmi_for_scheduled_meetings=True,
        password_requirement={"length": 8, "have_letter": True, "have_number": True},
    )
    tomorrow = (sandbox.clock + timedelta(days=1)).date()
    sandbox.create_meeting_in_zoom(
        "ada@example.com",
        {
            "topic": "Analytical Engine review",
            "type": 2,
            "start_time": f"{tomorrow.isoformat()}T10:00:00",
            "timezone": "Europe/London",
            "duration": 45,
            "settings": {"join_before_host": True, "waiting_room": False},
        },
    )
