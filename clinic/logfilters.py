"""Logging filters. Imported by the logging configuration, before the apps load: no models."""

from __future__ import annotations

import logging
import re

# A therapist's calendar feed address (booking:therapist_calendar) is its own password.
FEED_PATH = re.compile(r"(/calendar/)[^/?#\s]+(\.ics)")


def hide_feed_secret(text: str) -> str:
    return FEED_PATH.sub(r"\1…\2", text)


class HideFeedSecrets(logging.Filter):
    """Cut feed secrets out of a log line ("Not Found: /book/calendar/<secret>.ics"), so a
    log that leaks, or a mistyped link's near miss, never gives a feed away."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = hide_feed_secret(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(hide_feed_secret(a) if isinstance(a, str) else a for a in record.args)
        return True
