"""Join-link detection (PRODUCT.md M6): which conferencing service an event uses, and how to join.

calmesh's one owner of "which service is this URL" knowledge. Pure: strings in, values out.

Public API
----------
* :func:`detect_conference` — an event's conference field, location and description in, one
  :class:`DetectedConference` out: ``service`` (``"none"`` when nothing was recognised: "not a
  Zoom meeting"), ``join_url``, ``meeting_id``, ``passcode``, ``dial_ins`` and where it was found.
* :func:`identify_join_link` — one URL: a :class:`JoinLink` when it joins a meeting of a known
  service (``https://zoom.us/j/85012345678`` yes, ``https://zoom.us/pricing`` no).
* :func:`service_for_url` — the service a conference's own join URL belongs to, by its host.
* :func:`find_join_links`, :func:`plain_text`, :func:`unwrap_url`, :func:`with_google_account`:
  the steps, for callers that need one of them.

Precedence
----------
1. **description** — its first join link wins, even over the conference field (Notion Calendar:
   "If an event contains conferencing links in both its description and conferencing field,
   you'll be taken to the link from the event's description"; a calendar adds its own Meet or
   Teams automatically, a person pastes the link they mean);
2. **location** — when the description has none, for the same reason (Zoom for Outlook and
   many schedulers put the link there);
3. **conference** — the calendar's conference field (RFC 7986 ``CONFERENCE``, Google
   ``conferenceData``, Graph ``onlineMeeting``), whose URL is a join URL by definition even
   when calmesh does not know its service (``CUSTOM``), and which may hold only dial-ins
   (``PHONE``) or only a service whose link is still being made (a pending Meet).

Free text is searched for links of *known* services only, and only for their meeting-shaped
paths, so marketing pages, help links ("Learn more", "Meeting options", "Download Zoom"), email
signatures and ``mailto:`` links never count. When the winner is the same meeting as the
conference field's, that field fills in what the text lacks (meeting id, passcode, dial-ins).

Text handling
-------------
Invitation bodies arrive as plain text or HTML, up to hundreds of kilobytes. HTML is reduced to
text by a single forward scan (:func:`plain_text`) that keeps every ``<a href>`` target inline;
``html.parser`` is not used because CPython's parser rescans its buffer on malformed input
(``"<a " * 30000`` takes ~45 s on 3.11). The regular expressions here use single character
classes and bounded repetitions; the one nested repetition (a host's dot-separated labels)
cannot overlap itself and starts only at a word's beginning, so all of it stays linear. Wrapped links are unwrapped: Outlook safe links
(``*.safelinks.protection.outlook.com/?url=``), Google redirects (``google.com/url?q=``),
Proofpoint URL Defense (v2, and v3 when the URL is not re-encoded).

Numeric meeting ids are digits only (``"850 1234 5678"`` -> ``"85012345678"``); for Meet the meeting id
is the code (``abc-defg-hij``) and the passcode is the phone PIN. A Zoom link's ``pwd=`` counts
as the passcode only when it is one a person could type (at most 10 characters, Zoom's limit);
the 32-character token most links carry is not one. Dial-ins found in text are ``tel:`` URIs
without visual separators, their access code after ``,,`` when the invitation gives one
(``tel:+16469313860,,85012345678#,,,,*123456#``); a number counts only with such a code or inside
a dial-in block ("Dial by your location", "Join by phone", "Or call in (audio only)"), so a
signature's phone number is never a dial-in. The conference field's dial-ins are kept as given.

A Meet link opens with the right Google account when ``account_email`` is given: the join URL
gets ``authuser=<email>`` (Google's account chooser parameter), replacing any ``authuser`` it had.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

from calmesh.domain.events import ConferenceData

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
    "identify_join_link",
    "plain_text",
    "service_for_url",
    "unwrap_url",
    "with_google_account",
]

#: ``service`` of a :class:`DetectedConference` when the event has no recognised conference.
NO_CONFERENCE = "none"
#: A link from the conference field whose service calmesh does not recognise.
CUSTOM = "CUSTOM"
#: A conference field with dial-ins only.
PHONE = "PHONE"
#: What to tell a person about an event with no conference (Zoom's words, seed 003).
NO_CONFERENCE_MESSAGE = (
    "Not a Zoom meeting: no join link of Zoom or any other recognised service was found in the "
    "event's conference field, location or description."
)

#: Every service :func:`detect_conference` can name, with the name to show a person.
SERVICE_NAMES: Mapping[str, str] = {
    "GOOGLE_MEET": "Google Meet",
    "TEAMS": "Microsoft Teams",
    "ZOOM": "Zoom",
    "WEBEX": "Webex",
    "WHEREBY": "Whereby",
    "AROUND": "Around",
    "BLUEJEANS": "BlueJeans",
    "DOXY_ME": "Doxy.me",
    "SKYPE": "Skype",
    "GOTO_MEETING": "GoTo Meeting",
    "JITSI": "Jitsi Meet",
    "CHIME": "Amazon Chime",
    "SLACK_HUDDLE": "Slack huddle",
    "DISCORD": "Discord",
    "RINGCENTRAL": "RingCentral",
    "VONAGE": "Vonage Meetings",
    "LIFESIZE": "Lifesize",
    "FACETIME": "FaceTime",
    "GATHER": "Gather",
    CUSTOM: "Custom link",
    PHONE: "Phone",
}

ConferenceSource = Literal["description", "location", "conference"]

# Bounds that keep hostile input cheap: a description is searched for this many links at most,
# and yields at most this many dial-ins.
_MAX_LINKS = 1000
_MAX_DIAL_INS = 50
# Zoom passcodes are at most 10 characters; longer pwd= values are hashed tokens.
_ZOOM_PASSCODE_MAX = 10


# --- values ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinLink:
    """A URL that joins a meeting of a known service, with what the URL itself tells."""

    #: ``ZOOM``, ``GOOGLE_MEET``, ``TEAMS``… (a key of :data:`SERVICE_NAMES`).
    service: str
    #: The link itself, unwrapped from safe-link and redirect wrappers.
    url: str
    meeting_id: str | None = None
    passcode: str | None = None


@dataclass(frozen=True, slots=True)
class DetectedConference:
    """The conference an event uses, or ``service == "none"`` (and nothing else) when none."""

    #: A key of :data:`SERVICE_NAMES`, a conference field's own service name, or ``"none"``.
    service: str = NO_CONFERENCE
    #: None only for a pending conference or a phone-only one.
    join_url: str | None = None
    #: Digits for numeric ids (``"85012345678"``); Meet's code (``"abc-defg-hij"``).
    meeting_id: str | None = None
    #: What a participant types or the link embeds; for Meet, the phone PIN.
    passcode: str | None = None
    #: ``tel:`` URIs, an access code after ``,,`` when known.
    dial_ins: tuple[str, ...] = ()
    #: Where the winning link (or the conference) was found; None when none.
    source: ConferenceSource | None = None

    @property
    def found(self) -> bool:
        return self.service != NO_CONFERENCE

    @property
    def service_name(self) -> str | None:
        """The service's name for people (``"Google Meet"``); the raw name for unknown ones."""
        if not self.found:
            return None
        return SERVICE_NAMES.get(self.service, self.service)

    def conference_data(self) -> ConferenceData | None:
        """As the domain's :class:`ConferenceData`, or None when there is no conference."""
        if not self.found:
            return None
        return ConferenceData(self.service, self.join_url, self.meeting_id, self.passcode, self.dial_ins)


_NOTHING = DetectedConference()


# --- unwrapping -----------------------------------------------------------------------------


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _query(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=True)


def _first(query: Mapping[str, list[str]], *names: str) -> str | None:
    lowered = {k.lower(): v for k, v in query.items()}
    for name in names:
        values = lowered.get(name.lower())
        if values and values[0]:
            return values[0]
    return None


def _unwrap_once(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:  # an invalid IPv6 literal or port
        return None
    inner: str | None = None
    if host.endswith((".safelinks.protection.outlook.com", ".safelinks.protection.office365.us")):
        inner = _first(_query(parts.query), "url")
    elif host in ("www.google.com", "google.com") and parts.path == "/url":
        inner = _first(_query(parts.query), "q", "url")
    elif host == "urldefense.proofpoint.com" and parts.path.startswith("/v2/url"):
        encoded = _first(_query(parts.query), "u")
        inner = unquote(encoded.replace("-", "%").replace("_", "/")) if encoded else None
    elif host == "urldefense.com" and parts.path.startswith("/v3/__"):
        # "/v3/__<url>__;<encoded replacements>!!…"; a "*" marks a character moved into the
        # suffix, which this does not rebuild: such a link stays wrapped.
        body = url.split("/v3/__", 1)[1]
        candidate = body.split("__;", 1)[0]
        inner = candidate if "*" not in candidate else None
    if inner and _SCHEME.match(inner):
        return inner
    return None


def unwrap_url(url: str) -> str:
    """``url`` without Outlook safe-link, Google redirect and Proofpoint wrappers (nested too)."""
    for _ in range(5):  # wrappers nest (a safe link around a Google redirect), never deeply
        inner = _unwrap_once(url)
        if inner is None:
            return url
        url = inner
    return url


# --- URL knowledge: one rule per service ----------------------------------------------------

_Ids = tuple[str | None, str | None]  # (meeting id, passcode) a URL carries


@dataclass(frozen=True, slots=True)
class _Parts:
    scheme: str
    host: str
    path: str
    query: dict[str, list[str]]
    fragment: str


@dataclass(frozen=True, slots=True)
class _Rule:
    service: str
    #: Registrable domains (a host is under one when equal or a subdomain).
    domains: tuple[str, ...]
    #: (meeting id, passcode) when the URL joins a meeting, else None.
    join: Callable[[_Parts], _Ids | None]
    #: Whether any URL of these domains names the service when it is a conference's own join
    #: URL; False where the domains host much more than meetings (Slack, Discord).
    host_names_service: bool = True
    #: URL schemes of the service's apps (``zoommtg:``), matched without a host.
    schemes: tuple[str, ...] = ()


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _zoom(p: _Parts) -> _Ids | None:
    passcode = _first(p.query, "pwd")
    if passcode is not None and len(passcode) > _ZOOM_PASSCODE_MAX:
        passcode = None
    if p.scheme in ("zoommtg", "zoomus"):
        confno = _first(p.query, "confno")
        return (_digits(confno) or None, passcode) if confno else None
    match = _ZOOM_PATH.match(p.path)
    if match:
        return (match.group("id"), passcode)
    if _ZOOM_NAMED_PATH.match(p.path):
        return (None, passcode)
    confno = _first(p.query, "confno")
    if p.path.rstrip("/") in ("/join", "/wc/join") and confno:
        return (_digits(confno) or None, passcode)
    return None


_ZOOM_PATH = re.compile(r"/(?:j|s|w|wc/join|wc)/(?P<id>\d+)(?:/|$)")
# Personal links (/my/grace) and registration pages of meetings and webinars.
_ZOOM_NAMED_PATH = re.compile(r"/(?:my/[\w.\-]+|meeting/register/[\w\-]+|webinar/register/[\w\-]+)/?$")
_MEET_CODE = re.compile(r"/([a-z]{3}-[a-z]{4}-[a-z]{3})/?$", re.IGNORECASE)


def _meet(p: _Parts) -> _Ids | None:
    if p.host == "g.co":
        return (None, None) if p.path.lower().startswith("/meet/") and len(p.path) > 6 else None
    match = _MEET_CODE.match(p.path)
    if match:
        return (match.group(1).lower(), None)
    if p.path.startswith("/lookup/") and len(p.path) > 8:
        return (None, None)
    return None


def _teams(p: _Parts) -> _Ids | None:
    path = p.path.lower()
    # Classic links (/l/meetup-join/…), the new web client's (/v2/?meetingjoin=true#/l/meetup-join/…).
    if path.startswith("/l/meetup-join/") or "/l/meetup-join/" in p.fragment.lower():
        return (None, None)
    meet = re.match(r"/meet/(\d+)/?$", p.path)
    if meet:
        return (meet.group(1), _first(p.query, "p"))
    if path.startswith("/dl/launcher/") and "meetup-join" in (_first(p.query, "url") or "").lower():
        return (None, None)
    return None


_WEBEX_PATH = re.compile(
    r"/(?:[\w.\-]+/(?:j|e|m|k2/j)\.php"
    r"|meet/[\w.@\-]+|join/[\w.@\-]+|[\w.\-]+/meet/[\w.@\-]+"
    r"|(?:wbxmjs/joinservice|webappng)/sites/[\w.\-]+/meeting/download/\w+)/?$",
    re.IGNORECASE,
)


def _webex(p: _Parts) -> _Ids | None:
    if not _WEBEX_PATH.match(p.path):
        return None
    if p.path.lower().endswith(".php") and not _first(p.query, "MTID"):
        return None
    return (None, None)


def _single_room(denied: frozenset[str]) -> Callable[[_Parts], _Ids | None]:
    """Services whose rooms are ``https://<service>/<room>``, beside their own site's pages."""

    def join(p: _Parts) -> _Ids | None:
        parts = _segments(p.path)
        if len(parts) == 1 and parts[0].lower() not in denied and re.fullmatch(r"[\w.\-]+", parts[0]):
            return (None, None)
        return None

    return join


_SITE_PAGES = frozenset({
    "about", "blog", "business", "careers", "contact", "download", "en", "enterprise", "es", "features",
    "help", "information", "login", "org", "pricing", "privacy", "product", "resources", "security",
    "sign-in", "sign-up", "signin", "signup", "solutions", "support", "terms", "user", "install", "app",
    "static", "libs", "external_api.js", "http-bind", "favicon.ico", "robots.txt",
})


def _around(p: _Parts) -> _Ids | None:
    return (None, None) if re.fullmatch(r"/r/[\w\-]+/?", p.path) else None


def _bluejeans(p: _Parts) -> _Ids | None:
    parts = _segments(p.path)
    if p.host == "bjn.vc":
        return (None, None) if len(parts) == 1 else None
    if parts and parts[0].isdigit() and len(parts[0]) >= 6:
        passcode = parts[1] if len(parts) > 1 and parts[1].isdigit() else None
        return (parts[0], passcode)
    return None


def _skype(p: _Parts) -> _Ids | None:
    parts = _segments(p.path)
    if p.host == "join.skype.com":
        return (None, None) if len(parts) == 1 and parts[0] not in _SITE_PAGES else None
    if p.host.startswith("meet.") and len(parts) == 3:  # meet.lync.com/<org>/<user>/<conference id>
        return (parts[2], None)
    return None


def _goto(p: _Parts) -> _Ids | None:
    parts = _segments(p.path)
    if p.host == "gotomeet.me":
        return (None, None) if len(parts) == 1 else None
    if len(parts) == 2 and parts[0].lower() in ("join", "meeting") and parts[1].isdigit():
        return (parts[1], None)  # global.gotomeeting.com/join/…, app.goto.com/meeting/…
    if p.host == "meet.goto.com" and len(parts) == 1 and parts[0].lower() not in _SITE_PAGES:
        return (parts[0] if parts[0].isdigit() else None, None)
    return None


def _jitsi(p: _Parts) -> _Ids | None:
    parts = _segments(p.path)
    if not parts or parts[0].lower() in _SITE_PAGES or len(parts) > 2:
        return None
    if p.host != "8x8.vc" and len(parts) != 1:
        return None
    return (None, None)


def _chime(p: _Parts) -> _Ids | None:
    digits = re.fullmatch(r"/(\d{10})/?", p.path)
    if digits:
        return (digits.group(1), None)
    if p.path.rstrip("/") == "/meetings":
        pin = _first(p.query, "pin")
        return (_digits(pin) or None, None) if pin else None
    return None


def _slack(p: _Parts) -> _Ids | None:
    return (None, None) if p.host == "app.slack.com" and p.path.startswith("/huddle/") else None


def _discord(p: _Parts) -> _Ids | None:
    parts = _segments(p.path)
    if p.host == "discord.gg":
        return (None, None) if len(parts) == 1 else None
    if len(parts) >= 2 and parts[0] in ("invite", "channels", "events"):
        return (None, None)
    return None


def _ringcentral(p: _Parts) -> _Ids | None:
    match = re.fullmatch(r"/(?:j|join)/(\d+)/?", p.path)
    return (match.group(1), _first(p.query, "pwd")) if match else None


def _numbered(p: _Parts) -> _Ids | None:
    match = re.fullmatch(r"/(\d{5,})/?", p.path)
    return (match.group(1), None) if match else None


def _facetime(p: _Parts) -> _Ids | None:
    return (None, None) if p.path.rstrip("/") == "/join" and p.fragment else None


def _gather(p: _Parts) -> _Ids | None:
    return (None, None) if p.host == "app.gather.town" and p.path.startswith("/app/") else None


_RULES: tuple[_Rule, ...] = (
    _Rule("ZOOM", ("zoom.us", "zoom.com", "zoomgov.com"), _zoom, schemes=("zoommtg", "zoomus")),
    _Rule("GOOGLE_MEET", ("meet.google.com",), _meet),
    _Rule("GOOGLE_MEET", ("g.co",), _meet, host_names_service=False),
    _Rule("TEAMS", ("teams.microsoft.com", "teams.live.com", "teams.microsoft.us"), _teams, schemes=("msteams",)),
    _Rule("WEBEX", ("webex.com",), _webex),
    _Rule("WHEREBY", ("whereby.com", "appear.in"), _single_room(_SITE_PAGES)),
    _Rule("AROUND", ("around.co",), _around),
    _Rule("BLUEJEANS", ("bluejeans.com", "bjn.vc"), _bluejeans),
    _Rule("DOXY_ME", ("doxy.me",), _single_room(_SITE_PAGES)),
    _Rule("SKYPE", ("join.skype.com", "lync.com"), _skype),
    _Rule("GOTO_MEETING", ("gotomeeting.com", "goto.com", "gotomeet.me"), _goto),
    _Rule("JITSI", ("meet.jit.si", "8x8.vc"), _jitsi),
    _Rule("CHIME", ("chime.aws",), _chime),
    _Rule("SLACK_HUDDLE", ("slack.com",), _slack, host_names_service=False),
    _Rule("DISCORD", ("discord.gg", "discord.com"), _discord, host_names_service=False),
    _Rule("RINGCENTRAL", ("meetings.ringcentral.com", "v.ringcentral.com", "video.ringcentral.com"), _ringcentral),
    _Rule("VONAGE", ("meetings.vonage.com",), _numbered),
    _Rule("LIFESIZE", ("call.lifesizecloud.com",), _numbered),
    _Rule("FACETIME", ("facetime.apple.com",), _facetime),
    _Rule("GATHER", ("gather.town",), _gather, host_names_service=False),
)

_SCHEME = re.compile(r"(?:https?://|zoommtg://|zoomus://|msteams:/)", re.IGNORECASE)


def _parts(url: str) -> _Parts | None:
    try:
        split = urlsplit(url)
        host = (split.hostname or "").lower().rstrip(".")
    except ValueError:  # an invalid IPv6 literal or port
        return None
    return _Parts(split.scheme.lower(), host, split.path or "/", _query(split.query), split.fragment)


def _rule_for(parts: _Parts) -> _Rule | None:
    for rule in _RULES:
        if parts.scheme in rule.schemes or any(_under(parts.host, d) for d in rule.domains):
            return rule
    # Self-hosted Jitsi Meet conventionally lives at jitsi.<domain> or meet.jitsi.<domain>.
    if parts.scheme in ("http", "https") and (parts.host.startswith("jitsi.") or ".jitsi." in parts.host):
        return _Rule("JITSI", (parts.host,), _jitsi)
    return None


def identify_join_link(url: str) -> JoinLink | None:
    """A :class:`JoinLink` when ``url`` (wrapped or not) joins a meeting of a known service."""
    url = unwrap_url(url.strip())
    parts = _parts(url)
    if parts is None:
        return None
    rule = _rule_for(parts)
    if rule is None:
        return None
    found = rule.join(parts)
    if found is None:
        return None
    meeting_id, passcode = found
    return JoinLink(rule.service, url, meeting_id, passcode)


def service_for_url(url: str) -> str | None:
    """The service of a conference's own join URL, by its host (and path where a host serves
    more than meetings), or None: ``https://acme.zoom.us/j/1`` and ``https://zoom.us/s/1`` are
    ``ZOOM``, ``https://example.com/room`` is None. For links in free text, where a host alone
    proves nothing, see :func:`identify_join_link`."""
    url = unwrap_url(url.strip())
    parts = _parts(url)
    if parts is None:
        return None
    rule = _rule_for(parts)
    if rule is None:
        return None
    if rule.host_names_service or rule.join(parts) is not None:
        return rule.service
    return None


def with_google_account(url: str, account_email: str) -> str:
    """``url`` opening with the Google account ``account_email`` (``authuser=``)."""
    split = urlsplit(url)
    kept = [p for p in split.query.split("&") if p and not p.lower().startswith("authuser=")]
    kept.append("authuser=" + quote(account_email.strip(), safe="@"))
    return urlunsplit(split._replace(query="&".join(kept)))


# --- text -----------------------------------------------------------------------------------

_LOOKS_LIKE_HTML = re.compile(
    r"<(?:!--|!doctype|/?(?:a|b|i|u|p|br|hr|em|li|ol|ul|td|th|tr|h[1-6]|div|span|font|html|body|head|"
    r"meta|style|table|tbody|strong|center|blockquote|img|o:p)\b)",
    re.IGNORECASE,
)
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9:\-]*)")
_HREF = re.compile(r"""\bhref\s{0,5}=\s{0,5}(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_LINE_BREAKING = frozenset({
    "address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table", "tbody", "thead", "tr", "ul",
})
_CELLS = frozenset({"td", "th"})
_SKIPPED = frozenset({"script", "style", "title"})
_CLOSING = {name: re.compile(f"</{name}", re.IGNORECASE) for name in _SKIPPED}
# Zero-width characters (Outlook breaks long URLs with them), bidi marks (Google wraps phone
# numbers and PINs in U+202A…U+202C), no-break spaces.
_INVISIBLE = str.maketrans(
    {ch: "" for ch in "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"}
    | {"\xa0": " ", "\u202f": " "}
)


def _strip_tags(text: str) -> str:
    """HTML to text in one forward pass: tags dropped (block tags become line breaks), the
    contents of script/style skipped, each link's href written before its text."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("<", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        if text.startswith("<!--", j):
            end = text.find("-->", j + 4)
            i = n if end < 0 else end + 3
            continue
        tag = _TAG_NAME.match(text, j)
        if tag is None:
            if text.startswith(("<!", "<?"), j):  # doctype, Word's <![if …]>, XML declarations
                end = text.find(">", j)
                i = n if end < 0 else end + 1
            else:
                out.append("<")
                i = j + 1
            continue
        end = text.find(">", tag.end())
        if end < 0:  # "<" and a letter, never closed: text, not a tag
            out.append(text[j:])
            break
        name = tag.group(1).lower()
        closing = text.startswith("</", j)
        i = end + 1
        if name in _SKIPPED and not closing:
            close = _CLOSING[name].search(text, i)
            i = n if close is None else close.start()
        elif name in _LINE_BREAKING:
            out.append("\n")
        elif name in _CELLS:
            out.append(" ")
        if name == "a" and not closing:
            href = _HREF.search(text, tag.end(), end)
            if href:
                target = href.group(1) or href.group(2) or href.group(3) or ""
                if target[:4].lower() == "tel:":  # Webex writes tel:%2B1-415-655-0001,,,2551…%23%23
                    target = unquote(target)
                out.append(" " + target + " ")
    return "".join(out)


def plain_text(text: str) -> str:
    """An invitation body (plain text or HTML) as plain text: entities decoded, links kept,
    invisible characters (zero-width spaces inside Outlook's URLs, no-break spaces) removed."""
    if _LOOKS_LIKE_HTML.search(text):
        text = _strip_tags(text)
    return html.unescape(text).translate(_INVISIBLE)


# A URL with a scheme, or a host of some depth followed by a path (meet.google.com/abc-defg-hij,
# as Google's plain-text invitations print it). The lookbehind keeps the second alternative from
# starting inside a word, an email address or another URL.
_URL_CHARS = r"[^\s<>\"'`{}|\\^\[\]]"
_LINK = re.compile(
    rf"(?P<url>\b(?:https?://|zoommtg://|zoomus://|msteams:/){_URL_CHARS}+)"
    rf"|(?<![\w.@/:%+\-])(?P<bare>(?:[a-z0-9\-]+\.)+[a-z]{{2,}}/{_URL_CHARS}*)",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?*'\""


def _trim(url: str) -> str:
    """Punctuation after a URL in prose is not part of it; a closing bracket is, when the URL
    opened it (Wikipedia-style paths)."""
    end = len(url)
    opened, closed = url.count("("), url.count(")")
    while end:
        last = url[end - 1]
        if last in _TRAILING:
            end -= 1
        elif last == ")" and opened < closed:
            end -= 1
            closed -= 1
        else:
            break
    return url[:end]


def _links(text: str) -> Iterator[str]:
    for count, match in enumerate(_LINK.finditer(text)):
        if count >= _MAX_LINKS:
            return
        url = match.group("url")
        yield _trim(url) if url else "https://" + _trim(match.group("bare"))


def find_join_links(text: str) -> list[JoinLink]:
    """The join links in plain text (see :func:`plain_text`), in order, without repeats."""
    found: list[JoinLink] = []
    seen: set[str] = set()
    for url in _links(text):
        link = identify_join_link(url)
        if link is not None and link.url not in seen:
            seen.add(link.url)
            found.append(link)
    return found


# --- meeting ids, passcodes, dial-ins in text -----------------------------------------------

_NUMBER = r"(\d(?:[\d \-]{0,30}\d)?)"
_ID_LABELS = (
    re.compile(rf"\b(?:meeting|webinar)\s?id\s{{0,3}}[:：#]\s{{0,3}}{_NUMBER}", re.IGNORECASE),
    re.compile(rf"\bmeeting\s?number(?:\s?\(access code\))?\s{{0,3}}[:：]\s{{0,3}}{_NUMBER}", re.IGNORECASE),
    re.compile(rf"\baccess\s?code\s{{0,3}}[:：]\s{{0,3}}{_NUMBER}", re.IGNORECASE),
    re.compile(rf"\bmeeting\s?pin\s{{0,3}}[:：]\s{{0,3}}{_NUMBER}", re.IGNORECASE),
)
_PASSCODE = re.compile(
    r"\b(?:meeting\s|participant\s|numeric\s)?(?:passcode|password|pass\scode)\s{0,3}"
    r"(?:\([^)\n]{0,60}\)\s{0,3})?[:：]\s{0,3}([^\s<>\"']{1,64})",
    re.IGNORECASE,
)
_PIN = re.compile(r"\bPIN\s{0,3}[:：]\s{0,3}(\d(?:[\d ]{0,30}\d)?)\s?#", re.IGNORECASE)
_ONE_TAP_PASSCODE = re.compile(r",,\d+#,{1,6}\*(\d+)#")
# "%20": Outlook writes tel: links with encoded spaces (tel:+1%20323-849-4874,,123456789#).
_PHONE = re.compile(r"(?<![\w+])(?:tel:)?\+\d(?:[\d .()\-]|%20){5,22}\d(?:[,;][\d*#,;]{0,80})?", re.IGNORECASE)
_DIAL_SECTION = re.compile(
    r"dial|one tap|tap mobile|by phone|call in|call-in|audio only|toll|conference id|local number|\bpin\b",
    re.IGNORECASE,
)


def _meeting_id_in(text: str) -> str | None:
    for label in _ID_LABELS:
        # "Conference ID" is not a label: Teams and Skype for Business use it for the audio
        # conference, whose code is already in the dial-ins.
        for match in label.finditer(text):
            digits = _digits(match.group(1))
            if len(digits) >= 4:
                return digits
    return None


def _passcode_in(text: str, service: str) -> str | None:
    if service == "GOOGLE_MEET":
        pin = _PIN.search(text)
        return _digits(pin.group(1)) if pin else None
    match = _PASSCODE.search(text)
    if match:
        value = match.group(1).rstrip(".,;)#")
        if value:
            return value
    tap = _ONE_TAP_PASSCODE.search(text)
    return tap.group(1) if tap else None


def _tel(number: str, code: str | None = None) -> str:
    """A dial-in as a ``tel:`` URI: ``+`` and digits, then the access code as given."""
    number = number[4:] if number.lower().startswith("tel:") else number
    number = number.replace("%20", " ")
    head, sep, tail = (number.partition(",") if "," in number else number.partition(";"))
    uri = "tel:+" + _digits(head)
    tail = tail.rstrip(",;")
    if sep == ";" and tail and tail[0].isdigit():
        sep, tail = ",", "," + tail  # "tel:+1-650-555-0134;123456789#" (Google's HTML): the same pause
    if sep and tail:
        uri += sep + tail
    elif code:
        uri += ",," + code + "#"
    return uri


def _dial_ins(text: str) -> list[str]:
    """Phone numbers to dial in: those carrying an access code, and those in (or on) a line of
    a dial-in block ("Dial by your location", "Join by phone", "Or call in (audio only)")."""
    found: dict[str, str] = {}
    in_section = False
    for line in text.splitlines():
        if len(found) >= _MAX_DIAL_INS:
            break
        numbers = list(_PHONE.finditer(line))
        if _DIAL_SECTION.search(line):
            in_section = True
        elif not numbers and line.strip():
            in_section = False
        pin = _PIN.search(line)
        for match in numbers:
            raw = match.group(0)
            if not (in_section or "," in raw or ";" in raw):
                continue
            uri = _tel(raw, _digits(pin.group(1)) if pin else None)
            found.setdefault(_dial_key(uri), uri)
    # Zoom and Teams list each number twice, with the access code (one tap) and without; the
    # bare one adds nothing.
    with_code = {uri.split(",")[0].split(";")[0] for uri in found.values() if "," in uri or ";" in uri}
    return [uri for uri in found.values() if "," in uri or ";" in uri or uri not in with_code]


def _dial_key(uri: str) -> str:
    return re.sub(r"[^\d,;*#+]", "", uri.lower())


# --- detection ------------------------------------------------------------------------------


def _normalised_service(name: str | None) -> str | None:
    if name is None or not name.strip():
        return None
    key = name.strip().upper().replace("-", "_").replace(" ", "_").replace(".", "_")
    return key if key in SERVICE_NAMES else name.strip()


def _from_text(text: str | None, source: ConferenceSource) -> DetectedConference | None:
    if not text or not text.strip():
        return None
    text = plain_text(text)
    links = find_join_links(text)
    if not links:
        return None
    link = links[0]
    return DetectedConference(
        service=link.service,
        join_url=link.url,
        meeting_id=link.meeting_id or (_meeting_id_in(text) if link.service != "GOOGLE_MEET" else None),
        passcode=_passcode_in(text, link.service) or link.passcode,
        dial_ins=tuple(_dial_ins(text)),
        source=source,
    )


def _from_field(conference: ConferenceData | None) -> DetectedConference | None:
    if conference is None:
        return None
    join_url = conference.join_url.strip() if conference.join_url and conference.join_url.strip() else None
    declared = _normalised_service(conference.service)
    if join_url is None and not conference.dial_ins and declared is None:
        return None
    link = identify_join_link(join_url) if join_url else None
    if join_url is not None:
        join_url = unwrap_url(join_url)
    service = (
        (link.service if link else None)
        or (service_for_url(join_url) if join_url else None)
        or declared
        or (CUSTOM if join_url else PHONE)
    )
    return DetectedConference(
        service=service,
        join_url=join_url,
        meeting_id=conference.meeting_id or (link.meeting_id if link else None),
        passcode=conference.passcode or (link.passcode if link else None),
        dial_ins=tuple(conference.dial_ins),
        source="conference",
    )


def _path_key(url: str | None) -> str | None:
    if not url:
        return None
    parts = _parts(url)
    return None if parts is None else parts.path.rstrip("/").lower() or None


def _same_meeting(a: DetectedConference, b: DetectedConference) -> bool:
    if a.service != b.service:
        return False
    if a.meeting_id and b.meeting_id:
        return _digits(a.meeting_id) == _digits(b.meeting_id) if a.meeting_id.isdigit() else a.meeting_id == b.meeting_id
    key = _path_key(a.join_url)
    return key is not None and key == _path_key(b.join_url)


def _merged(winner: DetectedConference, other: DetectedConference) -> DetectedConference:
    """``winner`` completed by ``other``'s details, when both are the same meeting."""
    if not _same_meeting(winner, other):
        return winner
    seen = {_dial_key(d) for d in winner.dial_ins}
    extra = tuple(d for d in other.dial_ins if _dial_key(d) not in seen)
    return replace(
        winner,
        meeting_id=winner.meeting_id or other.meeting_id,
        passcode=winner.passcode or other.passcode,
        dial_ins=winner.dial_ins + extra,
    )


def detect_conference(
    *,
    conference: ConferenceData | None = None,
    location: str | None = None,
    description: str | None = None,
    account_email: str | None = None,
) -> DetectedConference:
    """The conference an event uses, from its conference field, location and description (see
    the module docstring for the precedence); ``service == "none"`` when there is none.

    ``account_email``: the Google account whose calendar holds the event; a Meet join URL then
    opens with that account.
    """
    field = _from_field(conference)
    result = _from_text(description, "description") or _from_text(location, "location") or field
    if result is None:
        return _NOTHING
    if field is not None and result is not field:
        result = _merged(result, field)
    if result.service == "GOOGLE_MEET" and result.join_url and account_email and account_email.strip():
        result = replace(result, join_url=with_google_account(result.join_url, account_email))
    return result
