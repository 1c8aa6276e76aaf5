"""Conferencing: which service an event's meeting uses and how to join it (PRODUCT.md M1, M6).

The package owns calmesh's knowledge of conferencing URLs — Zoom (vanity and government
domains, ``zoommtg:`` links), Google Meet, Microsoft Teams, Webex, Whereby, Around, BlueJeans,
Doxy.me, Skype, GoTo Meeting, Jitsi, Amazon Chime, Slack huddles and more — and join-link
detection in an event's conference field, location and description
(:mod:`calmesh.conferencing.detection`). It is pure: no database, HTTP or web framework.

It also makes one-time meeting passcodes that a Zoom account's passcode rules accept
(:mod:`calmesh.conferencing.passcodes`), and writes a meeting's join instructions into an
event's description (:mod:`calmesh.conferencing.invitation`).
"""

from calmesh.conferencing.invitation import join_instructions
from calmesh.conferencing.detection import (
    CUSTOM,
    NO_CONFERENCE,
    NO_CONFERENCE_MESSAGE,
    PHONE,
    SERVICE_NAMES,
    ConferenceSource,
    DetectedConference,
    JoinLink,
    detect_conference,
    find_join_links,
    identify_join_link,
    plain_text,
    service_for_url,
    unwrap_url,
    with_google_account,
)
from calmesh.conferencing.passcodes import generate_passcode

__all__ = [
    "CUSTOM",
    "NO_CONFERENCE",
    "NO_CONFERENCE_MESSAGE",
    "PHONE",
    "SERVICE_NAMES",
    "ConferenceSource",
    "DetectedConference",
    "JoinLink",
    "detect_conference",
    "find_join_links",
    "generate_passcode",
    "identify_join_link",
    "join_instructions",
    "plain_text",
    "service_for_url",
    "unwrap_url",
    "with_google_account",
]
