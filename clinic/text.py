"""Small text helpers shared by the apps."""

from __future__ import annotations

import unicodedata

# Bidirectional overrides and isolates can make a name display as different text (in an
# email client or the admin) from what it is; they have no place in a person's name.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Invisible format characters (zero-width space, word joiner, byte-order mark, soft
# hyphen, the left-to-right and right-to-left marks) can make a name that shows as nothing.
# Zero-width (non-)joiners stay: some scripts need them inside words.
_INVISIBLE = frozenset("\u200b\u2060\ufeff\u00ad\u200e\u200f\u061c")


def single_line(value: str) -> str:
    """``value`` as one line of plain text: control characters (CR, LF, tab, NUL and the
    rest), line and paragraph separators and bidirectional overrides become spaces,
    invisible format characters go, and runs of spaces become one.

    For names and other short fields that end up in email headers, greetings and logs,
    where a line break or NUL could start a new header or break the message.
    """
    cleaned = "".join(
        " " if char in _BIDI_CONTROLS or unicodedata.category(char) in {"Cc", "Zl", "Zp"} else char
        for char in value
        if char not in _INVISIBLE
    )
    return " ".join(cleaned.split())


def has_visible_text(value: str) -> bool:
    """True when ``value`` holds at least one letter or digit a person could read."""
    return any(unicodedata.category(char)[0] in {"L", "N"} for char in value)
