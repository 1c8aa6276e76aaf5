"""How to join a meeting, from the properties calendar producers put it in.

In order of preference:

1. ``CONFERENCE`` (RFC 7986 §5.11): the first one whose FEATURE includes VIDEO, else the first
   http(s) one, is the join URL; ``tel:`` ones are dial-ins;
2. Google's ``X-GOOGLE-CONFERENCE`` (a Meet URL);
3. Microsoft's ``X-MICROSOFT-SKYPETEAMSMEETINGURL`` (Teams), then
   ``X-MICROSOFT-ONLINEMEETINGEXTERNALLINK`` / ``X-MICROSOFT-ONLINEMEETINGCONFLINK`` (Skype for
   Business; only http(s) values are usable, ``conf:sip:`` ones are not a join URL).

The service is named when the join URL's host makes it obvious, with the names calmesh's event
types use (``GOOGLE_MEET``, ``TEAMS``, ``ZOOM``, ``WEBEX``…): :func:`service_for_url` is
:func:`calmesh.conferencing.service_for_url`, which owns that knowledge (re-exported here for the
providers that import it from this module).
"""

from __future__ import annotations

from calmesh.conferencing.detection import service_for_url
from calmesh.domain.events import ConferenceData
from calmesh.ical._components import RawComponent

__all__ = ["read_conference", "service_for_url"]

_VENDOR_PROPERTIES = (
    "X-GOOGLE-CONFERENCE",
    "X-MICROSOFT-SKYPETEAMSMEETINGURL",
    "X-MICROSOFT-ONLINEMEETINGEXTERNALLINK",
    "X-MICROSOFT-ONLINEMEETINGCONFLINK",
)


def _is_web(url: str) -> bool:
    return url.lower().startswith(("https://", "http://"))


def read_conference(event: RawComponent) -> ConferenceData | None:
    """The conference details of a VEVENT, or None if it names none."""
    dial_ins: list[str] = []
    video: list[str] = []
    web: list[str] = []
    for prop in event.all("CONFERENCE"):
        uri = prop.value.strip()
        features = {f.strip().upper() for f in prop.params.get("FEATURE", "").split(",")}
        if uri.lower().startswith("tel:"):
            dial_ins.append(uri)
        elif _is_web(uri):
            (video if "VIDEO" in features else web).append(uri)
    join_url = next(iter(video + web), None)
    if join_url is None:
        vendor = (event.first(name) for name in _VENDOR_PROPERTIES)
        join_url = next((p.value.strip() for p in vendor if p and _is_web(p.value.strip())), None)
    if join_url is None and not dial_ins:
        return None
    service = service_for_url(join_url) if join_url else None
    return ConferenceData(service=service, join_url=join_url, dial_ins=tuple(dial_ins))
