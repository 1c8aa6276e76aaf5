"""The value types of RFC 5545 §3.3 that events use, read from and written to text.

Readers here are lexical only: a DATE-TIME comes back naive plus a flag saying whether it had the
UTC ``Z``; what zone it is in is decided by :mod:`calmesh.ical._times`. They accept a few
harmless deviations seen in the wild — ISO dashes and colons in dates, lower-case ``t``/``z``,
a leap second (read as :59), a DURATION with both weeks and days — and raise ``ValueError`` for
anything else.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

__all__ = [
    "escape_text",
    "format_date",
    "format_datetime",
    "parse_date_or_datetime",
    "parse_duration",
    "parse_integer",
    "unescape_text",
]

_DATE_TIME = re.compile(
    r"^(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})?(?:\.\d+)?(?P<z>Z)?)?$",
    re.IGNORECASE,
)
# RFC 5545 §3.3.6; weeks and days together are not allowed by the grammar but are written.
_DURATION = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$",
    re.IGNORECASE,
)
_TEXT_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPED = {"n": "\n", "N": "\n"}


def parse_date_or_datetime(text: str) -> tuple[date | datetime, bool]:
    """A DATE or DATE-TIME (RFC 5545 §3.3.4, §3.3.5) and whether it was in UTC."""
    cleaned = text.strip().replace("-", "").replace(":", "")
    match = _DATE_TIME.match(cleaned)
    if match is None:
        raise ValueError(f"{text.strip()[:40]!r} is not a DATE or DATE-TIME")
    day = date(int(match["y"]), int(match["mo"]), int(match["d"]))
    if match["h"] is None:
        return day, False
    second = min(int(match["s"] or 0), 59)
    moment = datetime(day.year, day.month, day.day, int(match["h"]), int(match["mi"]), second)
    return moment, match["z"] is not None


def parse_duration(text: str) -> timedelta:
    """A DURATION (RFC 5545 §3.3.6)."""
    match = _DURATION.match(text.strip())
    if match is None or not any(match[part] for part in ("w", "d", "h", "m", "s")):
        raise ValueError(f"{text.strip()[:40]!r} is not a DURATION")
    amount = timedelta(
        weeks=int(match["w"] or 0),
        days=int(match["d"] or 0),
        hours=int(match["h"] or 0),
        minutes=int(match["m"] or 0),
        seconds=int(match["s"] or 0),
    )
    return -amount if match["sign"] == "-" else amount


def parse_integer(text: str) -> int:
    """An INTEGER (RFC 5545 §3.3.8)."""
    return int(text.strip())


def unescape_text(raw: str) -> str:
    """A TEXT value (RFC 5545 §3.3.11) without its backslash escapes."""
    return _TEXT_ESCAPE.sub(lambda m: _UNESCAPED.get(m[1], m[1]), raw)


def escape_text(text: str) -> str:
    """A string as a TEXT value (RFC 5545 §3.3.11)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for char in ("\\", ";", ","):
        text = text.replace(char, "\\" + char)
    return text.replace("\n", "\\n")


def format_date(value: date) -> str:
    """A DATE (RFC 5545 §3.3.4)."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def format_datetime(value: datetime, *, utc: bool) -> str:
    """A DATE-TIME's wall-clock digits (RFC 5545 §3.3.5), with ``Z`` when ``utc``."""
    digits = f"{format_date(value)}T{value.hour:02d}{value.minute:02d}{value.second:02d}"
    return digits + "Z" if utc else digits
