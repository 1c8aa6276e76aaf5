"""Our identifiers: a short type prefix and a time-ordered random part, e.g. ``usr_01jd…``.

Time-ordered so that sorting by id is sorting by creation (the API paginates by id), random
enough (80 bits per millisecond) that nobody can guess a neighbour's id.
"""

from __future__ import annotations

import os
import time

__all__ = ["new_id"]

# Crockford's base32: no I, L, O, U, so ids survive being read aloud or retyped.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _base32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A new id such as ``evt_01jd2x…``: 48 bits of milliseconds then 80 random bits."""
    millis = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_base32(millis, 10)}{_base32(random_bits, 16)}"
