"""Small text helpers shared by the apps."""

from __future__ import annotations

import unicodedata

# Bidirectional overrides and isolates can make a name display as different text (in an
# email client or the admin) from what it is; they have no place in a person's name.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def single_line(value: str) -> str:
    """``value`` as one line of plain text: control characters (CR, LF, tab, NUL and the
    rest), line and paragraph separators and bidirectional overrides become spaces, and
    runs of spaces become one.

    For names and other short fields that end up in email headers, greetings and logs,
    where a line break or NUL could start a new header or break the message.
    """
    cleaned = "".join(
        " " if char in _BIDI_CONTROLS or unicodedata.category(char) in {"Cc", "Zl", "Zp"} else char
        for char in value
    )
    return " ".join(cleaned.split())
