"""Google Meet conferences on events: ``conferenceData`` as Calendar API v3 handles it (protocols.md §1.4).

* Without ``conferenceDataVersion=1`` a request's ``conferenceData`` is ignored, and an update
  (PATCH/PUT) drops the conference the event had — protocols.md: "Every later PATCH/PUT must
  also pass conferenceDataVersion=1, or the conference data will not be kept."
* With it, ``createRequest`` of type ``hangoutsMeet`` creates a conference; other types are
  refused (400 invalid). A ``createRequest`` whose ``requestId`` is the one the event's
  conference came from is ignored, so a client may send back what it read.
* Any other ``conferenceData`` (a copy of an existing conference) is kept as given.

Creation is asynchronous at Google: :func:`resolve` answers ``pending`` when the sandbox's
``meet_pending_reads`` is above zero, and the store completes it later with :func:`completed`
(``success``, or ``failure`` with ``meet_fails``).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any, Literal

from calmesh.sandbox.google.errors import GoogleApiError

__all__ = ["MeetOutcome", "PendingMeet", "completed", "hangout_link", "resolve"]

MEET_ICON = "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png"

Mode = Literal["insert", "patch", "update"]


@dataclass
class PendingMeet:
    """A conference still being created: ``reads_left`` more reads see it pending."""

    reads_left: int
    fails: bool


@dataclass(frozen=True)
class MeetOutcome:
    """The event's ``conferenceData`` after a write (None: no conference), and whether it is pending."""

    conference: dict[str, Any] | None
    pending: PendingMeet | None = None


def resolve(
    previous: dict[str, Any] | None,
    body: dict[str, Any],
    *,
    version: int,
    mode: Mode,
    pending_reads: int,
    fails: bool,
) -> MeetOutcome:
    """What the event's conference becomes after a write carrying ``body``."""
    if version < 1:
        return MeetOutcome(None)
    if "conferenceData" not in body:
        # PATCH leaves what it does not name; PUT replaces the whole event.
        return MeetOutcome(previous if mode == "patch" else None)
    given = body["conferenceData"]
    if given is None:
        return MeetOutcome(None)
    if not isinstance(given, dict):
        raise GoogleApiError(400, "invalid", "Invalid conference data.")
    request = given.get("createRequest")
    if isinstance(request, dict):
        previous_request = (previous or {}).get("createRequest") or {}
        if previous is not None and request.get("requestId") and request.get("requestId") == previous_request.get("requestId"):
            return MeetOutcome(previous)
        key = request.get("conferenceSolutionKey") or {}
        kind = key.get("type") if isinstance(key, dict) else None
        if kind != "hangoutsMeet":
            raise GoogleApiError(400, "invalid", "Invalid conference type value.")
        request_id = request.get("requestId")
        if not isinstance(request_id, str) or not request_id:
            raise GoogleApiError(400, "invalid", "Invalid conference create request.")
        if pending_reads > 0:
            conference = {
                "createRequest": {
                    "requestId": request_id,
                    "conferenceSolutionKey": {"type": "hangoutsMeet"},
                    "status": {"statusCode": "pending"},
                }
            }
            return MeetOutcome(conference, PendingMeet(pending_reads, fails))
        return MeetOutcome(completed(request_id, fails=fails))
    if given.get("conferenceSolution") and given.get("entryPoints"):
        return MeetOutcome(given)
    raise GoogleApiError(400, "invalid", "Invalid conference data.")


def completed(request_id: str, *, fails: bool) -> dict[str, Any]:
    """The conference data of a finished create request."""
    request = {"requestId": request_id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}
    if fails:
        return {"createRequest": {**request, "status": {"statusCode": "failure"}}}
    code = "-".join("".join(secrets.choice(string.ascii_lowercase) for _ in range(n)) for n in (3, 4, 3))
    pin = "".join(secrets.choice(string.digits) for _ in range(9))
    number = "".join(secrets.choice(string.digits) for _ in range(4))
    return {
        "createRequest": {**request, "status": {"statusCode": "success"}},
        "entryPoints": [
            {"entryPointType": "video", "uri": f"https://meet.google.com/{code}", "label": f"meet.google.com/{code}"},
            {
                "entryPointType": "phone",
                "uri": f"tel:+1-402-555-{number}",
                "label": f"+1 402-555-{number}",
                "pin": pin,
                "regionCode": "US",
            },
            {"entryPointType": "more", "uri": f"https://tel.meet/{code}?pin={pin}", "pin": pin},
        ],
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet", "iconUri": MEET_ICON},
        "conferenceId": code,
    }


def hangout_link(conference: dict[str, Any] | None) -> str | None:
    """The legacy ``hangoutLink``: the video entry point of a Meet conference."""
    if not conference:
        return None
    solution = conference.get("conferenceSolution") or {}
    if (solution.get("key") or {}).get("type") != "hangoutsMeet":
        return None
    for entry in conference.get("entryPoints") or ():
        if isinstance(entry, dict) and entry.get("entryPointType") == "video" and isinstance(entry.get("uri"), str):
            return str(entry["uri"])
    return None
