"""Meeting passcodes: the character rule, a user's ``meeting_password_requirement``, generation.

Every passcode may hold only ``[a-zA-Z0-9@-_*]`` and at most 10 characters (protocols.md §3.2).
On top of that a user's requirement (§3.3) may ask for:

* ``length`` — at least that many characters;
* ``have_letter``, ``have_number``, ``have_special_character`` (one of ``@ - _ *``),
  ``have_upper_and_lower_characters``;
* ``only_allow_numeric`` — digits only (the letter, special-character and case rules are then
  not checked: they cannot hold together);
* ``consecutive_characters_length`` — 0, or 4-8: n means at most n-1 consecutive characters,
  where "consecutive" is the same character repeated (``1111``) or a run going up or down by
  one (``1234``, ``dcba``);
* ``weak_enhance_detection`` — refuses easily guessed passcodes: a single repeated character,
  one straight run (``123456``), or a well-known one (``password``, ``qwerty`` …).

:func:`problems` lists what a passcode breaks (empty: it is fine); :func:`generate` makes one
that passes, the way mod_zoom does it (protocols.md §3.3): ``max(length, 6)`` characters
(at most 10), digits, plus an upper- and a lower-case letter and a special character where
those are required.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from typing import Any

__all__ = ["CHARACTERS_RULE", "REQUIREMENT_DEFAULTS", "generate", "normalize_requirement", "numeric_twin", "problems"]

SPECIAL = "@-_*"
_ALLOWED = re.compile(r"[A-Za-z0-9@\-_*]{1,10}")
CHARACTERS_RULE = (
    "Passcode may only contain the following characters: [a-z A-Z 0-9 @ - _ *] and can have a maximum of 10 characters."
)

#: A requirement with nothing switched on (what the settings show for a user without one).
REQUIREMENT_DEFAULTS: dict[str, Any] = {
    "length": 0,
    "have_letter": False,
    "have_number": False,
    "have_special_character": False,
    "only_allow_numeric": False,
    "have_upper_and_lower_characters": False,
    "consecutive_characters_length": 0,
    "weak_enhance_detection": False,
}

_WEAK = {
    "password", "passw0rd", "qwerty", "qwertyui", "asdfgh", "zxcvbn", "abc123", "123abc", "zoom", "zoom123",
    "letmein", "welcome", "admin", "iloveyou", "monkey", "dragon", "123123", "112233", "121212", "654321",
}


def normalize_requirement(requirement: Mapping[str, Any] | None) -> dict[str, Any]:
    """A full requirement object from a partial one; ValueError for unknown keys or bad values."""
    result = dict(REQUIREMENT_DEFAULTS)
    if requirement is None:
        return result
    for key, value in requirement.items():
        if key not in REQUIREMENT_DEFAULTS:
            raise ValueError(f"unknown meeting_password_requirement field {key!r}")
        if key in ("length", "consecutive_characters_length"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{key} must be an integer")
        elif not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false")
        result[key] = value
    if not 0 <= result["length"] <= 10:
        raise ValueError("length must be between 0 and 10")
    if result["consecutive_characters_length"] != 0 and not 4 <= result["consecutive_characters_length"] <= 8:
        raise ValueError("consecutive_characters_length must be 0 or between 4 and 8")
    return result


def problems(passcode: str, requirement: Mapping[str, Any]) -> list[str]:
    """What ``passcode`` breaks, in Zoom's order of checks (empty: it is acceptable)."""
    if not _ALLOWED.fullmatch(passcode):
        return [CHARACTERS_RULE]
    found: list[str] = []
    length = int(requirement.get("length") or 0)
    if len(passcode) < length:
        found.append(f"Passcode must be at least {length} characters long.")
    if requirement.get("only_allow_numeric"):
        if not passcode.isdigit():
            found.append("Passcode can only contain numbers.")
    else:
        if requirement.get("have_letter") and not any(c.isalpha() for c in passcode):
            found.append("Passcode must contain at least 1 letter (a, b, c...).")
        if requirement.get("have_upper_and_lower_characters") and not (
            any(c.isupper() for c in passcode) and any(c.islower() for c in passcode)
        ):
            found.append("Passcode must include both lower and upper case characters.")
        if requirement.get("have_special_character") and not any(c in SPECIAL for c in passcode):
            found.append("Passcode must contain at least 1 special character (@, -, _, *).")
    if requirement.get("have_number") and not any(c.isdigit() for c in passcode):
        found.append("Passcode must contain at least 1 number (1, 2, 3...).")
    limit = int(requirement.get("consecutive_characters_length") or 0)
    if limit and _longest_run(passcode) >= limit:
        found.append(f"Passcode cannot contain {limit} or more consecutive characters (e.g. 1111, 1234, abcd).")
    if requirement.get("weak_enhance_detection") and _weak(passcode):
        found.append("Passcode is too weak: it is easy to guess.")
    return found


def generate(requirement: Mapping[str, Any]) -> str:
    """A random passcode that meets ``requirement`` (mod_zoom's recipe, shuffled)."""
    length = min(max(int(requirement.get("length") or 0), 6), 10)
    for _ in range(1000):
        chars: list[str] = []
        if not requirement.get("only_allow_numeric"):
            if requirement.get("have_letter") or requirement.get("have_upper_and_lower_characters"):
                chars += [secrets.choice(string.ascii_uppercase), secrets.choice(string.ascii_lowercase)]
            if requirement.get("have_special_character"):
                chars.append(secrets.choice(SPECIAL))
        while len(chars) < length:
            chars.append(secrets.choice(string.digits))
        shuffled = [chars.pop(secrets.randbelow(len(chars))) for _ in range(len(chars))]
        candidate = "".join(shuffled)
        if not problems(candidate, requirement):
            return candidate
    raise ValueError("no passcode can meet this requirement")  # pragma: no cover - contradictory requirements only


def numeric_twin(passcode: str) -> str:
    """The digits-only passcode for phone and H.323/SIP dial-in (the passcode itself if numeric)."""
    if passcode.isdigit():
        return passcode
    return "".join(secrets.choice(string.digits) for _ in range(max(6, len(passcode))))


def _longest_run(text: str) -> int:
    """The longest stretch of repeated characters or of characters going up or down by one."""
    if not text:
        return 0
    best = same = up = down = 1
    for before, after in zip(text, text[1:]):
        step = ord(after) - ord(before)
        same = same + 1 if step == 0 else 1
        up = up + 1 if step == 1 and before.isalnum() and after.isalnum() else 1
        down = down + 1 if step == -1 and before.isalnum() and after.isalnum() else 1
        best = max(best, same, up, down)
    return best


def _weak(passcode: str) -> bool:
    lowered = passcode.lower()
    return lowered in _WEAK or len(set(lowered)) == 1 or _longest_run(lowered) == len(lowered)
