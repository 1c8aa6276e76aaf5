"""Time zone names and VTIMEZONE definitions into ``tzinfo`` objects (RFC 5545 §3.2.19, §3.6.5).

:func:`resolve_time_zone` is the public resolver (also used for ``--tz`` arguments). It accepts,
case-insensitively:

* IANA names (``Europe/Berlin``, also the ``US/Eastern`` style links tzdata keeps);
* Windows zone ids (``W. Europe Standard Time``) through CLDR's windowsZones mapping, shipped as
  ``data/windows_zones.json`` (territory 001; the file names its CLDR commit);
* "globally unique" TZIDs (RFC 5545 §3.2.19) that end in an IANA name, as libical, Evolution and
  Mozilla write them (``/mozilla.org/20050126_1/Europe/Berlin``);
* plain UTC offsets as Outlook and others write them (``GMT+01.00``, ``UTC-5``, ``UTC+05:30``):
  whole hours become the IANA ``Etc/GMT∓N`` zone, anything else a fixed-offset ``timezone``.
  Names that carry two offsets (``GMT-05.00/-04.00``) are *not* accepted: a fixed offset would be
  wrong half of the year.

IANA zones come back as :class:`zoneinfo.ZoneInfo`, so ``value.tzinfo.key`` is the portable name
the writer uses.

:class:`CalendarZones` resolves the TZIDs of one calendar. A TZID that has a VTIMEZONE in the
calendar is looked up by name (rules above) and, when the name is unknown, built from the
VTIMEZONE's STANDARD/DAYLIGHT rules (with dateutil's RFC 5545 reader). Outlook's VTIMEZONEs start
their rules in 1601, meaning "since always"; those onsets are moved to 1970 so that every
lookup does not walk four centuries of rule instances. A TZID *without* a VTIMEZONE is also tried
leniently — ``Europe_Berlin``, ``US-Eastern``, ``posix/Europe/Vaduz`` — since nothing else says
what it means. Definitions are per calendar: nothing is cached across calls.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta, timezone, tzinfo
from functools import cache
from importlib.resources import files
from io import StringIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.tz import tzical

from calmesh.errors import InvalidTimeZone
from calmesh.ical._components import RawComponent
from calmesh.ical._values import unescape_text

__all__ = ["CalendarZones", "lookup_time_zone", "resolve_time_zone"]

#: "GMT+01.00", "UTC-5", "UTC+05:30", "(GMT+01:00)": one offset, nothing else.
_OFFSET_NAME = re.compile(
    r"^\(?\s*(?:GMT|UTC|UT)\s*(?P<sign>[+-])\s*(?P<hours>\d{1,2})"
    r"(?:[:.]?(?P<minutes>\d{2}))?\s*\)?$",
    re.IGNORECASE,
)
_UNTIL_UTC = re.compile(r"(UNTIL=[0-9T]+)Z", re.IGNORECASE)
_UTC_NAMES = frozenset({"Z", "UTC", "GMT", "UT", "ETC/UTC", "ETC/GMT"})
#: Outlook's "since always" onset, and the year it is moved to (see module docstring).
_OUTLOOK_EPOCH = "1601"
_CLAMPED_EPOCH = "1970"


@cache
def _windows_by_lower_name() -> dict[str, str]:
    """CLDR's Windows zone id (lower-cased) -> IANA name, from the package's windows_zones.json."""
    raw = files("calmesh.ical").joinpath("data/windows_zones.json").read_text("utf-8")
    zones: dict[str, str] = json.loads(raw)["zones"]
    return {name.lower(): zone for name, zone in zones.items()}


@cache
def _iana_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def _iana(name: str) -> ZoneInfo | None:
    key = _iana_by_lower_name().get(name.lower())
    if key is None:
        return None
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _fixed_offset(name: str) -> tzinfo | None:
    match = _OFFSET_NAME.match(name)
    if match is None:
        return None
    hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
    if hours > 14 or minutes >= 60:
        return None
    sign = -1 if match["sign"] == "-" else 1
    if minutes == 0:
        # IANA's Etc/GMT zones have POSIX-inverted signs: Etc/GMT-1 is one hour *ahead* of UTC.
        return (
            ZoneInfo("UTC") if hours == 0 else ZoneInfo(f"Etc/GMT{'-' if sign > 0 else '+'}{hours}")
        )
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _suffixes(name: str) -> list[str]:
    """``/a/b/Europe/Berlin`` -> ``a/b/Europe/Berlin``, ``b/Europe/Berlin``, …: longest first."""
    parts = [part for part in name.split("/") if part]
    return ["/".join(parts[start:]) for start in range(len(parts))]


def lookup_time_zone(name: str, *, lenient: bool = False) -> tzinfo | None:
    """Resolve ``name`` by the module's rules, or None; ``lenient`` adds the no-VTIMEZONE guesses."""
    name = name.strip().strip('"').strip()
    if not name:
        return None
    if name.upper() in _UTC_NAMES:
        return ZoneInfo("UTC")
    found: tzinfo | None = _iana(name)
    if found is None:
        windows = _windows_by_lower_name().get(name.lower())
        found = ZoneInfo(windows) if windows else _fixed_offset(name)
    if found is None and (name.startswith("/") or lenient):
        found = next((z for z in map(_iana, _suffixes(name)) if z is not None), None)
    if found is None and lenient:
        # "Europe_Berlin", "US-Eastern": a separator written in place of the first slash.
        for separator in ("_", "-"):
            head, _, tail = name.partition(separator)
            if tail and (found := _iana(f"{head}/{tail}")) is not None:
                break
    return found


def resolve_time_zone(name: str) -> tzinfo:
    """The zone ``name`` stands for (see the module docstring); raises InvalidTimeZone if none."""
    found = lookup_time_zone(name)
    if found is None:
        raise InvalidTimeZone(
            f"Unknown time zone {name.strip()!r}: use an IANA name such as 'Europe/Berlin' "
            "or a Windows name such as 'W. Europe Standard Time'."
        )
    return found


class CalendarZones:
    """The TZIDs of one calendar, resolved once each."""

    def __init__(self, vtimezones: list[RawComponent]) -> None:
        self._definitions: dict[str, RawComponent] = {}
        for component in vtimezones:
            tzid = component.first("TZID")
            if tzid is not None:
                # The first definition wins: later duplicates are usually copies.
                self._definitions.setdefault(unescape_text(tzid.value).strip(), component)
        self._resolved: dict[str, tzinfo | None] = {}
        #: Why a TZID could not be resolved, for the caller to report once.
        self.failures: dict[str, str] = {}

    def resolve(self, tzid: str) -> tzinfo | None:
        """The zone for ``tzid``, or None if it cannot be resolved (see :attr:`failures`)."""
        tzid = tzid.strip()
        if tzid not in self._resolved:
            self._resolved[tzid] = self._resolve(tzid)
        return self._resolved[tzid]

    def _resolve(self, tzid: str) -> tzinfo | None:
        definition = self._definitions.get(tzid)
        if definition is None:
            found = lookup_time_zone(tzid, lenient=True)
            if found is None:
                self.failures[tzid] = f"TZID {tzid!r} is not a known time zone and has no VTIMEZONE"
            return found
        found = lookup_time_zone(tzid)
        if found is not None:
            return found
        try:
            return _from_definition(tzid, definition)
        except (ValueError, TypeError, IndexError, OverflowError) as exc:
            self.failures[tzid] = f"VTIMEZONE {tzid!r} cannot be used ({exc})"
            return None


def _from_definition(tzid: str, definition: RawComponent) -> tzinfo:
    """Build a zone from a VTIMEZONE, keeping only what RFC 5545 §3.6.5 rules need."""
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tzid}"]
    for rule in definition.children:
        if rule.name not in ("STANDARD", "DAYLIGHT"):
            continue
        lines.append(f"BEGIN:{rule.name}")
        offset_to = rule.first("TZOFFSETTO")
        offset_from = rule.first("TZOFFSETFROM") or offset_to
        for prop in rule.properties:
            value = prop.value.strip()
            if prop.name == "DTSTART":
                lines.append(f"DTSTART:{_rule_start(value)}")
            elif prop.name == "RRULE":
                # dateutil wants a naive UNTIL with a naive DTSTART; the hours lost do not matter
                # for a rule that ended in the past.
                lines.append("RRULE:" + _UNTIL_UTC.sub(r"\1", value))
            elif prop.name == "RDATE" and "/" not in value:
                lines.append(f"RDATE:{','.join(_rule_start(v) for v in value.split(','))}")
            elif prop.name == "TZNAME":
                lines.append(f"TZNAME:{value}")
        if offset_from is None or offset_to is None:
            raise ValueError(f"{rule.name} has no TZOFFSETTO")
        lines.append(f"TZOFFSETFROM:{offset_from.value.strip().replace(':', '')}")
        lines.append(f"TZOFFSETTO:{offset_to.value.strip().replace(':', '')}")
        lines.append(f"END:{rule.name}")
    lines.append("END:VTIMEZONE")
    zone = tzical(StringIO("\n".join(lines))).get()
    if zone is None:
        raise ValueError("it defines no zone")
    return zone


def _rule_start(value: str) -> str:
    value = value.strip().rstrip("Zz")
    if len(value) == 8:
        value += "T000000"
    if value.startswith(_OUTLOOK_EPOCH):
        value = _CLAMPED_EPOCH + value[4:]
    return value
