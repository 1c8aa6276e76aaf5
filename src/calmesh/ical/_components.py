"""Content lines into a tree of components (RFC 5545 §3.4, §3.6), tolerating broken nesting.

Each content line is split into name, parameters and raw value by icalendar's
:class:`~icalendar.parser.content_line.Contentline` (which knows the quoting rules of RFC 5545
§3.1 and RFC 6868); values are left as raw text, because what they mean depends on the calendar
around them (its VTIMEZONEs, its X-WR-TIMEZONE), which is :mod:`calmesh.ical._reader`'s business.

icalendar's own component parser is not used on purpose: it registers every VTIMEZONE it meets
in a process-wide cache keyed by TZID, so one feed's custom "Eastern" zone would leak into the
next feed's, and it reports broken lines without their line numbers.

Nesting errors are repaired, not fatal: an END that closes an outer component closes the inner
ones too, a stray END or a property outside any component is skipped, and components still open
at the end of the stream are closed. Each repair is reported through ``problems``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from icalendar.parser.content_line import Contentline

from calmesh.ical._source import ContentLine

__all__ = ["RawComponent", "RawProperty", "build_tree"]


class RawProperty(NamedTuple):
    """One property with its parameters (names upper-cased) and its raw, still escaped value.

    A named tuple rather than a frozen dataclass: a calendar has hundreds of thousands of these,
    and a tuple is built several times faster.
    """

    name: str
    params: dict[str, str]
    value: str
    line: int


@dataclass(slots=True)
class RawComponent:
    """A BEGIN/END block; mutable only while the tree is being built."""

    name: str
    line: int
    properties: list[RawProperty] = field(default_factory=list)
    children: list[RawComponent] = field(default_factory=list)

    def first(self, name: str) -> RawProperty | None:
        """The first property called ``name``, if any."""
        return next((prop for prop in self.properties if prop.name == name), None)

    def all(self, name: str) -> list[RawProperty]:
        """Every property called ``name``, in stream order."""
        return [prop for prop in self.properties if prop.name == name]


#: Called with (message, line) for every repair.
ReportProblem = Callable[[str, int], None]


#: A line whose name and parameters need no unquoting: the common case, split without icalendar.
_SIMPLE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9-]+)(?P<params>(?:;[A-Za-z0-9-]+=[^\";:^]*)*):")


_NO_PARAMS: dict[str, str] = {}


def _split(line: ContentLine) -> RawProperty:
    text = line.text
    colon = text.find(":")
    if colon > 0 and text.find(";", 0, colon) == -1:
        # The most common line of all, NAME:VALUE, without a regular expression.
        name = text[:colon]
        if name.replace("-", "").isalnum() and name.isascii():
            return RawProperty(name.upper(), _NO_PARAMS, text[colon + 1 :], line.number)
    simple = _SIMPLE_LINE.match(text)
    if simple is not None:
        params = dict(
            (key.upper(), value)
            for key, _, value in (p.partition("=") for p in simple["params"].split(";")[1:])
        )
        return RawProperty(simple["name"].upper(), params, line.text[simple.end() :], line.number)
    # icalendar's Contentline is not annotated; raw_parts() returns (str, Parameters, str).
    name, parsed, value = Contentline(line.text).raw_parts()  # type: ignore[no-untyped-call]
    flat: dict[str, str] = {}
    for key, raw in parsed.items():
        # A parameter given as a list (MEMBER="a","b") is kept as its comma-joined text.
        flat[key.upper()] = ",".join(raw) if isinstance(raw, list) else str(raw)
    return RawProperty(name.upper(), flat, value, line.number)


def build_tree(lines: list[ContentLine], report: ReportProblem) -> list[RawComponent]:
    """Build the top-level components of ``lines``."""
    roots: list[RawComponent] = []
    stack: list[RawComponent] = []
    for line in lines:
        try:
            prop = _split(line)
        except ValueError as exc:
            report(f"Unreadable content line skipped: {_shorten(str(exc))}", line.number)
            continue
        if prop.name == "BEGIN":
            stack.append(RawComponent(prop.value.strip().upper(), line.number))
        elif prop.name == "END":
            _close(prop.value.strip().upper(), line.number, stack, roots, report)
        elif stack:
            stack[-1].properties.append(prop)
        else:
            report(f"Property {prop.name} outside of any component skipped.", line.number)
    while stack:
        component = stack[-1]
        report(f"END:{component.name} missing at the end of the data.", component.line)
        _pop(stack, roots)
    return roots


def _close(
    name: str,
    line: int,
    stack: list[RawComponent],
    roots: list[RawComponent],
    report: ReportProblem,
) -> None:
    depth = next((i for i in range(len(stack) - 1, -1, -1) if stack[i].name == name), None)
    if depth is None:
        report(f"END:{name} without a matching BEGIN skipped.", line)
        return
    while len(stack) > depth + 1:
        report(f"END:{stack[-1].name} missing; closed by END:{name}.", stack[-1].line)
        _pop(stack, roots)
    _pop(stack, roots)


def _pop(stack: list[RawComponent], roots: list[RawComponent]) -> None:
    component = stack.pop()
    (stack[-1].children if stack else roots).append(component)


def _shorten(text: str, limit: int = 120) -> str:
    """One short line: problems are shown in logs and API responses."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
