"""One-time meeting passcodes that a Zoom account's passcode rules accept (PRODUCT.md M3).

Public API: :func:`generate_passcode` ``(requirement: Mapping[str, Any] | None) -> str``.

``requirement`` is Zoom's ``meeting_password_requirement`` (protocols.md §3.3) as the user's
settings answer it; missing fields, and ``None``, mean the rule is off. Every passcode follows
Zoom's character rule (§3.2: at most 10 of ``[a-zA-Z0-9@-_*]``) and the recipe mod_zoom uses:
``max(length, 6)`` characters (at most 10), digits, plus one upper- and one lower-case letter
when letters are asked for and one of ``@-_*`` when a special character is; digits only when
``only_allow_numeric``. Digits keep the passcode easy to type from a phone.

Two rules are applied whatever the account says, as they only ever make a passcode harder to
guess: no run of 4 consecutive characters (the same character repeated, or
going up or down by one: ``1111``, ``1234``, ``dcba``) — which meets the strictest
``consecutive_characters_length`` Zoom allows (4) — and nothing ``weak_enhance_detection``
refuses (a repeated pattern such as ``121212``, fewer than 4 different characters).
Randomness comes from :mod:`secrets`.

Pure: no I/O.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import Any

__all__ = ["generate_passcode"]

#: Zoom's limits for any passcode (protocols.md §3.2).
MAX_LENGTH = 10
SPECIAL_CHARACTERS = "@-_*"
#: mod_zoom's shortest passcode, used when the account asks for less.
_MIN_LENGTH = 6
#: The longest run of consecutive characters allowed: Zoom's strictest rule (4) allows 3.
_MAX_RUN = 3
_MIN_DISTINCT = 4
#: Candidates are drawn until one passes the run and pattern rules; a random one of 6 or more
#: characters fails them a few percent of the time, so this bound is never reached in practice.
_ATTEMPTS = 1000

_random = secrets.SystemRandom()


def generate_passcode(requirement: Mapping[str, Any] | None) -> str:
    """A random passcode meeting ``requirement`` (Zoom's ``meeting_password_requirement``)."""
    rules = requirement or {}
    length = min(max(_number(rules.get("length")), _MIN_LENGTH), MAX_LENGTH)
    numeric = rules.get("only_allow_numeric") is True
    wants_letters = rules.get("have_letter") is True or rules.get("have_upper_and_lower_characters") is True
    wants_special = rules.get("have_special_character") is True
    for _ in range(_ATTEMPTS):
        characters: list[str] = []
        if not numeric:
            if wants_letters:
                characters += [secrets.choice(string.ascii_uppercase), secrets.choice(string.ascii_lowercase)]
            if wants_special:
                characters.append(secrets.choice(SPECIAL_CHARACTERS))
        characters += [secrets.choice(string.digits) for _ in range(length - len(characters))]
        _random.shuffle(characters)
        candidate = "".join(characters)
        if _hard_to_guess(candidate):
            return candidate
    raise AssertionError("no passcode passed the run and pattern rules")  # pragma: no cover


def _number(value: object) -> int:
    """An integer field of the requirement; anything else (absent, null, garbage) is 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def _hard_to_guess(passcode: str) -> bool:
    # Case-folded too: weak-passcode checks may ignore case ("aB" reads as the run "ab").
    return (
        max(_longest_run(passcode), _longest_run(passcode.lower())) <= _MAX_RUN
        and len(set(passcode.lower())) >= _MIN_DISTINCT
        and not _is_repeated_pattern(passcode.lower())
    )


def _longest_run(text: str) -> int:
    """The longest stretch of characters each equal to, one above or one below the one before.

    Stricter than Zoom's wording (``1111``, ``1234``): any step of one counts, letters, digits
    and special characters alike, so whatever Zoom counts as consecutive is counted here.
    """
    longest = same = up = down = 1
    for before, after in zip(text, text[1:]):
        step = ord(after) - ord(before)
        same = same + 1 if step == 0 else 1
        up = up + 1 if step == 1 else 1
        down = down + 1 if step == -1 else 1
        longest = max(longest, same, up, down)
    return longest


def _is_repeated_pattern(text: str) -> bool:
    """``121212``, ``123123``: the whole passcode is a shorter block repeated."""
    return any(len(text) % size == 0 and text == text[:size] * (len(text) // size) for size in range(1, len(text) // 2 + 1))
