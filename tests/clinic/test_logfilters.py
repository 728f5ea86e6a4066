"""Feed secrets are cut out of log lines (clinic.logfilters)."""

import logging

from clinic.logfilters import HideFeedSecrets, hide_feed_secret

SECRET = "NHHztIlvXEnFmQwBviiRoHDzkSEJngfEvKbtbDFPZa4"


def test_the_secret_in_a_feed_path_is_cut():
    assert hide_feed_secret(f"Not Found: /book/calendar/{SECRET}.ics") == "Not Found: /book/calendar/….ics"
    # Other addresses are left as they are.
    assert hide_feed_secret("Not Found: /book/swedish/times/") == "Not Found: /book/swedish/times/"


def test_the_filter_rewrites_message_and_arguments_and_keeps_the_record():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "%s: %s",
        ("Not Found", f"/book/calendar/{SECRET}.ics"),
        None,
    )
    assert HideFeedSecrets().filter(record) is True
    assert SECRET not in record.getMessage() and record.getMessage() == "Not Found: /book/calendar/….ics"
