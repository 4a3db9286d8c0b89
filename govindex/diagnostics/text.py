"""Text helpers every message shares: the did-you-mean hint and the width of text on a terminal."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable


def did_you_mean(word: str, options: Iterable[str], n: int = 3) -> str:
    """A hint naming the (at most ``n``) options closest to ``word``: ``did you mean `a` or `b`?``,
    or "" when none is close (difflib's ratio below 0.6)."""
    close = difflib.get_close_matches(word, list(options), n=n, cutoff=0.6)
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?" if close else ""


def display_width(text: str) -> int:
    """The cells ``text`` takes on a terminal: wide and full-width characters (CJK, full-width
    forms, most emoji) take two, combining marks none, everything else one."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
               for ch in text)
