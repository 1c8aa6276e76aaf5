"""From the bytes of an iCalendar stream to unfolded content lines (RFC 5545 §3.1).

Real-world streams are not the clean CRLF, UTF-8 text RFC 5545 §3.1 and §3.1.4 ask for, so
:func:`read_content_lines` is lenient where a reader can be lenient without guessing:

* a UTF-8 byte order mark is dropped; a UTF-16 one is honoured (some Windows exporters write it);
* text is decoded as **UTF-8, strictly**; if that fails it is decoded as **Windows-1252** (the
  legacy Outlook/Exchange encoding, a superset of Latin-1's printable range), bytes Windows-1252
  leaves undefined falling back to Latin-1, and a non-fatal problem is recorded;
* CRLF, LF-only, CR-only and mixed line ends are all accepted;
* folded lines (a line break followed by a space or a tab) are unfolded, and every logical line
  remembers the physical line it started on, so problems can point at it.

Streams that are plainly not iCalendar text (NUL bytes, nothing but white space) are refused with
:class:`~calmesh.errors.InvalidCalendarData`.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from calmesh.errors import InvalidCalendarData

__all__ = ["ContentLine", "DecodedText", "decode", "read_content_lines"]

#: Any line end a real producer writes: CRLF, LF alone, or CR alone (classic Mac OS exports).
_LINE_BREAK = re.compile(r"\r\n|\n|\r")


@dataclass(frozen=True, slots=True)
class DecodedText:
    """The text of a stream and how it had to be decoded."""

    text: str
    #: The codec that was used when strict UTF-8 failed, else None.
    fallback_encoding: str | None = None


@dataclass(frozen=True, slots=True)
class ContentLine:
    """One unfolded content line and the 1-based physical line it starts on."""

    number: int
    text: str


def decode(data: bytes | str) -> DecodedText:
    """Decode ``data`` as the module docstring describes; a ``str`` is taken as already decoded."""
    if isinstance(data, str):
        return DecodedText(data.removeprefix("\ufeff"))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return DecodedText(data.decode("utf-16"))
        except UnicodeDecodeError as exc:
            raise InvalidCalendarData(
                "The data starts with a UTF-16 byte order mark but is not valid UTF-16."
            ) from exc
    if b"\x00" in data:
        raise InvalidCalendarData("The data is binary (it contains NUL bytes), not iCalendar text.")
    try:
        return DecodedText(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        pass
    try:
        return DecodedText(data.decode("cp1252"), "cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; Latin-1 maps every byte, so this cannot fail.
        return DecodedText(data.decode("latin-1"), "latin-1")


def read_content_lines(text: str) -> list[ContentLine]:
    """Split ``text`` into unfolded logical lines, dropping empty ones."""
    lines: list[ContentLine] = []
    parts: list[str] = []
    start = 0
    for number, physical in enumerate(_LINE_BREAK.split(text), start=1):
        if physical[:1] in (" ", "\t") and parts:
            # RFC 5545 §3.1: the break and exactly one white-space character are removed.
            parts.append(physical[1:])
            continue
        if parts:
            lines.append(ContentLine(start, "".join(parts)))
        parts = [physical] if physical.strip() else []
        start = number
    if parts:
        lines.append(ContentLine(start, "".join(parts)))
    return lines
