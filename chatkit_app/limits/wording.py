"""Plain words for limit errors: what the limit is and when to try again.

A visitor who hits a limit should learn from the message alone what happened and what to
do ("You can send 20 messages a minute; try again in 12 s."), not a code or a header.
"""

from __future__ import annotations

import math


def wait(seconds: float) -> str:
    """A short, rounded-up duration: "12 s", "5 min", "3 h"."""
    whole = max(1, math.ceil(seconds))
    if whole < 90:
        return f"{whole} s"
    if whole < 90 * 60:
        return f"{math.ceil(whole / 60)} min"
    return f"{math.ceil(whole / 3600)} h"


def size(nbytes: int) -> str:
    """Bytes in the unit a person reads ("200 MB", "512 KB", "12 bytes"); 1 MB = 2**20."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if nbytes >= scale:
            value = nbytes / scale
            return f"{value:.0f} {unit}" if value >= 10 or value.is_integer() else f"{value:.1f} {unit}"
    return f"{nbytes} bytes"


def count(n: int, noun: str = "") -> str:
    """`n` with thousands separators, and `noun` in the singular or plural ("1 chat",
    "20 chats", "1 file waiting" from noun "file{s} waiting")."""
    if not noun:
        return f"{n:,}"
    if "{s}" not in noun:
        noun += "{s}"
    return f"{n:,} " + noun.replace("{s}", "" if n == 1 else "s")
