"""How a meeting link is written into a calendar event, so that every calendar and every
invitee's client shows it: a short block of text for the description (what Zoom's and Google's
own invitations do), read back by :func:`calmesh.conferencing.detect_conference`."""

from __future__ import annotations

from collections.abc import Sequence

from calmesh.conferencing.detection import SERVICE_NAMES

__all__ = ["join_instructions"]


def join_instructions(
    service: str | None, join_url: str, *, meeting_id: str | None = None, passcode: str | None = None,
    dial_ins: Sequence[str] = (),
) -> str:
    """``Join Zoom meeting: URL`` with the meeting id, passcode and dial-ins that go with it."""
    name = SERVICE_NAMES.get(service or "") if service != "CUSTOM" else None
    lines = [f"Join {name} meeting: {join_url}" if name else f"Join the meeting: {join_url}"]
    if meeting_id:
        lines.append(f"Meeting ID: {meeting_id}")
    if passcode:
        lines.append(f"Passcode: {passcode}")
    lines.extend(f"Dial in: {number}" for number in dial_ins)
    return "\n".join(lines)
